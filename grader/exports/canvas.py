"""``hnm export canvas``: grades.csv -> a CSV that Canvas's gradebook import accepts.

    hnm export canvas --grades OUT/grades.csv --roster ROSTER.csv --assignment NAME -o canvas.csv

The roster is Canvas's own gradebook export (Grades > Export > CSV) or any CSV with its
identity columns: ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID`` and ``Section``
(``Student`` and ``ID`` are required, and at least one of the two SIS columns; other
columns, such as existing assignments, are ignored, and so are Canvas's "Points Possible"
row and its "Student, Test" account). Our student id (the ``student`` column of
grades.csv: the file stem or folder name of the submission) is matched, ignoring case and
surrounding spaces, against ``SIS Login ID`` first, then ``SIS User ID``.

The output has those five columns, then one column named NAME holding the total, and a
"Points Possible" row (the grades' ``max_total``), in roster order. To update an existing
Canvas assignment rather than create a new one, pass its column header from the export,
e.g. ``--assignment "PS1 (12345)"``. Students in grades.csv with no roster row, and
roster students with no grade, are listed on stderr (the latter also appear in the output
with an empty score, which Canvas leaves ungraded). A malformed grades.csv or roster, or
an id that matches two roster rows, exits with status 2 and says what is wrong.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from grader.exports.gradescope import export_formats

IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "    Points Possible"  # as Canvas writes it in its own export
TEST_STUDENT = "Student, Test"


class CanvasExportError(ValueError):
    """An input file cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Grade:
    student: str
    total: float
    max_total: float


@dataclass(frozen=True)
class RosterRow:
    line: int
    values: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")


def _read_csv(path: Path, what: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise CanvasExportError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise CanvasExportError(f"{what} {path} is a folder, not a CSV file") from None
    except UnicodeDecodeError:
        raise CanvasExportError(f"{what} {path} is not UTF-8 text") from None
    if "\0" in text:
        raise CanvasExportError(f"{what} {path} is a binary file, not CSV")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise CanvasExportError(f"{what} {path} is not valid CSV (line {reader.line_num}: {exc})") from None
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows:
        raise CanvasExportError(f"{what} {path} is empty")
    header = [c.strip() for c in rows[0]]
    dupes = sorted({c for c in header if c and header.count(c) > 1})
    if dupes:
        raise CanvasExportError(f"{what} {path} repeats the column(s) {', '.join(dupes)}")
    out = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) > len(header):
            raise CanvasExportError(f"{what} {path}, line {number}: {len(row)} fields but the header has {len(header)}")
        out.append((number, {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}))
    return header, out


def read_grades(path: Path) -> list[Grade]:
    """The ``student``, ``total`` and ``max_total`` columns of ``hnm grade``'s grades.csv."""
    header, rows = _read_csv(path, "grades file")
    missing = [c for c in ("student", "total", "max_total") if c not in header]
    if missing:
        raise CanvasExportError(f"grades file {path} has no {', '.join(missing)} column "
                                f"(expected hnm grade's grades.csv; found: {', '.join(header)})")
    grades, seen = [], {}
    for line, row in rows:
        student = row["student"]
        if not student:
            raise CanvasExportError(f"grades file {path}, line {line}: empty student id")
        key = student.casefold()
        if key in seen:
            raise CanvasExportError(f"grades file {path}: student {student!r} appears twice (lines {seen[key]} and {line})")
        seen[key] = line
        numbers = []
        for column in ("total", "max_total"):
            try:
                value = float(row[column])
            except ValueError:
                raise CanvasExportError(f"grades file {path}, line {line}: {column} {row[column]!r} "
                                        "is not a number") from None
            if not math.isfinite(value) or value < 0:
                raise CanvasExportError(f"grades file {path}, line {line}: {column} {row[column]!r} is not a score")
            numbers.append(value)
        grades.append(Grade(student, *numbers))
    if not grades:
        raise CanvasExportError(f"grades file {path} holds no grades")
    return grades


def read_roster(path: Path) -> tuple[list[RosterRow], list[str]]:
    """Roster rows (Canvas's test student and Points Possible row left out) and notes."""
    header, rows = _read_csv(path, "roster")
    missing = [c for c in ("Student", "ID") if c not in header]
    if missing or not ({"SIS User ID", "SIS Login ID"} & set(header)):
        need = missing + ([] if {"SIS User ID", "SIS Login ID"} & set(header) else ["SIS Login ID or SIS User ID"])
        raise CanvasExportError(f"roster {path} lacks the column(s) {', '.join(need)} "
                                f"(expected Canvas's gradebook export: {', '.join(IDENTITY)}; found: {', '.join(header)})")
    roster, notes = [], []
    for line, row in rows:
        name = row["Student"]
        if name == POINTS_POSSIBLE.strip() or (not row["ID"] and "points possible" in name.casefold()):
            continue
        if name == TEST_STUDENT:
            notes.append(f"left out Canvas's test student (roster line {line})")
            continue
        if not row["ID"]:
            raise CanvasExportError(f"roster {path}, line {line}: {name or 'a student'} has no Canvas ID")
        roster.append(RosterRow(line, row))
    if not roster:
        raise CanvasExportError(f"roster {path} lists no students")
    return roster, notes


def match(grades: list[Grade], roster: list[RosterRow]) -> tuple[dict[int, Grade], list[Grade]]:
    """Roster line -> grade, and the grades that match no roster row."""
    by_column: dict[str, dict[str, RosterRow]] = {}
    for column in ("SIS Login ID", "SIS User ID"):
        index: dict[str, RosterRow] = {}
        for row in roster:
            key = row[column].casefold()
            if not key:
                continue
            if key in index:
                raise CanvasExportError(f"the roster gives {column} {row[column]!r} to two students "
                                        f"(lines {index[key].line} and {row.line})")
            index[key] = row
        by_column[column] = index
    matched: dict[int, Grade] = {}
    unmatched = []
    for grade in grades:
        key = grade.student.casefold()
        row = by_column["SIS Login ID"].get(key) or by_column["SIS User ID"].get(key)
        if row is None:
            unmatched.append(grade)
            continue
        if row.line in matched:
            raise CanvasExportError(f"students {matched[row.line].student!r} and {grade.student!r} of the grades "
                                    f"both match {row['Student']!r} (roster line {row.line})")
        matched[row.line] = grade
    return matched, unmatched


def canvas_csv(roster: list[RosterRow], matched: dict[int, Grade], assignment: str, points: float) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*IDENTITY, assignment])
    writer.writerow([POINTS_POSSIBLE, "", "", "", "", _num(points)])
    for row in roster:
        grade = matched.get(row.line)
        writer.writerow([row[c] for c in IDENTITY] + [_num(grade.total) if grade else ""])
    return out.getvalue()


def _num(x: float) -> str:
    return f"{x:g}"


def export(grades_path: Path, roster_path: Path, assignment: str, out: Path, stderr=None) -> dict[str, int]:
    """Write the Canvas CSV; report mismatches on ``stderr`` (default sys.stderr); return counts."""
    from grader.reports.grades import atomic_write

    stderr = stderr or sys.stderr

    if not assignment.strip():
        raise CanvasExportError("--assignment must name the Canvas assignment column")
    if assignment.strip() in IDENTITY:
        raise CanvasExportError(f"--assignment {assignment!r} is one of Canvas's identity columns")
    grades = read_grades(grades_path)
    roster, notes = read_roster(roster_path)
    matched, unmatched = match(grades, roster)
    maxima = sorted({g.max_total for g in grades})
    if len(maxima) > 1:
        notes.append(f"max_total differs between students ({', '.join(_num(m) for m in maxima)}): "
                     f"Points Possible is the largest, {_num(maxima[-1])}")
    ungraded = [row for row in roster if row.line not in matched]
    for note in notes:
        print(f"hnm export canvas: {note}", file=stderr)
    if unmatched:
        print(f"hnm export canvas: {len(unmatched)} student(s) in {grades_path} are not in the roster "
              "(matched against SIS Login ID, then SIS User ID) and are NOT in the output:", file=stderr)
        for g in unmatched:
            print(f"  {g.student}: {_num(g.total)}/{_num(g.max_total)}", file=stderr)
    if ungraded:
        print(f"hnm export canvas: {len(ungraded)} roster student(s) have no grade; "
              "they are in the output with an empty score:", file=stderr)
        for row in ungraded:
            ids = ", ".join(f"{c} {row[c]}" for c in ("SIS Login ID", "SIS User ID") if row[c])
            print(f"  {row['Student']} ({ids or 'no SIS ids'})", file=stderr)
    atomic_write(Path(out), canvas_csv(roster, matched, assignment.strip(), maxima[-1]))
    return {"graded": len(matched), "not_in_roster": len(unmatched), "no_grade": len(ungraded)}


def _command(args: argparse.Namespace) -> int:
    try:
        counts = export(Path(args.grades), Path(args.roster), args.assignment, Path(args.output))
    except CanvasExportError as exc:
        print(f"hnm export canvas: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"hnm export canvas: cannot write {args.output} ({exc.strerror})", file=sys.stderr)
        return 2
    print(f"wrote {args.output}: {counts['graded']} graded, {counts['no_grade']} roster students without a grade, "
          f"{counts['not_in_roster']} graded students not in the roster")
    return 0


def register(subparsers) -> None:
    p = export_formats(subparsers).add_parser(
        "canvas", help="grades.csv as a CSV for Canvas's gradebook import, matched through a roster")
    p.add_argument("--grades", required=True, metavar="GRADES.csv", help="hnm grade's OUT/grades.csv")
    p.add_argument("--roster", required=True, metavar="ROSTER.csv",
                   help="Canvas's gradebook export (Student, ID, SIS User ID, SIS Login ID, Section)")
    p.add_argument("--assignment", required=True, metavar="NAME",
                   help="the Canvas assignment column (a new name creates one; 'Name (id)' updates it)")
    p.add_argument("-o", "--output", required=True, metavar="CANVAS.csv", help="the CSV to import into Canvas")
    p.set_defaults(handler=_command)
