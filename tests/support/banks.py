"""Where the tests' banks live, the pinned time, and building them (in process or as the CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from pipeline.build.contract import BuildOptions
from pipeline.build.run import BuildReport, build

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"


SEED = ROOT / "content" / "questions.yaml"


TEMPLATES = ROOT / "templates"


#: A fixed "now" for builds in tests: 2026-11-20 12:00 UTC.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def build_into(source: Path, out: Path, **options: object) -> BuildReport:
    """Build ``source`` into ``out`` with the repository's templates and a fixed clock."""
    opts: dict[str, object] = {
        "source": source,
        "out": out,
        "templates": TEMPLATES,
        "now": NOW,
        "offline": True,  # tests reach no network (remote images: build/test_remote_images.py)
    }
    opts.update(options)
    return build(BuildOptions(**opts))  # type: ignore[arg-type]


#: The build's "now" in every command-line test (2026-11-20, noon UTC): without a lock file
#: the schedule starts from the build time, so a test must not follow the wall clock.
PINNED_EPOCH = "1795176000"


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pipeline ARGS`` as a user would, at the pinned build time (a build
    fetches no remote images)."""
    if args[:1] == ("build",) and "--offline" not in args:
        args = (*args, "--offline")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": PINNED_EPOCH, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
