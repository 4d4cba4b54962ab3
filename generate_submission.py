"""Generate the code appendix of the write-up; see deliverables/appendix.py.

python generate_submission.py --format markdown --heading_level 1 --output appendix.md
python generate_submission.py --format latex --heading_level 2 --output appendix.tex
"""

import sys

from deliverables.appendix import main

if __name__ == "__main__":
    sys.exit(main())
