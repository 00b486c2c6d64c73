"""``hnm grade``: many students at once. ``command`` is the command line and the resumable
run (discover, skip unchanged, write each result as it arrives, then ``grades.csv``);
``executors`` runs one grading process per submission, in a local pool or on Dask, and turns any
failure of one into that student's result; ``signing`` signs results so ``--resume`` trusts only its own.

May import ``grader.grading``, ``grader.reports``, ``grader.sandbox.parent`` and ``grader.doctor``;
nothing imports this package but the CLI.
"""
