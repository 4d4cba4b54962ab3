"""deliverables: what the course asks to hand in, built from the runs: the code appendix
(``appendix``), the write-up (``report``) and the submission archive (``package``)."""
