"""``hnm grade``: many students at once. ``command`` is the command line and the resumable
run (discover, skip unchanged, write each result as it arrives, then ``grades.csv``);
``executors`` runs one grading process per submission, in a local pool or on Dask.

May import ``grader.grading`` and ``grader.reports``; nothing imports this package but the CLI.
"""
