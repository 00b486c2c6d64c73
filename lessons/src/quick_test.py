# %% [markdown]
# # The quick test
#
# Eight multiple-choice questions on the whole course; **70 %** (6 of 8) to pass. Take it
# after the lessons, or whenever you want to check yourself.
#
# * **Where the questions come from.** Each attempt draws 8 questions from a bank, spread over
#   the lessons (8 lessons, one question each, at least one on a pitfall): fixed questions
#   about the lessons' ideas and the references' contracts, and *computed* questions whose
#   numbers are drawn fresh for you and whose answers come from running the reference
#   implementations in `solutions/` (keep a pen, or a Python prompt, at hand). A computed question states every
#   rule its answer depends on (strict bounds, tie rules); its wrong options are what common
#   mistakes give (an inclusive bound, the union not reduced by the intersection, ...), so
#   read the rule and compute: guessing from the look of the options does not pay.
# * **Reproducible draws.** The same name and attempt number always give the same
#   questions, in the same order, with the same choices; the next attempt draws anew.
# * **Feedback.** Your first answer to a question counts. After each answer you see whether
#   it was right, the correct choice and a short explanation; after the last one, your score.
# * **Progress is saved only when you give your name**:
#   `quiz_widget(user="your name")`. Without a name (`quiz_widget()`, as below) you take an
#   anonymous guest attempt and nothing is saved. The widget says where it saves.
# * **Notebook or terminal: the same test.** `hnm quiz --user NAME` in a terminal asks the
#   same questions as `quiz_widget(user="NAME")` here and saves to the same progress database
#   (`~/.local/share/hnm/quiz.sqlite3`, or the file in `$HNM_QUIZ_DB`), so your attempt numbers
#   continue from one to the other.
# * **The graded quiz is not one of these attempts.** When the quiz counts towards a grade,
#   your instructor gives you a *paper*: your own questions, drawn with a course secret, so
#   nobody can look them up in advance. Answer it with `hnm quiz --paper PAPER.json` and
#   submit the `quiz.json` it writes. Practice here as often as you like.

# %%
import pathlib
import sys

ROOT = pathlib.Path.cwd().resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from grader.quiz import PASS_FRACTION, QUESTIONS_PER_QUIZ, load_bank_data

bank = load_bank_data()
computed = sum(q.get("kind") == "computed" for q in bank.questions)
print(f"{QUESTIONS_PER_QUIZ} questions per attempt, pass mark {PASS_FRACTION:.0%}; "
      f"bank: {len(bank.questions)} questions over {len(bank.areas)} lessons, "
      f"{computed} of them computed from the references")

# %% [markdown]
# In a terminal:
#
# ```bash
# hnm quiz --user "Ada Lovelace"            # interactive, saved as Ada's next attempt
# hnm quiz --user "Ada Lovelace" --history  # Ada's saved attempts and scores
# hnm quiz                                   # a guest attempt, not saved
# hnm quiz --paper ada.json                  # answer a graded paper (no feedback): writes quiz.json
# ```
#
# ## Take the test
#
# Run the next cell, pick an answer for each question and press **Answer**. To keep your
# progress, replace `quiz_widget()` by `quiz_widget(user="your name")` first. (The `;` only
# stops Jupyter from also printing the returned session object.)

# %%
from grader.quiz.notebook import quiz_widget

quiz_widget();
