"""Lesson experiment code: data, small networks, training loops and measurements.

Nothing here is graded. The graded contract is the top level of :mod:`solutions`; this
subpackage builds on it (it may import ``solutions``, never ``grader``) so that the lessons
can run real, seeded experiments with the same references students are graded against.
"""
