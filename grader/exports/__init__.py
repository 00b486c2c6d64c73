"""Grades leaving the course: a Gradescope autograder archive that runs this grader
(``gradescope``) and a Canvas gradebook CSV from ``grades.csv`` (``canvas``).
"""
