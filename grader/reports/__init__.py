"""Verdicts as people read them: the results files, ``grades.csv`` and the console table
(``grades``), the student's feedback page (``feedback``), and the instructor's class report
(``class_report``: the numbers from ``class_stats`` over ``item_analysis``, figures from
``figures``). Reports only read results documents; they never grade. May import the suites'
registry (for rule descriptions) and the quiz's item table.
"""
