"""The course autograder and the ``hnm`` command line.

``grader.check(exercise_id, fn)`` is the notebook self-check; everything else is reached
through ``hnm`` (see ``grader.cli``).
"""


def check(exercise_id, fn, device=None, examples=None):
    """Check ``fn`` against exercise ``exercise_id``; print the property table and return
    the points earned. See :func:`grader.selfcheck.check`."""
    from grader.engine import DEFAULT_EXAMPLES
    from grader.selfcheck import check as _check

    return _check(exercise_id, fn, device=device, examples=examples or DEFAULT_EXAMPLES)
