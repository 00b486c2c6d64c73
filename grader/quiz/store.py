"""Saved quiz attempts of named users, in SQLite.

Location: ``--db PATH``, else ``$HNM_QUIZ_DB``, else ``$XDG_DATA_HOME/hnm/quiz.sqlite3``
(``~/.local/share/hnm/quiz.sqlite3``). Each attempt is one row written in one transaction
(``BEGIN IMMEDIATE``; attempt numbers are unique per user), so concurrent quizzes never
corrupt or overwrite each other, and a rejected answer file writes nothing.
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
    PRIMARY KEY (user, attempt)
)
"""


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
        return con

    def next_attempt(self, user: str) -> int:
        con = self._connect()
        try:
            (n,) = con.execute("SELECT COALESCE(MAX(attempt), 0) FROM attempts WHERE user = ?", (user,)).fetchone()
            return n + 1
        finally:
            con.close()

    def save(self, user: str, attempt: int, questions: list[str], answers: dict[str, Any], result: dict[str, Any]) -> int:
        """Save one finished attempt; returns its attempt number (the next free one if taken)."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            (last,) = con.execute("SELECT COALESCE(MAX(attempt), 0) FROM attempts WHERE user = ?", (user,)).fetchone()
            taken = con.execute("SELECT 1 FROM attempts WHERE user = ? AND attempt = ?", (user, attempt)).fetchone()
            number = last + 1 if taken else attempt
            con.execute(
                "INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (user, number, time.time(), json.dumps(questions), json.dumps(answers, sort_keys=True),
                 result["correct"], result["total"], int(result["passed"])),
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
