"""Known mistakes: wrong implementations with a name and a hint, and the replay that names one.

``families`` holds parametrised wrong implementations (one function per exercise family, a flag
per mistake), ``bank`` the named mistakes students actually make, each a one-paragraph hint,
and ``replay`` the trusted parent's diagnosis: when a property fails, the failing
counterexamples are replayed on each known mistake of the exercise, and one that reproduces
the student's outputs on all of them (where the reference does not) is named in the feedback.
Runs only in the trusted parent, on inputs the grader drew; imports the references and the
engine's data model, never the sandbox.
"""

from grader.misconceptions.bank import BANK, Misconception
from grader.misconceptions.replay import Failure, diagnose, telling

__all__ = ["BANK", "Failure", "Misconception", "diagnose", "telling"]
