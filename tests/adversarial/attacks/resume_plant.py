"""Plants its own results file (full marks) for a later `hnm grade --resume`."""
import json

WON = "ST" + "OLEN"  # spelt out at run time: tracebacks quote the source


def batch_hard(dist, labels):
    doc = {"student": "resume_plant", "total": 80.0, "max_total": 80.0, "exercises": {}}
    try:
        with open("@OUT@/results/resume_plant.json", "w") as f:
            json.dump(doc, f)
        raise RuntimeError(WON + ": planted a results file")
    except OSError as exc:
        raise RuntimeError(f"blocked: {exc}") from None
