"""grading: the homework's grader for teaching staff (``python -m grading``).

A student's code runs only in ``sandbox``'s subprocesses (``child.py``); this process compares
the plain arrays that come back with the reference, numpy_nn. ``pieces`` says what each graded
piece computes and how it is judged, ``grader`` runs them all (points in ``config.yaml``),
``submission`` finds the package (refusing hostile zips), ``starter`` and ``bundle`` write the
students' starter and Gradescope's autograder.zip.
"""
