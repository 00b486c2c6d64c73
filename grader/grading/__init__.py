"""One submission, start to end: read the student's files (``submissions``, trusted code
reading untrusted files) and grade them (``pipeline``: load into a sandboxed worker, run
every exercise through the engine, score the quiz answers, build the results document).

May import the sandbox, the engine, the suites' registry and the quiz; never a class-run
or report module.
"""
