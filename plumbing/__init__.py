"""The ground floor: what every command shares and nothing of ours is beneath. ``errors`` is
the error policy (one line and exit status 2 for a user's mistake), ``files`` the atomic
writes and the checks on an output path, ``paths`` where datasets live, ``settings`` the reader
of YAML settings files, ``handout`` the course's names. It imports nothing of this repository,
so the grader's Gradescope bundle can carry it alone. numpy_nn stands alone (it ships to students
as ``neural_networks``) and keeps its own small writers (``numpy_nn/logs.py``)."""
