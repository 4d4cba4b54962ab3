"""The course-format cases and fixtures the grader compares with (PyTorch's numbers, made by
``python -m tests.course.generate_fixtures``); the conformance suite in tests/course reads them
from here, and hw3.zip ships them as hw3/tests/."""
