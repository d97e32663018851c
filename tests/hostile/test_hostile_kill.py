"""A build killed at any moment (SIGKILL) leaves ``dist/`` whole and true to its manifest.

``tests/build/test_build.py`` stops the writer itself at one chosen point; this runs the real
command on a bank large enough to take seconds and kills it at several moments (loading, rendering,
writing, swapping). After every kill ``dist/`` is exactly the previous build or exactly the new
one (if the kill came after the swap): every file in the manifest with its sha256, nothing
unlisted. The lock file next to the source is always valid JSON. The next build cleans up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import hostile
from tests.support.banks import ROOT, TEMPLATES

QUESTIONS = 800
#: When to kill, as fractions of a full build's wall time (a few seconds): every
#: stage is hit, and a late kill may find the build already done (also fine).
MOMENTS = (0.15, 0.4, 0.65, 0.85, 0.97)


def write_bank(source: Path, version: str) -> None:
    questions = [
        {
            "id": f"q-{i}",
            "question": f"Вопрос {i} ({version}): что такое **ROC-AUC**?",
            "answer": f"Ответ {i} {version}. "
            + "Текст с *курсивом* и [ссылкой](https://example.org/). " * 4
            + "\n\n```python\ndef f(x):\n    return x * 2\n```\n\n- один\n- два $x^2$",
            "grades": [("junior", "middle", "senior")[i % 3]],
            "quiz": {"options": ["да", "нет"], "correct": 1},
        }
        for i in range(QUESTIONS)
    ]
    data = {"schedule": {"start": "2026-12-01"}, "questions": questions}
    source.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def start_build(folder: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": "1795176000"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "build",
            "--source",
            "content/questions.yaml",
            "--out",
            "dist",
            "--templates",
            str(TEMPLATES),
            *extra,
        ],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # the kill reaches forked render workers too
    )


def finish(proc: subprocess.Popen[bytes]) -> None:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]


def manifest_text(dist: Path) -> str:
    return (dist / "manifest.json").read_text(encoding="utf-8")


@pytest.mark.slow
def test_killing_the_cli_build_at_any_moment_leaves_dist_whole(tmp_path: Path) -> None:
    source = tmp_path / "content" / "questions.yaml"
    source.parent.mkdir()
    dist = tmp_path / "dist"
    write_bank(source, "v1")
    started = time.monotonic()
    finish(start_build(tmp_path, "--no-cache"))
    duration = time.monotonic() - started
    assert hostile.manifest_problems(dist) == []
    before = manifest_text(dist)

    write_bank(source, "v2")
    outcomes = []
    for n, fraction in enumerate(MOMENTS):
        moment = fraction * duration
        # One kill while the cache is in use: a killed cache write must not poison it.
        proc = start_build(tmp_path, *(() if n == 1 else ("--no-cache",)))
        time.sleep(moment)
        done = proc.poll() is not None
        if not done:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        assert hostile.manifest_problems(dist) == [], f"killed at {moment:.2f} s"
        json.loads((source.parent / "questions.lock.json").read_text(encoding="utf-8"))
        outcomes.append("done" if done else "old" if manifest_text(dist) == before else "new")

    finish(start_build(tmp_path))
    after = manifest_text(dist)
    assert after != before
    assert hostile.manifest_problems(dist) == []
    # Every killed build left either the old output or the complete new one.
    assert "old" in outcomes, outcomes
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".dist."))
    assert leftovers == [], leftovers  # the build's lock file is in its cache
    # And a clean rebuild from scratch gives the same output as the one after the kills.
    finish(start_build(tmp_path, "--no-cache"))
    assert manifest_text(dist) == after


@pytest.mark.slow
def test_two_builds_at_once_do_not_corrupt_dist(tmp_path: Path) -> None:
    """Both succeed, or the second says another build is writing; dist/ stays whole."""
    source = tmp_path / "content" / "questions.yaml"
    source.parent.mkdir()
    write_bank(source, "v1")
    procs = [start_build(tmp_path, "--no-cache") for _ in range(3)]
    outputs = [p.communicate(timeout=300)[1].decode() for p in procs]
    results = [(p.returncode, err) for p, err in zip(procs, outputs, strict=True)]
    for code, err in results:
        assert code == 0 or (code == 1 and "another build is writing" in err), err[-2000:]
    assert any(code == 0 for code, _ in results)
    assert hostile.manifest_problems(tmp_path / "dist") == []
