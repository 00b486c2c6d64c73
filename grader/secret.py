"""The course secret: the instructor's key that makes graded examples and graded quizzes
unpredictable to students, while every rerun with the same secret is byte-identical.

The references and the grader are public, so anything seeded by a public constant can be
precomputed by a student. Graded runs therefore derive every seed from a secret that only
the instructor holds: ``hnm secret init`` writes 32 random bytes (hex) to a file outside the
repository (mode 0600); ``hnm grade``/``hnm check``/Gradescope read it from ``--secret FILE``,
the ``HNM_COURSE_SECRET_FILE`` or ``HNM_COURSE_SECRET`` environment variables, or the default
file, in that order. Results record only :func:`fingerprint`, a one-way hash, so reruns can be
compared without revealing the key. Seeds are HMAC-SHA256 of the secret and a purpose string
(:func:`derive`), so knowing one derived seed says nothing about the secret or another seed.

Nothing here imports the rest of the grader.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import secrets
import sys
from pathlib import Path

ENV_VALUE = "HNM_COURSE_SECRET"
ENV_FILE = "HNM_COURSE_SECRET_FILE"
MIN_LENGTH = 16  # characters of a secret given as text


class SecretError(ValueError):
    """The secret could not be created or read; the message says which file and why."""


def default_path() -> Path:
    """``$XDG_CONFIG_HOME/hnm/course-secret`` (``~/.config/hnm/course-secret``): outside any checkout."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hnm" / "course-secret"


def create(path: Path | None = None, force: bool = False) -> Path:
    """Write a new random secret to ``path`` (default :func:`default_path`), readable by its
    owner only. An existing file is kept unless ``force``: replacing a secret changes every
    graded example, so results made with the old one no longer reproduce."""
    path = Path(path) if path else default_path()
    if path.exists() and not force:
        raise SecretError(f"{path} already exists; pass --force to replace it (old results will not reproduce)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def _parse(text: str, where: str) -> bytes:
    value = text.strip()
    if len(value) < MIN_LENGTH:
        raise SecretError(f"the course secret in {where} is too short (at least {MIN_LENGTH} characters)")
    return value.encode()


def read(path: Path) -> bytes:
    try:
        return _parse(Path(path).read_text(), str(path))
    except OSError as exc:
        raise SecretError(f"cannot read the course secret {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SecretError(f"the course secret {path} is not text") from None


def load(path: Path | None = None) -> bytes | None:
    """The secret from ``path``, else the environment, else the default file; None if none is set."""
    if path is not None:
        return read(Path(path))
    if os.environ.get(ENV_FILE):
        return read(Path(os.environ[ENV_FILE]))
    if os.environ.get(ENV_VALUE):
        return _parse(os.environ[ENV_VALUE], f"${ENV_VALUE}")
    if default_path().is_file():
        return read(default_path())
    return None


def fingerprint(secret: bytes | None) -> str:
    """A short one-way identifier of the secret ("public" without one), safe to print and store."""
    if secret is None:
        return "public"
    return hashlib.sha256(b"hnm course secret fingerprint\0" + secret).hexdigest()[:16]


def derive(secret: bytes | None, *purpose: object, public: int = 0) -> int:
    """A 63-bit seed for ``purpose`` (e.g. ``("hypothesis", exercise_id)``): HMAC-SHA256 of the
    secret, or ``public`` when there is no secret (practice runs stay reproducible and public)."""
    if secret is None:
        return public
    message = "\0".join(str(p) for p in purpose).encode()
    return int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest()[:8], "big") >> 1


PREDICTABLE_WARNING = (
    "no course secret is set, so the graded examples are the public ones and a student could "
    "precompute them: run `hnm secret init` once (or pass --secret FILE)"
)


def _command(args: argparse.Namespace) -> int:
    try:
        if args.action == "init":
            path = create(Path(args.path) if args.path else None, force=args.force)
            print(f"wrote a new course secret to {path} (keep it out of the repository and of student installs)")
            print(f"fingerprint: {fingerprint(read(path))}")
        else:
            value = load(Path(args.path) if args.path else None)
            if value is None:
                print(f"no course secret is set ({default_path()} does not exist); {PREDICTABLE_WARNING}", file=sys.stderr)
                return 1
            print(f"fingerprint: {fingerprint(value)}")
    except SecretError as exc:
        print(f"hnm secret: {exc}", file=sys.stderr)
        return 2
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("secret", help="create or identify the course secret that seeds graded examples")
    p.add_argument("action", choices=["init", "fingerprint"],
                   help="init: write a new secret file; fingerprint: print the one-way id of the current secret")
    p.add_argument("--path", metavar="FILE", help=f"the secret file (default: {default_path()})")
    p.add_argument("--force", action="store_true", help="with init: replace an existing secret")
    p.set_defaults(handler=_command)
