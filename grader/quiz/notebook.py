"""The quick test in a notebook: the same 8 questions as ``hnm quiz``, with buttons.

``quiz_widget(user=None)`` shows the questions of the user's next attempt (ipywidgets),
gives feedback and the explanation after each answer, the score at the end, and saves
the attempt in the same store as the terminal quiz when ``user`` is given.
"""

from __future__ import annotations

from pathlib import Path

from grader.quiz import LETTERS, PASS_FRACTION, draw, score
from grader.quiz.store import Store


class QuizSession:
    """The state behind the widget (also usable without ipywidgets, e.g. in tests)."""

    def __init__(self, user: str | None = None, db: Path | str | None = None, attempt: int | None = None):
        self.user = user
        self.store = Store(Path(db) if db else None) if user else None
        name = user or "guest"
        self.attempt = attempt or (self.store.next_attempt(name) if self.store else 1)
        self.questions = draw(name, self.attempt)
        self.answers: dict[str, int] = {}
        self.result: dict | None = None
        self.saved_as: int | None = None

    def answer(self, question_id: str, choice: int) -> tuple[bool, str]:
        """Record an answer (first answer counts); returns (correct, feedback text)."""
        q = next(q for q in self.questions if q.id == question_id)
        self.answers.setdefault(question_id, choice)
        ok = self.answers[question_id] == q.answer
        verdict = "Correct." if ok else f"Not quite: the answer is {LETTERS[q.answer]}) {q.choices[q.answer]}."
        if len(self.answers) == len(self.questions):
            self.finish()
        return ok, f"{verdict} {q.explanation}"

    def finish(self) -> dict:
        if self.result is None:
            self.result = score(self.questions, self.answers)
            if self.store is not None:
                self.saved_as = self.store.save(self.user, self.attempt, [q.id for q in self.questions],
                                                self.answers, self.result)
        return self.result

    def summary(self) -> str:
        r = self.finish()
        text = (f"Score: {r['correct']}/{r['total']} ({r['score']:.0%}): "
                f"{'passed' if r['passed'] else 'not passed'} (pass mark {PASS_FRACTION:.0%}).")
        if self.saved_as is not None:
            text += f" Saved as attempt {self.saved_as} for {self.user}."
        else:
            text += " Not saved: pass user='your name' to keep your progress."
        return text


def quiz_widget(user: str | None = None, db: Path | str | None = None):
    """Display the quiz in a Jupyter notebook (needs ipywidgets)."""
    import ipywidgets as w
    from IPython.display import display

    session = QuizSession(user, db)
    header = w.HTML(
        f"<b>Quick test</b>: {len(session.questions)} questions, {PASS_FRACTION:.0%} to pass. "
        + (f"Signed in as <b>{user}</b> (attempt {session.attempt})." if user else
           "Not signed in: this attempt will not be saved.")
    )
    total = w.HTML()
    boxes = [header]
    for number, q in enumerate(session.questions, 1):
        prompt = w.HTML(f"<p><b>{number}.</b> <i>[{q.topic}]</i></p><pre style='white-space:pre-wrap'>{q.prompt}</pre>")
        options = w.RadioButtons(options=[(f"{LETTERS[i]}) {c}", i) for i, c in enumerate(q.choices)],
                                 value=None, layout=w.Layout(width="auto"))
        button = w.Button(description="Answer")
        feedback = w.HTML()

        def on_click(_, q=q, options=options, button=button, feedback=feedback):
            if options.value is None:
                feedback.value = "<i>Pick an answer first.</i>"
                return
            ok, text = session.answer(q.id, options.value)
            colour = "#0a7d32" if ok else "#b3261e"
            feedback.value = f"<span style='color:{colour}'>{text}</span>"
            button.disabled = options.disabled = True
            if session.result is not None:
                total.value = f"<b>{session.summary()}</b>"

        button.on_click(on_click)
        boxes.append(w.VBox([prompt, options, button, feedback]))
    boxes.append(total)
    display(w.VBox(boxes))
    return session
