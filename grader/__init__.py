"""The course autograder and the ``hnm`` command line."""
