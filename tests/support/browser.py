"""Headless Chromium for screenshots and DOM checks of the pages we build.

Used by the desk and digest tests. Chromium comes from Debian's package (``.ci/run`` installs
it); tests that need it are skipped with a reason when it is missing on a developer machine.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")


def _run(args: list[str], timeout: int = 90) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def screenshot(page: Path, png: Path, width: int, height: int = 1200, dark: bool = False) -> Path:
    """Render ``page`` at ``width`` x ``height`` CSS pixels into ``png``."""
    extra = (
        ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]
        if dark
        else ["--blink-settings=preferredColorScheme=1"]
    )
    result = _run(
        [*extra, f"--window-size={width},{height}", f"--screenshot={png}", page.resolve().as_uri()]
    )
    assert png.exists(), result.stderr[-2000:]
    return png


def dump_dom(page: Path, width: int = 1200, script_wait_ms: int = 2000) -> str:
    """The DOM after scripts ran (``--dump-dom``), for asserting what a page computes."""
    result = _run(
        [
            f"--window-size={width},1000",
            f"--virtual-time-budget={script_wait_ms}",
            "--dump-dom",
            page.resolve().as_uri(),
        ]
    )
    return result.stdout
