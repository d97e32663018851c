"""The build skeleton: atomic dist/, manifest, lock file, CLI commands and exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.build.contract import OutputFile
from pipeline.build.out_folder import build_lock
from pipeline.build.run import check
from pipeline.cli import main
from pipeline.errors import PipelineError
from tests.support.banks import ROOT, SEED, build_into, run_cli
from tests.support.write import write_outputs


def manifest(dist: Path) -> dict[str, dict[str, object]]:
    data = json.loads((dist / "manifest.json").read_text(encoding="utf-8"))
    return {entry["path"]: entry for entry in data["outputs"]}


def test_seed_validates_with_all_nine_questions() -> None:
    bank, warnings = check(SEED)
    assert [q.id for q in bank.questions] == [
        "roc-auc-log",
        "logistic-vs-linear-regression",
        "batch-normalization",
        "ranking-metrics",
        "metric-vs-loss",
        "knn",
        "matrix-diagonal-sum",
        "decision-tree-entropy",
        "l1-vs-l2",
    ]
    assert warnings == ()
    diag = bank.by_id()["matrix-diagonal-sum"]
    code = diag.doc.find(".//pre/code")
    assert code is not None and code.get("class") == "language-python"
    assert "if i != n - i - 1:" in (code.text or "")


def test_manifest_lists_every_file_with_its_hash(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    source = tmp_path / "content" / "questions.yaml"
    source.write_bytes(SEED.read_bytes())
    dist = tmp_path / "dist"
    build_into(source, dist)
    files = {str(p.relative_to(dist)) for p in dist.rglob("*") if p.is_file()}
    listed = manifest(dist)
    assert files - {"manifest.json"} == set(listed)
    for path, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256((dist / path).read_bytes()).hexdigest()
        assert isinstance(entry["kind"], str) and entry["kind"]
    assert listed["README.md"]["kind"] == "readme"
    # The committed dist/README.md is exactly what the build writes there.
    assert (ROOT / "dist" / "README.md").read_bytes() == (dist / "README.md").read_bytes()


def test_rebuild_of_unchanged_source_leaves_lock_file_untouched(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    source = tmp_path / "content" / "questions.yaml"
    source.write_bytes(SEED.read_bytes())
    build_into(source, tmp_path / "dist")
    lock = source.with_name("questions.lock.json")
    first = lock.read_bytes()
    stamp = lock.stat().st_mtime_ns
    time.sleep(0.01)
    build_into(source, tmp_path / "dist")
    assert lock.read_bytes() == first
    assert lock.stat().st_mtime_ns == stamp


def test_writer_refuses_paths_outside_and_duplicates(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    for bad in ("../escape.txt", "/etc/passwd", "a/../../b", "manifest.json", ""):
        with pytest.raises(PipelineError, match="not a plain path"):
            write_outputs([OutputFile(bad, "x", b"")], dist)
    with pytest.raises(PipelineError, match="same path"):
        write_outputs([OutputFile("a.txt", "x", b"1"), OutputFile("A.txt", "x", b"2")], dist)
    assert not dist.exists()
    assert not (tmp_path / "escape.txt").exists()


def test_writer_swaps_whole_folders(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    write_outputs([OutputFile("old/only-in-old.txt", "x", b"old")], dist)
    write_outputs([OutputFile("new.txt", "x", b"new")], dist)
    assert sorted(str(p.relative_to(dist)) for p in dist.rglob("*") if p.is_file()) == [
        "README.md",
        "manifest.json",
        "new.txt",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["dist"]  # no staging left behind


def test_second_concurrent_build_gets_a_clear_message(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    with (
        build_lock(dist),
        pytest.raises(PipelineError, match="another build is writing"),
        build_lock(dist),
    ):
        pass


KILL_SCRIPT = """
import sys, time
from pathlib import Path
import pipeline.build.write as w
from pipeline.build.contract import OutputFile
from tests.support.write import write_outputs
real = w.Staging.add
count = 0
def slow(self, f):
    global count
    count += 1
    if count == 50:
        print("writing", flush=True)
        time.sleep(60)
    return real(self, f)
w.Staging.add = slow
files = [OutputFile(f"f{i:03d}.txt", "x", b"new") for i in range(200)]
write_outputs(files, Path(sys.argv[1]))
"""


def test_a_killed_build_leaves_the_previous_dist_whole(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    write_outputs([OutputFile("f000.txt", "x", b"old")], dist)
    before = {p.name: p.read_bytes() for p in dist.iterdir()}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(dist)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert {p.name: p.read_bytes() for p in dist.iterdir()} == before
    # The next build cleans up the half-written staging folder.
    write_outputs([OutputFile("g.txt", "x", b"next")], dist)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]


def test_cli_validate_stats_and_usage_errors() -> None:
    ok = run_cli("validate")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "content/questions.yaml: 9 questions, 0 errors, 0 warnings"
    stats = run_cli("stats")
    assert stats.returncode == 0
    assert "  junior               8\n" in stats.stdout
    assert "  metrics              3\n" in stats.stdout  # aligned on recommender-systems
    missing = run_cli("validate", "--source", "no/such.yaml")
    assert missing.returncode == 2
    assert missing.stderr.strip() == "pipeline: error: no/such.yaml: No such file or directory"
    assert run_cli("build", "--frobnicate").returncode == 2
    assert run_cli().returncode == 2


def test_new_appends_a_question_with_a_fresh_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "content").mkdir()
    source = tmp_path / "content" / "questions.yaml"
    deck = "deck:\n  title: Библиотека собеса по Data Science\n  slug: ds-interview\n"
    text = SEED.read_text(encoding="utf-8")
    assert deck in text
    # Questions are not last: the skeleton must go after the last question, not at the end.
    text = text.replace(deck, "") + "\n# trailing comment\n" + deck
    source.write_text(text, encoding="utf-8")
    lock = source.with_name("questions.lock.json")
    lock.write_text(
        json.dumps({"version": 1, "sections": {"anki": {"notes": {"new-question-1": {}}}}})
    )  # a removed question's id is never reused
    monkeypatch.chdir(tmp_path)
    assert main(["new", "--grade", "middle"]) == 0
    out = capsys.readouterr().out
    assert "added question 'new-question-2'" in out
    new_text = source.read_text(encoding="utf-8")
    assert new_text.index("- id: new-question-2") < new_text.index("# trailing comment")
    assert new_text.endswith("# trailing comment\n" + deck)
    # The skeleton loads as the tenth question; its TODO text is flagged until filled in.
    bank, warnings = check(source)
    assert [q.id for q in bank.questions][-1] == "new-question-2"
    assert bank.questions[-1].grades == ("middle",)
    assert [w.path for w in warnings] == ["questions[9].question", "questions[9].answer"]
    assert all(w.message == "still says TODO; fill it in" for w in warnings)
    assert main(["new", "--id", "knn"]) == 1
    assert "id 'knn' is already used" in capsys.readouterr().err


def test_source_date_epoch_sets_the_build_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.build.run import build_time

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert build_time(None).timestamp() == 1700000000
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert abs(build_time(None).timestamp() - time.time()) < 5
