"""The quick test in a notebook: the same 8 questions as ``hnm quiz``, with buttons.

``quiz_widget(user=None)`` shows the questions of the user's next practice attempt
(ipywidgets), gives feedback and the explanation after each answer, the score at the end,
and saves the attempt in the same store as the terminal quiz when ``user`` is given; the
widget says where. A notebook opened before the cell runs (or in a viewer without a widget
manager, or untrusted) shows a short text in place of the widget: "run this cell".
"""

from __future__ import annotations

import html
from pathlib import Path

from grader.quiz import LETTERS, PASS_FRACTION, draw, score
from grader.quiz.model import details
from grader.quiz.store import Store

DEFAULT_STORE_TEXT = "~/.local/share/hnm/quiz.sqlite3, or the file in $HNM_QUIZ_DB"


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

    def where(self) -> str:
        """Where this session's progress is saved, in words."""
        if self.store is not None:
            return f"Progress is saved in {self.store.path}."
        return (f"Not signed in: this attempt is not saved. quiz_widget(user=\"your name\") saves your attempts "
                f"in the progress database ({DEFAULT_STORE_TEXT}), shared with hnm quiz --user.")

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
                                                self.answers, self.result, details(self.questions, self.answers))
        return self.result

    def summary(self) -> str:
        r = self.finish()
        text = (f"Score: {r['correct']}/{r['total']} ({r['score']:.0%}): "
                f"{'passed' if r['passed'] else 'not passed'} (pass mark {PASS_FRACTION:.0%}).")
        if self.saved_as is not None:
            text += f" Saved as attempt {self.saved_as} for {self.user} in {self.store.path}."
        else:
            text += " Not saved: pass user='your name' to keep your progress."
        return text


PLACEHOLDER = ("Quick test: run this cell (Shift+Enter) to start the quiz. "
               "quiz_widget(user=\"your name\") saves your progress; quiz_widget() is an anonymous attempt.")


class _Shown:
    """The widget as IPython displays it, with a readable text and HTML in place of the
    ``VBox(...)`` repr: what a saved notebook shows where the live widget cannot be drawn."""

    def __init__(self, box, text: str):
        self.box, self.text = box, text

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.box._repr_mimebundle_(include=include, exclude=exclude) or {}
        bundle = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
        bundle["text/plain"] = self.text
        bundle["text/html"] = f"<p><b>{html.escape(self.text)}</b></p>"
        return bundle


def quiz_widget(user: str | None = None, db: Path | str | None = None):
    """Display the quiz in a Jupyter notebook (needs ipywidgets); returns the session."""
    import ipywidgets as w
    from IPython.display import display

    session = QuizSession(user, db)
    signed = (f"Signed in as <b>{html.escape(user)}</b> (attempt {session.attempt}). " if user else "")
    header = w.HTML(
        f"<b>Quick test</b>: {len(session.questions)} questions, {PASS_FRACTION:.0%} to pass. "
        f"{signed}{html.escape(session.where())}"
    )
    total = w.HTML()
    boxes = [header]
    for number, q in enumerate(session.questions, 1):
        prompt = w.HTML(f"<p><b>{number}.</b> <i>[{q.topic}]</i></p>"
                        f"<pre style='white-space:pre-wrap'>{html.escape(q.prompt)}</pre>")
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
            feedback.value = f"<span style='color:{colour}'>{html.escape(text)}</span>"
            button.disabled = options.disabled = True
            if session.result is not None:
                total.value = f"<b>{html.escape(session.summary())}</b>"

        button.on_click(on_click)
        boxes.append(w.VBox([prompt, options, button, feedback]))
    boxes.append(total)
    display(_Shown(w.VBox(boxes), PLACEHOLDER))
    return session


