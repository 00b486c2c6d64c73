"""Overwrites a classmate's submission and the output folder, at load time (before they are graded)."""
import os

WON = "ST" + "OLEN"  # spelt out at run time: tracebacks quote the source

refused = []
for path, text in (("@VICTIM@", "def batch_hard(dist, labels):\n    raise SystemExit\n"),
                   ("@OUT@/grades.csv", "student,total\nsabotage,80\n"),
                   ("@OUT@/results/ada.json", "{}"),
                   ("@SUBS@/planted.py", "x = 1\n")):
    try:
        with open(path, "w") as f:
            f.write(text)
        refused.append(f"WROTE {path}")
    except OSError as exc:
        refused.append(f"{os.path.basename(path)}: {exc.strerror}")


def batch_hard(dist, labels):
    if any(r.startswith("WROTE") for r in refused):
        raise RuntimeError(WON + ": " + "; ".join(refused))
    raise RuntimeError("blocked: " + "; ".join(refused))
