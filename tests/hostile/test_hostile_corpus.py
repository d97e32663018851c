"""Every command on a corpus of hostile inputs: a clean exit code and one located line, never
a traceback, a hang or a crash.

The inputs are made at test time (no fixture holds a FIFO or a 600 MB file): what is not a
file, what is too big, what is not text, what nests too deep, what loops. Each is handed to
every command that reads a file. The families' exact messages are tested beside their code
(test_hostile_inputs.py, _images.py, _out.py, _settings.py); this corpus guards the
promise that holds for all of them at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.banks import PINNED_EPOCH, ROOT

#: name -> how to make it inside a folder (returns the path to hand to a command).
Maker = Callable[[Path], Path]


def _write(name: str, data: bytes) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return make


def _fifo(folder: Path) -> Path:
    path = folder / "questions.yaml"
    os.mkfifo(path)
    return path


def _sparse(folder: Path) -> Path:
    path = folder / "questions.yaml"
    with path.open("wb") as f:
        f.truncate(600 * 1024 * 1024)  # 600 MB of NULs, none of them written to disk
    return path


def _loop(folder: Path) -> Path:
    path = folder / "questions.yaml"
    path.symlink_to("questions.yaml")
    return path


def _folder(folder: Path) -> Path:
    path = folder / "questions.yaml"
    path.mkdir()
    return path


INPUTS: dict[str, Maker] = {
    "missing": lambda folder: folder / "missing.yaml",
    "a folder": _folder,
    "a FIFO": _fifo,
    "a device": lambda folder: Path("/dev/zero"),
    "a loop of links": _loop,
    "empty": _write("questions.yaml", b""),
    "600 MB sparse": _sparse,
    "binary": _write("questions.yaml", bytes(range(256)) * 64),
    "invalid UTF-8": _write("questions.yaml", b"questions:\n  - id: \xff\xfe\n"),
    "NUL bytes": _write("questions.yaml", b"questions: [\x00\x00]\n"),
    "deep nesting": _write("questions.yaml", b"questions: " + b"[" * 5000 + b"]" * 5000),
    "a YAML tag": _write("questions.yaml", b"questions: !!binary aGVsbG8=\n"),
    "JSON nesting": _write(
        "result.json", b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    ),
    "a lone surrogate": _write("result.json", b'{"messages": [{"id": 1, "text": "\\ud800"}]}'),
}


def _commands(path: Path, folder: Path) -> Iterator[tuple[str, list[str]]]:
    yield "build", ["build", "--source", str(path), "--out", str(folder / "dist"), "--offline"]
    yield "validate", ["validate", "--source", str(path)]
    yield "stats", ["stats", "--source", str(path)]
    yield "new", ["new", "--source", str(path), "--id", "fresh-id"]
    yield "send", ["send", str(path), "--to", "reader@example.org", "--dry-run"]
    yield "import-telegram", ["import-telegram", str(path), "--out", str(folder / "out.yaml")]
    yield (
        "import-telegram --merge",
        ["import-telegram", str(folder / "r.json"), "--merge", str(path)],
    )


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": PINNED_EPOCH}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_no_command_ever_answers_a_hostile_input_with_a_traceback(tmp_path: Path) -> None:
    runs: list[tuple[str, str, list[str], Path]] = []
    for name, make in INPUTS.items():
        folder = tmp_path / name.replace(" ", "-")
        folder.mkdir()
        (folder / "r.json").write_text('{"name": "c", "type": "public_channel", "messages": []}')
        path = make(folder)
        for command, args in _commands(path, folder):
            runs.append((name, command, args, folder))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda run: _run(run[2], run[3]), runs))
    bad = []
    for (name, command, _, _), result in zip(runs, results, strict=True):
        lines = result.stderr.strip().splitlines()
        if (
            result.returncode not in (1, 2)
            or "Traceback" in result.stderr
            or not lines
            or len(lines) > 3
        ):
            bad.append(f"{command} on {name}: exit {result.returncode}: {result.stderr[-300:]!r}")
    assert bad == [], "\n".join(bad)
    assert len(runs) == len(INPUTS) * 7
