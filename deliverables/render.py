"""Markdown -> HTML and LaTeX, both by pandoc from one parse of the same text: the report
(``report.py``) and the code appendix (``appendix.py``) call these two functions and nothing
else. pandoc comes inside the ``pypandoc-binary`` wheel (no system install, no internet).

- HTML: math as MathML (no script, no internet), code highlighted by pandoc (colours in the
  page's stylesheet, ``templates/report.html``), images embedded: one self-contained file.
- LaTeX: pandoc's own template, the same sections, figures (beside the .tex) and highlighted
  code; compiles with xelatex or lualatex (on Overleaf: set the compiler to XeLaTeX).

The Markdown is pandoc's, with what the report must not get from it switched off: an image
alone in a paragraph stays an image (no figure caption), ``---`` is no YAML block, ``[@key]`` is
left to ``references.py``, and quotes stay as typed. ``=latex`` raw blocks reach LaTeX only
(``PAGE_BREAK``); ``::: page`` divs start a printed page in HTML.
"""

import html as html_lib
import re
from pathlib import Path

READER = "markdown-implicit_figures-yaml_metadata_block-citations-smart"
TEMPLATES = Path(__file__).with_name("templates")
FRAGMENT_MACROS = (
    "\\providecommand{\\tightlist}{\\setlength{\\itemsep}{0pt}\\setlength{\\parskip}{0pt}}\n"
    "\\providecommand{\\passthrough}[1]{#1}\n"
)
PAGE_BREAK = "```{=latex}\n\\clearpage\n```\n"  # LaTeX's page break; HTML ignores it


def _pandoc(md: str, to: str, *extra: str) -> str:
    import pypandoc  # the report's dependency only: hw3/ runs without it

    return pypandoc.convert_text(md, to, format=READER, extra_args=["--wrap=none", *extra])


def page(md: str) -> str:
    """``md`` on a page of its own, in print and in LaTeX."""
    return f"{PAGE_BREAK}\n::: page\n{md.rstrip()}\n:::\n"


def to_html(md: str, title: str, resources: Path) -> str:
    """A self-contained HTML page: images from ``resources`` embedded, math as MathML."""
    page_html = _pandoc(
        md,
        "html5",
        "--standalone",
        "--mathml",
        "--embed-resources",
        f"--resource-path={resources}",
        f"--template={TEMPLATES / 'report.html'}",
        "--syntax-highlighting=pygments",
        "--metadata",
        f"pagetitle={title}",
    )
    return LINE.sub(_hanging, page_html)


# one line of highlighted code: pandoc's span with its own id, up to the next line or the end
LINE = re.compile(r'<span id="(cb\d+-\d+)">(.*?)</span>(?=\n<span id="cb|</code>)')


def _hanging(m: re.Match) -> str:
    """A code line's span, which in print wraps 4 columns deeper than the line's own indent."""
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", m.group(2)))
    indent = len(text) - len(text.lstrip(" ")) + 4
    return f'<span id="{m.group(1)}" class="ln" style="--i:{indent}ch">{m.group(2)}</span>'


def to_latex(md: str, document: bool = True) -> str:
    """LaTeX from ``md``: a whole document (its one ``#`` heading the title, ``##`` sections),
    or (``document=False``) a fragment for ``\\input``, ``#`` a ``\\section``."""
    if not document:  # code in lstlisting; the two macros of pandoc's template it uses
        return FRAGMENT_MACROS + _pandoc(md, "latex", "--syntax-highlighting=idiomatic")
    return _pandoc(
        md,
        "latex",
        "--standalone",
        "--shift-heading-level-by=-1",
        "-V",
        "geometry:margin=2cm",
        "-V",
        "colorlinks=true",
    )
