"""Saved quiz attempts of named users, in SQLite.

Location: ``--db PATH``, else ``$HNM_QUIZ_DB``, else ``$XDG_DATA_HOME/hnm/quiz.sqlite3``
(``~/.local/share/hnm/quiz.sqlite3``). Each attempt is one row written in one transaction
(``BEGIN IMMEDIATE``; attempt numbers are unique per user), so concurrent quizzes never
corrupt or overwrite each other, and a rejected answer file writes nothing.

Each row also keeps, per question, what each choice was and which one was chosen
(``detail``, JSON; see :func:`grader.quiz.model.details`) for item analysis. Stores made
before that column existed open as they are: the column is added on first use, and their
old rows simply have no detail.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    user TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    finished_at REAL NOT NULL,
    questions TEXT NOT NULL,
    answers TEXT NOT NULL,
    correct INTEGER NOT NULL,
    total INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    detail TEXT,
    PRIMARY KEY (user, attempt)
)
"""
COLUMNS = "user, attempt, finished_at, questions, answers, correct, total, passed, detail"


def default_path() -> Path:
    if os.environ.get("HNM_QUIZ_DB"):
        return Path(os.environ["HNM_QUIZ_DB"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "hnm" / "quiz.sqlite3"


class Store:
    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.execute("PRAGMA busy_timeout = 30000")
        con.execute(SCHEMA)
        columns = {row[1] for row in con.execute("PRAGMA table_info(attempts)")}
        if "detail" not in columns:  # a store made by an earlier version
            try:
                con.execute("ALTER TABLE attempts ADD COLUMN detail TEXT")
            except sqlite3.OperationalError as exc:  # another process added it first
                if "duplicate column" not in str(exc):
                    raise
        return con

    def next_attempt(self, user: str) -> int:
        con = self._connect()
        try:
            (n,) = con.execute("SELECT COALESCE(MAX(attempt), 0) FROM attempts WHERE user = ?", (user,)).fetchone()
            return n + 1
        finally:
            con.close()

    def save(self, user: str, attempt: int, questions: list[str], answers: dict[str, Any], result: dict[str, Any],
             detail: list[dict[str, Any]] | None = None) -> int:
        """Save one finished attempt; returns its attempt number (the next free one if taken)."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            (last,) = con.execute("SELECT COALESCE(MAX(attempt), 0) FROM attempts WHERE user = ?", (user,)).fetchone()
            taken = con.execute("SELECT 1 FROM attempts WHERE user = ? AND attempt = ?", (user, attempt)).fetchone()
            number = last + 1 if taken else attempt
            con.execute(
                f"INSERT INTO attempts ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (user, number, time.time(), json.dumps(questions), json.dumps(answers, sort_keys=True),
                 result["correct"], result["total"], int(result["passed"]),
                 None if detail is None else json.dumps(detail, sort_keys=True)),
            )
            con.execute("COMMIT")
            return number
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def history(self, user: str) -> list[dict[str, Any]]:
        con = self._connect()
        try:
            rows = con.execute(
                "SELECT attempt, finished_at, questions, answers, correct, total, passed FROM attempts "
                "WHERE user = ? ORDER BY attempt", (user,)
            ).fetchall()
        finally:
            con.close()
        return [
            {"attempt": a, "finished_at": f, "questions": json.loads(q), "answers": json.loads(ans),
             "correct": c, "total": t, "passed": bool(p)}
            for a, f, q, ans, c, t, p in rows
        ]

    def all_details(self) -> tuple[list[dict[str, Any]], int]:
        """Every saved attempt's per-question detail, oldest first, as
        ``[{"user", "attempt", "detail"}]``, and the number of attempts without one."""
        con = self._connect()
        try:
            rows = con.execute("SELECT user, attempt, detail FROM attempts ORDER BY finished_at, user, attempt").fetchall()
        finally:
            con.close()
        out = [{"user": u, "attempt": a, "detail": json.loads(d)} for u, a, d in rows if d]
        return out, len(rows) - len(out)
