"""``hnm quiz``: the quick test in a terminal, as JSON for scripts, the graded attempt's papers
(instructor, with the course secret), answering a paper (student), and item analysis."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from grader.quiz import LETTERS, PASS_FRACTION, AnswerError, draw, parse_choice, score
from grader.quiz.model import details
from grader.quiz.store import Store

GUEST = "guest"
DEFAULT_PLOT = "quiz-item-analysis.png"
DEFAULT_ANSWERS = "quiz.json"


def _attempt(args: argparse.Namespace, store: Store | None) -> tuple[str, int]:
    user = args.user or GUEST
    if args.attempt:
        return user, args.attempt
    return user, (store.next_attempt(user) if store else 1)


def _ask(q, number: int, total: int, out, read) -> int | None:
    """Show one question and read a valid choice; None when input ends."""
    print(f"\nQuestion {number}/{total} [{q.topic}]\n{q.prompt}", file=out)
    for letter, choice in zip(LETTERS, q.choices):
        print(f"  {letter}) {choice}", file=out)
    while True:
        try:
            raw = read(f"Your answer ({LETTERS[0]}-{LETTERS[len(q.choices) - 1]}): ")
        except EOFError:
            return None
        try:
            return parse_choice(q, raw.strip())
        except AnswerError as exc:
            print(f"  {exc}", file=out)


def _ask_all(questions, out, read, after=None) -> dict[str, int] | None:
    """Ask every question in turn (``after(question, choice)`` runs after each answer);
    the chosen indices by question id, or None when input ends."""
    answers = {}
    for number, q in enumerate(questions, 1):
        choice = _ask(q, number, len(questions), out, read)
        if choice is None:
            return None
        answers[q.id] = choice
        if after is not None:
            after(q, choice)
    return answers


def _interactive(args, store, out=None, read=None) -> int:
    out, read = out or sys.stdout, read or input
    user, attempt = _attempt(args, store)
    questions = draw(user, attempt)
    if not args.user:
        print("Not signed in: this attempt will not be saved (use --user NAME to keep your progress).", file=out)
    else:
        where = f"; progress is saved in {store.path}" if store else "; --no-save: nothing is saved"
        print(f"Quiz for {user}, attempt {attempt}{where}.", file=out)

    def feedback(q, choice):
        verdict = "Correct." if choice == q.answer else f"Not quite: the answer is {LETTERS[q.answer]}) {q.choices[q.answer]}."
        print(f"  {verdict} {q.explanation}", file=out)

    answers = _ask_all(questions, out, read, feedback)
    if answers is None:
        print("\nQuiz abandoned: nothing was saved.", file=out)
        return 1
    result = score(questions, answers)
    print(f"\nScore: {result['correct']}/{result['total']} ({result['score']:.0%}). "
          f"{'Passed' if result['passed'] else 'Not passed'} (pass mark {PASS_FRACTION:.0%}).", file=out)
    if store and args.user:
        number = store.save(user, attempt, [q.id for q in questions], answers, result, details(questions, answers))
        print(f"Saved as attempt {number} for {user} in {store.path}.", file=out)
    return 0


def _read_answers(path: str):
    """The parsed answers file; ``ValueError`` saying why it cannot be read."""
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _fail(message: str) -> int:
    print(f"hnm quiz: {message}", file=sys.stderr)
    return 2


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _paper_text(paper: dict) -> str:
    lines = [f"Graded quick test for {paper['user']}. Answer every question; write your answers as a JSON object "
             '{"question id": "letter"} (or run: hnm quiz --paper THIS_FILE.json).', ""]
    for number, q in enumerate(paper["questions"], 1):
        lines.append(f"{number}. [{q['id']}] {q['prompt']}")
        lines += [f"   {LETTERS[i]}) {c}" for i, c in enumerate(q["choices"])]
        lines.append("")
    return "\n".join(lines)


def _graded(args: argparse.Namespace) -> int:
    from grader import secret as secret_module
    from grader.quiz import graded

    try:
        key = secret_module.load(Path(args.secret) if args.secret else None)
    except secret_module.SecretError as exc:
        return _fail(str(exc))
    if key is None:
        return _fail("--graded needs the course secret (run `hnm secret init` once, or pass --secret FILE): "
                     "graded attempts are never public")
    fingerprint = secret_module.fingerprint(key)
    try:
        if args.roster:
            if not args.papers:
                return _fail("--roster needs --papers DIR")
            students = [line.strip() for line in Path(args.roster).read_text(encoding="utf-8").splitlines()
                        if line.strip() and not line.lstrip().startswith("#")]
            names = {}
            for s in students:
                names.setdefault(graded.safe_name(s), []).append(s)
            clash = [ids for ids in names.values() if len(ids) > 1]
            if clash:
                return _fail(f"these student ids would share a paper file: {clash}")
            out = Path(args.papers)
            for s in students:
                paper = graded.paper(s, graded.graded_questions(s, key, args.pool), fingerprint)
                _write_atomic(out / f"{graded.safe_name(s)}.json", json.dumps(paper, indent=1, ensure_ascii=False) + "\n")
                _write_atomic(out / f"{graded.safe_name(s)}.txt", _paper_text(paper) + "\n")
            pool = graded.pool_path(args.pool)
            print(f"wrote {len(students)} graded papers (.json and .txt) to {out} (course secret {fingerprint}; "
                  f"{'instructor pool ' + str(pool) if pool else 'no instructor pool: computed questions only'})")
            return 0
        if not args.user:
            return _fail("--graded needs --user STUDENT_ID (or --roster FILE --papers DIR)")
        questions = graded.graded_questions(args.user, key, args.pool)
        if args.answers:
            try:
                result = score(questions, _read_answers(args.answers))
            except ValueError as exc:  # unreadable file or AnswerError
                return _fail(str(exc))
            print(json.dumps(result, indent=1) if args.json else
                  f"{result['correct']}/{result['total']}: {'passed' if result['passed'] else 'not passed'}")
            return 0
        paper = graded.paper(args.user, questions, fingerprint)
        print(json.dumps(paper, indent=1, ensure_ascii=False) if args.json else _paper_text(paper))
        return 0
    except (OSError, ValueError) as exc:
        return _fail(str(exc))


def _take_paper(args: argparse.Namespace, out=None, read=None) -> int:
    out, read = out or sys.stdout, read or input
    from grader.quiz import Question
    from grader.quiz.graded import read_paper

    try:
        paper = read_paper(args.paper)
    except ValueError as exc:
        return _fail(str(exc))
    questions = [Question(q["id"], q.get("topic", ""), q["prompt"], tuple(q["choices"]), -1, "") for q in paper["questions"]]
    print(f"Graded quick test for {paper.get('user')}: {len(questions)} questions, no feedback until it is graded.", file=out)
    chosen = _ask_all(questions, out, read)
    if chosen is None:
        print("\nStopped: no answers were written.", file=out)
        return 1
    answers = {qid: LETTERS[c] for qid, c in chosen.items()}
    target = Path(args.out or DEFAULT_ANSWERS)
    _write_atomic(target, json.dumps(answers, indent=1) + "\n")
    print(f"\nWrote your answers to {target}: submit it with your work (as quiz.json, or <id>.quiz.json "
          "beside a single .py file).", file=out)
    return 0


def _stats(args: argparse.Namespace) -> int:
    from grader.quiz import stats

    store = Store(Path(args.db))
    records, skipped = stats.records_from_store(store)
    rows = stats.table(records)
    if args.json:
        print(json.dumps({"attempts": len(records), "skipped": skipped, "items": rows}, indent=1, allow_nan=True))
    else:
        print(stats.format_table(rows, len(records), skipped))
    if rows:
        path = stats.plot(rows, Path(args.plot or DEFAULT_PLOT))
        print(f"wrote the plot to {path}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _command(args: argparse.Namespace) -> int:
    if args.stats:
        return _stats(args)
    if args.graded:
        return _graded(args)
    if args.paper:
        return _take_paper(args)
    store = Store(Path(args.db)) if (args.user and not args.no_save) or args.history else None
    if args.history:
        if not args.user:
            return _fail("--history needs --user NAME")
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
            answers = _read_answers(args.answers)
        except ValueError as exc:
            return _fail(str(exc))
        user, attempt = _attempt(args, store)
        questions = draw(user, attempt)
        try:
            result = score(questions, answers)
        except AnswerError as exc:
            return _fail(str(exc))
        result["attempt"] = attempt
        result["saved"] = False
        if store:
            chosen = {q.id: parse_choice(q, answers[q.id]) for q in questions if q.id in answers}
            result["attempt"] = store.save(user, attempt, [q.id for q in questions], answers, result,
                                           details(questions, chosen))
            result["saved"] = True
        if args.json:
            print(json.dumps(result, indent=1))
        else:
            print(f"{result['correct']}/{result['total']}: {'passed' if result['passed'] else 'not passed'}")
        return 0
    return _interactive(args, store)


def register(subparsers) -> None:
    from grader.quiz.store import default_path

    p = subparsers.add_parser("quiz", help="the 8-question quick test (70%% to pass), graded papers, item analysis")
    p.add_argument("--user", help="your name: attempts are saved only for a named user")
    p.add_argument("--questions", action="store_true", help="print the drawn questions (no answers)")
    p.add_argument("--answers", metavar="FILE", help="score a JSON object {question id: choice index or letter}")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--history", action="store_true", help="list the saved attempts of --user")
    p.add_argument("--attempt", type=int, help="draw this attempt number instead of the next one")
    p.add_argument("--db", default=str(default_path()), help="the progress database (default: %(default)s; "
                   "or set HNM_QUIZ_DB)")
    p.add_argument("--no-save", action="store_true", help="do not save this attempt")
    p.add_argument("--stats", action="store_true",
                   help="item analysis of the saved attempts in --db: a table and a plot (--plot)")
    p.add_argument("--plot", metavar="PNG", help=f"with --stats: where to write the plot (default {DEFAULT_PLOT})")
    g = p.add_argument_group("graded attempt (instructor; needs the course secret)")
    g.add_argument("--graded", action="store_true",
                   help="the graded attempt of --user (print its paper, or score --answers), or papers for --roster")
    g.add_argument("--secret", metavar="FILE", help="the course secret file (default: as hnm secret finds it)")
    g.add_argument("--pool", metavar="FILE", help="the instructor's graded fixed questions (default: $HNM_QUIZ_POOL, "
                   "else quiz-pool.json beside the course secret, if it exists)")
    g.add_argument("--roster", metavar="FILE", help="with --graded: student ids, one per line")
    g.add_argument("--papers", metavar="DIR", help="with --roster: write DIR/<id>.json and DIR/<id>.txt")
    s = p.add_argument_group("answering a graded paper (student)")
    s.add_argument("--paper", metavar="FILE", help="answer the questions of a graded paper (no feedback)")
    s.add_argument("--out", metavar="FILE", help=f"with --paper: where to write the answers (default {DEFAULT_ANSWERS})")
    p.set_defaults(handler=_command)
