"""Verdicts as people read them: the results files, ``grades.csv`` and the console table
(``grades``), and the student's feedback page (``feedback``). Reports only read results
documents; they never grade. May import the suites' registry (for rule descriptions).
"""
