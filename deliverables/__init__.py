"""deliverables: what the course asks to hand in, built from the runs: the code appendix
(``appendix``), the write-up (``report``, with its cover page from ``student`` and its written
answers from ``answers``) and the submission archive (``package``); ``handin`` runs them all, and
the runs before them, in order."""
