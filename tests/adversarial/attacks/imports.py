"""Imports the references and the grader, by name and from their files."""
import importlib.util
import sys

WON = "ST" + "OLEN"  # spelt out at run time: tracebacks quote the source


def batch_hard(dist, labels):
    refused = []
    for name in ("solutions", "grader.suites.batch_hard", "tests.oracles"):
        try:
            module = importlib.import_module(name)
            raise RuntimeError(f"{WON}: imported {name}: {module!r}")
        except (ImportError, OSError) as exc:
            refused.append(f"{name}: {type(exc).__name__}")
    try:
        spec = importlib.util.spec_from_file_location("stolen", "@ROOT@/solutions/__init__.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["stolen"] = module
        spec.loader.exec_module(module)
        raise RuntimeError(WON + ": loaded solutions from its file")
    except (ImportError, OSError) as exc:
        refused.append(f"file: {type(exc).__name__}")
    raise RuntimeError("blocked: " + "; ".join(refused))
