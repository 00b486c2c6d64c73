"""``hnm quiz``: the quick test in a terminal, or as JSON for scripts and grading."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from grader.quiz import LETTERS, PASS_FRACTION, AnswerError, draw, parse_choice, score
from grader.quiz.store import Store

GUEST = "guest"


def _attempt(args: argparse.Namespace, store: Store | None) -> tuple[str, int]:
    user = args.user or GUEST
    if args.attempt:
        return user, args.attempt
    return user, (store.next_attempt(user) if store else 1)


def _interactive(args, store, out=sys.stdout, read=input) -> int:
    user, attempt = _attempt(args, store)
    questions = draw(user, attempt)
    if not args.user:
        print("Not signed in: this attempt will not be saved (use --user NAME to keep your progress).", file=out)
    else:
        print(f"Quiz for {user}, attempt {attempt}.", file=out)
    answers = {}
    for number, q in enumerate(questions, 1):
        print(f"\nQuestion {number}/{len(questions)} [{q.topic}]\n{q.prompt}", file=out)
        for letter, choice in zip(LETTERS, q.choices):
            print(f"  {letter}) {choice}", file=out)
        while True:
            try:
                raw = read(f"Your answer ({LETTERS[0]}-{LETTERS[len(q.choices) - 1]}): ")
            except EOFError:
                print("\nQuiz abandoned: nothing was saved.", file=out)
                return 1
            try:
                answers[q.id] = parse_choice(q, raw.strip())
                break
            except AnswerError as exc:
                print(f"  {exc}", file=out)
        verdict = "Correct." if answers[q.id] == q.answer else f"Not quite: the answer is {LETTERS[q.answer]}) {q.choices[q.answer]}."
        print(f"  {verdict} {q.explanation}", file=out)
    result = score(questions, answers)
    print(f"\nScore: {result['correct']}/{result['total']} ({result['score']:.0%}). "
          f"{'Passed' if result['passed'] else 'Not passed'} (pass mark {PASS_FRACTION:.0%}).", file=out)
    if store and args.user:
        number = store.save(user, attempt, [q.id for q in questions], answers, result)
        print(f"Saved as attempt {number} for {user} in {store.path}.", file=out)
    return 0


def _command(args: argparse.Namespace) -> int:
    store = Store(Path(args.db)) if (args.user and not args.no_save) or args.history else None
    if args.history:
        if not args.user:
            print("hnm quiz: --history needs --user NAME", file=sys.stderr)
            return 2
        rows = store.history(args.user)
        if args.json:
            print(json.dumps(rows, indent=1))
        elif not rows:
            print(f"No saved attempts for {args.user}.")
        for row in rows if not args.json else []:
            when = datetime.fromtimestamp(row["finished_at"], timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            print(f"attempt {row['attempt']}: {row['correct']}/{row['total']} "
                  f"{'passed' if row['passed'] else 'not passed'} ({when})")
        return 0
    if args.questions:
        user, attempt = _attempt(args, store)
        payload = {"user": args.user, "attempt": attempt, "saved": bool(store),
                   "questions": [q.public() for q in draw(user, attempt)]}
        print(json.dumps(payload, indent=1) if args.json else "\n\n".join(
            f"{q['id']}: {q['prompt']}\n" + "\n".join(f"  {LETTERS[i]}) {c}" for i, c in enumerate(q["choices"]))
            for q in payload["questions"]))
        return 0
    if args.answers:
        try:
            raw = Path(args.answers).read_text(encoding="utf-8")
        except OSError as exc:
            print(f"hnm quiz: cannot read {args.answers}: {exc.strerror}", file=sys.stderr)
            return 2
        try:
            answers = json.loads(raw)
        except json.JSONDecodeError as exc:
            print(f"hnm quiz: {args.answers} is not valid JSON ({exc.msg} at line {exc.lineno})", file=sys.stderr)
            return 2
        user, attempt = _attempt(args, store)
        questions = draw(user, attempt)
        try:
            result = score(questions, answers)
        except AnswerError as exc:
            print(f"hnm quiz: {exc}", file=sys.stderr)
            return 2
        result["attempt"] = attempt
        result["saved"] = False
        if store:
            result["attempt"] = store.save(user, attempt, [q.id for q in questions], answers, result)
            result["saved"] = True
        if args.json:
            print(json.dumps(result, indent=1))
        else:
            print(f"{result['correct']}/{result['total']}: {'passed' if result['passed'] else 'not passed'}")
        return 0
    return _interactive(args, store)


def register(subparsers) -> None:
    from grader.quiz.store import default_path

    p = subparsers.add_parser("quiz", help="the 8-question quick test (70%% to pass)")
    p.add_argument("--user", help="your name: attempts are saved only for a named user")
    p.add_argument("--questions", action="store_true", help="print the drawn questions (no answers)")
    p.add_argument("--answers", metavar="FILE", help="score a JSON object {question id: choice index or letter}")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--history", action="store_true", help="list the saved attempts of --user")
    p.add_argument("--attempt", type=int, help="draw this attempt number instead of the next one")
    p.add_argument("--db", default=str(default_path()), help="the progress database (default: %(default)s; "
                   "or set HNM_QUIZ_DB)")
    p.add_argument("--no-save", action="store_true", help="do not save this attempt")
    p.set_defaults(handler=_command)
