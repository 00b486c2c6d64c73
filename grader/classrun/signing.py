"""Results files that ``hnm grade --resume`` can trust: signed by the grader that wrote them.

A results file in OUT says which submission it graded (``submission_sha256``) and how, but anyone
who can write OUT could plant one with full marks. Each document therefore carries
``signature``: an HMAC-SHA256 of its canonical JSON under a key that never leaves the grading
machine's trusted side, derived from the course secret (:func:`grader.secret.derive`'s HMAC), or,
without one, from a random key kept next to the default secret file (mode 0600, outside OUT and
out of the workers' reach). ``--resume`` keeps a file only when its signature verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from grader import secret as course_secret

FIELD = "signature"


def results_key(secret: bytes | None) -> bytes:
    """The signing key: from the course secret, else the machine's own results key."""
    if secret is not None:
        return hmac.new(secret, b"hnm results signature", hashlib.sha256).digest()
    path = course_secret.default_path().with_name("results-key")
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    try:
        os.link(tmp, path)  # first writer wins; a concurrent run reads the same key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())


def _mac(doc: dict[str, Any], key: bytes) -> str:
    body = {k: v for k, v in doc.items() if k != FIELD}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def sign(doc: dict[str, Any], key: bytes) -> None:
    """Add the signature to ``doc`` (in place; the document is plain JSON data)."""
    doc[FIELD] = _mac(json.loads(json.dumps({k: v for k, v in doc.items() if k != FIELD})), key)


def verified(path: Path, key: bytes) -> dict[str, Any] | None:
    """The results document in ``path`` if it is signed with ``key``, else None (never raises)."""
    try:
        if path.is_symlink() or path.stat().st_size > 64 << 20:
            return None
        doc = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get(FIELD), str):
        return None
    return doc if hmac.compare_digest(doc[FIELD], _mac(doc, key)) else None
