"""A build's progress: the library reports its stages to a callback and never prints; the
command line draws them on a terminal only, and ends with a one-line summary."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.build import fragments
from pipeline.commands.progress import REDRAW_EVERY, TerminalProgress, stage_label
from pipeline.targets.registry import TARGETS
from tests.support.banks import PINNED_EPOCH, ROOT, SEED, TEMPLATES, build_into

#: What the command line prints last (stdout), whatever the build's speed.
SUMMARY = re.compile(
    r"built 9 questions into dist/ in \d+\.\d s: 1 anki-deck, 1 calendar, .*"
    r"9 telegram-post-text; 0 warnings\n"
)


def copy_seed(folder: Path) -> Path:
    """The seed bank (without its lock) in ``folder``/content, so builds write only there."""
    (folder / "content").mkdir(parents=True)
    return Path(shutil.copy(SEED, folder / "content" / "questions.yaml"))


def files_in(folder: Path) -> dict[Path, bytes]:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_the_build_reports_each_stage_and_the_fragments_per_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = copy_seed(tmp_path)
    events: list[tuple[str, int, int]] = []
    build_into(source, tmp_path / "plain", cache=None)
    plain = files_in(tmp_path / "plain")
    # Nine questions are one chunk of the process pool once the pool is used for them.
    monkeypatch.setattr(fragments, "PARALLEL_MIN", 1)
    build_into(source, tmp_path / "watched", cache=None, progress=lambda *e: events.append(e))
    stages = [stage for stage, done, total in events if (done, total) == (0, 0)]
    render = [f"render:{name}" for name in TARGETS]  # in the registry's order
    assert stages == [
        "check:unchanged",
        "load+validate",
        "images:remote",
        "plan",
        "fragments",
        *render,
        "write:lock",
        "write:swap",
        "cache:save",
    ]
    counted = [(done, total) for stage, done, total in events if stage == "fragments" and total]
    if min(os.cpu_count() or 1, 8) >= 2:  # the pool: told once, when its one chunk is done
        assert counted == [(0, 9), (9, 9)]
    else:  # one core: no pool, told after each question
        assert counted == [(n, 9) for n in range(10)]
    watched = files_in(tmp_path / "watched")
    assert watched == plain  # watching changes no byte


def test_terminal_progress_draws_one_line_with_a_bar_and_clears_it() -> None:
    now = [0.0]
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
    drawer = TerminalProgress(stream, clock=lambda: now[0], width=120)
    drawer("load+validate", 0, 0)
    now[0] = 1.25
    drawer("fragments", 0, 0)
    drawer("fragments", 0, 4000)
    now[0] += REDRAW_EVERY / 2
    drawer("fragments", 50, 4000)  # too soon after the last draw: skipped
    now[0] += REDRAW_EVERY
    drawer("fragments", 2000, 4000)
    drawer("fragments", 4000, 4000)  # the end of a stage is always drawn
    drawer.close()
    stream.seek(0)
    frames = stream.read().split("\r\x1b[K")
    assert frames == [
        "",
        "[ 0.0 s] loading and validating the source…",
        "[ 1.2 s] rendering the questions…",
        "[ 1.2 s] rendering the questions  [" + "░" * 30 + "]  0/4,000",
        "[ 1.4 s] rendering the questions  [" + "█" * 15 + "░" * 15 + "]  2,000/4,000",
        "[ 1.4 s] rendering the questions  [" + "█" * 30 + "]  4,000/4,000",
        "",  # cleared: the summary starts on a clean line
    ]
    ascii_only = TerminalProgress(io.TextIOWrapper(io.BytesIO(), encoding="ascii"), width=80)
    assert ascii_only.line("fragments", 1, 2, 0.0).endswith(f"  [{'#' * 15}{'-' * 15}]  1/2")
    narrow = TerminalProgress(io.StringIO(), width=20)
    assert len(narrow.line("fragments", 1, 2, 0.0)) == 19  # never wraps onto a second line
    assert stage_label("render:anki") == "building the Anki deck"


def run_build(folder: Path, *args: str, tty: bool) -> tuple[bytes, str, int]:
    """``pipeline build`` in ``folder``; stderr on a pseudo-terminal when ``tty``.

    Returns what the terminal (or the stderr pipe) received, stdout and the exit code."""
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "build",
        "--offline",
        "--no-cache",
        "--out",
        "dist",
    ]
    command += ["--source", "content/questions.yaml", "--templates", "templates", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": PINNED_EPOCH}
    env["COLUMNS"] = "200"
    if not tty:
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, timeout=120)
        return done.stderr, done.stdout.decode(), done.returncode
    terminal, stderr = os.openpty()
    try:
        proc = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=stderr)
        os.close(stderr)
        received = bytearray()
        while True:
            try:
                data = os.read(terminal, 65536)
            except OSError:  # the other side closed (Linux reports EIO)
                break
            if not data:
                break
            received += data
        out = proc.stdout.read() if proc.stdout else b""
        code = proc.wait(timeout=120)
    finally:
        os.close(terminal)
    return bytes(received), out.decode(), code


@pytest.fixture
def project(tmp_path: Path) -> Path:
    copy_seed(tmp_path)
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    return tmp_path


def test_progress_is_drawn_on_a_terminal(project: Path) -> None:
    screen, out, code = run_build(project, tty=True)
    assert code == 0, screen
    assert SUMMARY.fullmatch(out)
    text = screen.decode()
    frames = text.split("\r\x1b[K")
    labels = [re.sub(r"^\[ *\d+\.\d s\] ", "", f).split("  [")[0].rstrip("…") for f in frames if f]
    for label in (
        "loading and validating the source",
        "fetching remote images",
        "planning the schedule",
        "rendering the questions",
        "building the Anki deck",
        "building the Telegram posts",
        "building the digest",
        "writing the output folder",
    ):
        assert label in labels, (label, labels)
    assert re.search(r"rendering the questions  \[█{30}\]  9/9", text)
    assert text.endswith("\r\x1b[K")  # cleared before the summary


def test_no_progress_without_a_terminal_or_with_q(project: Path) -> None:
    piped, out, code = run_build(project, tty=False)
    assert code == 0 and SUMMARY.fullmatch(out)
    assert piped == b""  # a log gets no control codes, no stages
    quiet, out, code = run_build(project, "-q", tty=True)
    assert code == 0 and SUMMARY.fullmatch(out)
    assert quiet == b""
