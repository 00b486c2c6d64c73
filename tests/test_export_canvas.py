"""``hnm export canvas``: grades.csv through a Canvas roster into a gradebook-import CSV."""

import csv
import io
from pathlib import Path

import pytest

from grader import cli

GRADES = """student,pairwise_distances,semi_hard_negatives,batch_hard,distance_weights,total,max_total
ada,10,10,10,10,40,40
ben,10,6.5,10,0,26.5,40
cat,8.5,0,7,0,15.5,40
"""

# Canvas's gradebook export: a BOM, the Points Possible row, the test student, other columns.
ROSTER = ("\ufeffStudent,ID,SIS User ID,SIS Login ID,Integration ID,Section,Quiz 1 (311),Current Score\n"
          "    Points Possible,,,,,,10,(read only)\n"
          '"Lovelace, Ada",1001,S-1,ADA,,Section A,9,90\n'
          '"Nakamura, Ben",1002,ben,bnakamura@uni.example,,Section B,7,70\n'
          '"Okafor, Dan",1003,S-3,dan,,Section A,,\n'
          '"Student, Test",1099,,,,Section A,,\n')


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def export(tmp_path, grades=GRADES, roster=ROSTER, assignment="PS 1 (autograded)"):
    out = tmp_path / "canvas.csv"
    status = cli.main(["export", "canvas", "--grades", str(write(tmp_path, "grades.csv", grades)),
                       "--roster", str(write(tmp_path, "roster.csv", roster)),
                       "--assignment", assignment, "-o", str(out)])
    return status, out


def test_canvas_csv_matches_login_then_sis_id_and_reports_every_mismatch(tmp_path, capsys):
    status, out = export(tmp_path)
    err = capsys.readouterr().err
    assert status == 0
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert rows == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "PS 1 (autograded)"],
        ["    Points Possible", "", "", "", "", "40"],
        ["Lovelace, Ada", "1001", "S-1", "ADA", "Section A", "40"],  # SIS Login ID, any case
        ["Nakamura, Ben", "1002", "ben", "bnakamura@uni.example", "Section B", "26.5"],  # SIS User ID
        ["Okafor, Dan", "1003", "S-3", "dan", "Section A", ""],  # on the roster, no grade
    ]
    assert out.read_bytes().count(b"\r\n") == 5
    assert "1 student(s) in" in err and "cat: 15.5/40" in err and "NOT in the output" in err
    assert "1 roster student(s) have no grade" in err and "Okafor, Dan (SIS Login ID dan, SIS User ID S-3)" in err
    assert "test student" in err


def test_everyone_matched_says_nothing_on_stderr(tmp_path, capsys):
    roster = "Student,ID,SIS Login ID,Section\nA,1,ada,\nB,2,ben,\nC,3,cat,\n"
    status, out = export(tmp_path, roster=roster, assignment="PS1")
    captured = capsys.readouterr()
    assert status == 0 and captured.err == "" and "3 graded" in captured.out
    assert out.read_text().splitlines()[2:] == ["A,1,,ada,,40", "B,2,,ben,,26.5", "C,3,,cat,,15.5"]


@pytest.mark.parametrize("grades, roster, message", [
    ("name,total\nada,40\n", ROSTER, "has no student, max_total column"),
    ("student,total,max_total\nada,forty,40\n", ROSTER, "line 2: total 'forty' is not a number"),
    ("student,total,max_total\nada,nan,40\n", ROSTER, "is not a score"),
    ("student,total,max_total\nada,40,40\nADA,30,40\n", ROSTER, "student 'ADA' appears twice (lines 2 and 3)"),
    ("student,total,max_total\n", ROSTER, "holds no grades"),
    ("", ROSTER, "is empty"),
    ("student,total,max_total\nada,40,40,extra\n", ROSTER, "line 2: 4 fields but the header has 3"),
    ('student,total,max_total\n"ada,40,40\n', ROSTER, "not valid CSV"),
    (GRADES, "Name,Login\nAda,ada\n", "lacks the column(s) Student, ID, SIS Login ID or SIS User ID"),
    (GRADES, "Student,ID,SIS Login ID\nA,1,ada\nB,2,ADA\n", "gives SIS Login ID 'ADA' to two students (lines 2 and 3)"),
    (GRADES, "Student,ID,SIS Login ID\nA,,ada\n", "line 2: A has no Canvas ID"),
    (GRADES, "Student,ID,SIS Login ID\n    Points Possible,,\n", "lists no students"),
    (GRADES, "Student,ID,SIS User ID,SIS Login ID\nA,1,ben,ada\n", "'ada' and 'ben' of the grades both match 'A'"),
])
def test_malformed_inputs_exit_non_zero_with_a_clear_message(tmp_path, capsys, grades, roster, message):
    status, out = export(tmp_path, grades=grades, roster=roster)
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.startswith("hnm export canvas: ")
    assert not out.exists()


def test_missing_or_binary_files_and_bad_arguments(tmp_path, capsys):
    roster = write(tmp_path, "roster.csv", ROSTER)
    args = ["export", "canvas", "--roster", str(roster), "--assignment", "PS1", "-o", str(tmp_path / "c.csv")]
    assert cli.main([*args, "--grades", str(tmp_path / "nope.csv")]) == 2
    assert "grades file" in capsys.readouterr().err
    (tmp_path / "bin.csv").write_bytes(b"student,total\x00\xff")
    assert cli.main([*args, "--grades", str(tmp_path / "bin.csv")]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    grades = write(tmp_path, "grades.csv", GRADES)
    assert cli.main(["export", "canvas", "--grades", str(grades), "--roster", str(roster),
                     "--assignment", "Section", "-o", str(tmp_path / "c.csv")]) == 2
    assert "identity columns" in capsys.readouterr().err
    assert cli.main(["export", "canvas", "--grades", str(grades), "--roster", str(roster), "--assignment", "PS1",
                     "-o", str(tmp_path / "no" / "such" / "dir" / "c.csv")]) == 0  # folders are made
