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


def test_graded_runs_are_seeded_by_the_secret_and_record_only_its_fingerprint(tmp_path, monkeypatch):
    from grader.engine import SEED
    from grader.grading import pipeline, submissions

    answer = tmp_path / "ada.py"
    answer.write_text("def pairwise_distances(x, squared=False):\n    raise NotImplementedError\n")
    seen = []

    class Spy(pipeline.ExerciseRun):
        def __init__(self, exercise, caller, examples, **seeds):
            seen.append((exercise.id, seeds))
            super().__init__(exercise, caller, examples, **seeds)

    monkeypatch.setattr(pipeline, "ExerciseRun", Spy)
    sub = submissions.single(answer)
    key = b"s" * 32
    public = pipeline.grade(sub, examples=3, only=("pairwise_distances",))
    graded = pipeline.grade(sub, examples=3, only=("pairwise_distances",), secret=key)
    assert public["seeded_by"] == "public" and graded["seeded_by"] == secret.fingerprint(key)
    assert key.decode() not in repr(graded)
    (_, public_seeds), (_, graded_seeds) = seen
    assert public_seeds == {"seed": SEED, "scale_seed": SEED}
    assert graded_seeds == {"seed": secret.derive(key, "hypothesis", "pairwise_distances"),
                            "scale_seed": secret.derive(key, "scale", "pairwise_distances")}
    assert len({SEED, *graded_seeds.values()}) == 3


def test_the_gradescope_archive_carries_the_secret_only_when_given(tmp_path):
    import zipfile

    from grader.exports import gradescope

    with_secret, without = tmp_path / "a.zip", tmp_path / "b.zip"
    gradescope.build_archive(with_secret, examples=5, secret=b"t" * 32)
    gradescope.build_archive(without, examples=5)
    with zipfile.ZipFile(with_secret) as z:
        info = z.getinfo(gradescope.SECRET_NAME)
        assert z.read(info).strip() == b"t" * 32 and (info.external_attr >> 16) & 0o777 == 0o600
    with zipfile.ZipFile(without) as z:
        assert gradescope.SECRET_NAME not in z.namelist()
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    assert gradescope._secret(root) is None
    (root / "source" / gradescope.SECRET_NAME).write_text("t" * 32 + "\n")
    assert gradescope._secret(root) == b"t" * 32


def test_resume_regrades_when_the_secret_changes(tmp_path):
    from grader.classrun import command

    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ada.py").write_text("def pairwise_distances(x, squared=False):\n    raise NotImplementedError\n")
    out = tmp_path / "out"
    first = command.run(subs, out, 1, "cpu", False, 2, secret=b"a" * 32)
    again = command.run(subs, out, 1, "cpu", True, 2, secret=b"a" * 32)
    other = command.run(subs, out, 1, "cpu", True, 2, secret=b"b" * 32)
    assert first[0]["seeded_by"] == again[0]["seeded_by"] == secret.fingerprint(b"a" * 32)
    assert other[0]["seeded_by"] == secret.fingerprint(b"b" * 32)


def test_a_table_of_answers_recorded_with_the_public_seed_earns_nothing_under_a_secret():
    """The replay attack of issue #20: record every input the public seed draws (the grader and the
    references are public) and answer from a table, with an empty answer for anything else."""
    import dataclasses

    import torch

    from grader.engine import SEED, ExerciseRun, LocalCaller
    from grader.engine import examples as drawing
    from grader.suites.registry import REGISTRY

    exercise = REGISTRY["batch_hard"]
    rules = dataclasses.replace(exercise, properties=tuple(p for p in exercise.properties if not p.scale))
    examples = 25
    table = {}
    for strategy in {id(s): s for s in [p.strategy for p in rules.properties] + [rules.generic]}.values():
        count = max(1, examples // 2) if strategy is rules.generic else examples
        drawn = drawing.draw(rules.id, rules.reference, strategy, SEED, count)
        table.update({key: drawn.expected(i) for i, key in enumerate(drawn.keys)})

    def batch_hard(dist, labels):
        empty = torch.zeros(0, dtype=torch.int64)
        return table.get(drawing.key([dist, labels]), (empty, empty, empty))

    public = ExerciseRun(rules, LocalCaller({"batch_hard": batch_hard}), examples=examples).run().score
    seed = secret.derive(b"a course secret nobody published", "hypothesis", rules.id, public=SEED)
    secret_run = ExerciseRun(rules, LocalCaller({"batch_hard": batch_hard}), examples=examples, seed=seed).run()
    assert public == rules.max_score  # the table is right on every public example...
    assert secret_run.score == 0.0  # ...and useless on the course's own
