"""The course secret: created outside the repository, read from a flag, the environment or
the default file, and only ever shown as a one-way fingerprint."""

from __future__ import annotations

import stat

import pytest

from grader import cli, secret


@pytest.fixture(autouse=True)
def _no_ambient_secret(monkeypatch, tmp_path):
    monkeypatch.delenv(secret.ENV_VALUE, raising=False)
    monkeypatch.delenv(secret.ENV_FILE, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_init_writes_a_private_secret_and_refuses_to_overwrite(tmp_path):
    path = secret.create()
    assert path == tmp_path / "config" / "hnm" / "course-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = secret.load()
    assert first is not None and len(first) == 64
    with pytest.raises(secret.SecretError, match="already exists"):
        secret.create()
    secret.create(force=True)
    assert secret.load() != first


def test_sources_in_order(tmp_path, monkeypatch):
    assert secret.load() is None
    flag, env_file = tmp_path / "flag", tmp_path / "env"
    flag.write_text("f" * 32)
    env_file.write_text("e" * 32)
    monkeypatch.setenv(secret.ENV_VALUE, "v" * 32)
    assert secret.load() == b"v" * 32
    monkeypatch.setenv(secret.ENV_FILE, str(env_file))
    assert secret.load() == b"e" * 32
    assert secret.load(flag) == b"f" * 32


def test_bad_secrets_are_refused_with_the_file_named(tmp_path):
    short = tmp_path / "short"
    short.write_text("abc")
    with pytest.raises(secret.SecretError, match="too short"):
        secret.load(short)
    with pytest.raises(secret.SecretError, match="cannot read.*missing"):
        secret.load(tmp_path / "missing")


def test_derived_seeds_are_stable_distinct_and_public_without_a_secret():
    key = b"k" * 32
    assert secret.derive(key, "hypothesis", "nms") == secret.derive(key, "hypothesis", "nms")
    assert secret.derive(key, "hypothesis", "nms") != secret.derive(key, "hypothesis", "box_iou")
    assert secret.derive(b"j" * 32, "hypothesis", "nms") != secret.derive(key, "hypothesis", "nms")
    assert 0 <= secret.derive(key, "x") < 2**63
    assert secret.derive(None, "hypothesis", "nms", public=7) == 7
    assert secret.fingerprint(None) == "public"
    assert secret.fingerprint(key) == secret.fingerprint(key) != secret.fingerprint(b"j" * 32)
    assert key.decode() not in secret.fingerprint(key)


def test_command_line(tmp_path, capsys):
    assert cli.main(["secret", "fingerprint"]) == 1
    assert "hnm secret init" in capsys.readouterr().err
    assert cli.main(["secret", "init"]) == 0
    out = capsys.readouterr().out
    assert "fingerprint:" in out and secret.load().decode() not in out
    assert cli.main(["secret", "init"]) == 2
    assert cli.main(["secret", "fingerprint"]) == 0
