"""Benchmark of the live preview, ``pipeline serve``, in a real browser (``make bench-preview``).

For each size it writes a synthetic bank (``bench/synthetic.py``), starts the server as a user
does (``python -m pipeline serve --port 0``, its own process), opens the page in Debian's
Chromium (Playwright, the system browser) and measures:

* start-up: from starting the server's process to the server answering, and to the page's
  first paint of the selected question (its Telegram and email panes showing its text);
* the outputs' warnings computed in the background after start-up (the server publishes one
  more version when they are all known): how long that takes; the edits wait for it;
* ten edits of one answer: from writing the file to the edited text appearing in the page's
  panes (every frame the page can read: the Telegram post and the email at each width; the
  Anki frames get their new document in the same step), median and p95 (on the page's clock),
  and where the time went (:data:`STEPS`, from the page's own timeline); then until the Anki
  frames that got a new document have been drawn by MathJax;
* a keystroke in the sidebar's search box: filtering every question, and until the list is
  drawn again (the next animation frame);
* the server's own time for each of those rebuilds (the line it prints for each);
* the server's peak memory (peak RSS of its process, and of any child process it started);
* then two of an editor's mistakes (:data:`MISTAKES`) and their fixes: how long until the
  page is told the source is stale, and good again, and the peak memory after each.

It asserts nothing; the README's figures come from it.

Usage: python bench/preview.py [--sizes 1000,10000] [--edits 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT))
from synthetic import write_bank  # noqa: E402

from tests.support.playwright import chromium, wait_in_page  # noqa: E402

#: The build's "now" for every run (as in bench.py): the schedule does not follow the clock.
EPOCH = "1796000000"
#: How long the server may take to start, or to compute every question's warnings.
START_TIMEOUT = 300.0
BACKGROUND_TIMEOUT = 900.0


class Server:
    """``python -m pipeline serve`` over ``source`` on a free port, in its own process."""

    def __init__(self, source: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": EPOCH}
        command = [sys.executable, "-m", "pipeline", "serve", "--source", str(source)]
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [*command, "--port", "0", "--templates", str(ROOT / "templates")],
            cwd=source.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.url = ""
        self.log: list[str] = []
        self._ready = threading.Event()
        # The server reports each rebuild on stderr: read it all the time, or the pipe fills.
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line.rstrip())
            found = re.search(r"(http://127\.0\.0\.1:\d+)", line)
            if found and not self.url:
                self.url = found.group(1)
                self._ready.set()
        self._ready.set()

    def wait_ready(self) -> float:
        """Seconds from starting the process to the server answering ``/api/state``."""
        if not self._ready.wait(START_TIMEOUT) or not self.url:
            raise SystemExit("the server did not start:\n" + "\n".join(self.log[-20:]))
        state(self.url)
        return time.perf_counter() - self.started

    def peak_rss_mb(self) -> tuple[float, float]:
        """Peak RSS of the server's process, and of it plus every child process it has."""
        own = _peak_rss_kb(self.process.pid)
        children = sum(_peak_rss_kb(pid) for pid in _descendants(self.process.pid))
        return own / 1024, (own + children) / 1024

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _peak_rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) if found else 0


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def state(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/api/state", timeout=60) as response:
        return dict(json.load(response))


def wait_for_background(url: str, seconds_since: float) -> float:
    """Wait for the version the server publishes once every question's warnings are known
    (the first rebuild is version 1); seconds since ``seconds_since`` (a perf_counter)."""
    deadline = time.monotonic() + BACKGROUND_TIMEOUT
    while state(url)["version"] < 2:
        if time.monotonic() > deadline:
            raise SystemExit("the server's background work did not finish")
        time.sleep(0.25)
    return time.perf_counter() - seconds_since


def edited_answer(source: Path, qid: str, marker: str) -> bytes:
    """The source with a paragraph holding ``marker`` added at the start of question
    ``qid``'s answer (what the editor's save writes)."""
    text = source.read_text(encoding="utf-8")
    block = text.index(f"  - id: {qid}\n")
    answer = text.index("    answer: |\n", block) + len("    answer: |\n")
    return (text[:answer] + f"      Правка {marker}.\n\n" + text[answer:]).encode()


#: An edit's time, split: the file written to the page receiving the ``change`` event (the
#: server's rebuild, its file watcher and the event), the event to the page's update starting
#: (its previous update finishing), the update (``/api/state`` and the question's JSON fetched
#: together, the list and panes updated), and the new srcdoc to the frames showing the text.
STEPS = ("to_event", "queued", "update", "frames", "update_state_fetch", "update_state_apply")


def update_steps(page: Any, written: float, shown: float) -> dict[str, float]:
    """Where the time between ``written`` and ``shown`` (the page's clock) went, from the
    page's own timeline of its updates (``window.preview.timeline``)."""
    timeline = page.evaluate("() => window.preview.timeline")
    done = [u for u in timeline if written < u["started"] and u["panesAssigned"] <= shown]
    if not done:
        return dict.fromkeys(STEPS, float("nan"))
    last = done[-1]
    event = last["eventAt"] or last["started"]
    return {
        "to_event": event - written,
        "queued": last["started"] - event,
        "update": last["panesAssigned"] - last["started"],
        "frames": shown - last["panesAssigned"],
        # Within "update": /api/state arriving (the question's JSON is fetched meanwhile),
        # and the page applying it (list, filters, problems).
        "update_state_fetch": last["stateArrived"] - last["started"],
        "update_state_apply": last["stateApplied"] - last["stateArrived"],
    }


#: An editor's mistakes, as a line added to a question: a key the format does not know
#: (located from the question alone), and a YAML syntax error (the whole file is read to
#: locate it, as the build does).
MISTAKES = {"unknown_key": "    grdaes: [junior]\n", "yaml_syntax": "    tags: [unclosed\n"}


def make_a_mistake(source: Path, qid: str, server: Server, inserted: str) -> dict[str, float]:
    """``inserted`` added to question ``qid``, then taken out again: until the server says
    the source is stale, and until it is good again (seconds)."""
    good = source.read_bytes()
    text = good.decode()
    line = f"  - id: {qid}\n"
    bad = text.replace(line, f"{line}{inserted}", 1).encode()
    version = state(server.url)["version"]
    started = time.perf_counter()
    source.write_bytes(bad)
    version = wait_for_state(server.url, version, stale=True)
    stale = time.perf_counter() - started
    started = time.perf_counter()
    source.write_bytes(good)
    wait_for_state(server.url, version, stale=False)
    return {"to_stale_s": round(stale, 2), "fixed_s": round(time.perf_counter() - started, 2)}


def wait_for_state(url: str, after: int, stale: bool) -> int:
    """Wait for a version newer than ``after`` whose ``stale`` is ``stale``; its number."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        now = state(url)
        if now["version"] > after and now["stale"] is stale:
            return int(now["version"])
        time.sleep(0.05)
    raise SystemExit("the server did not report the mistake, or its fix")


def rebuild_seconds(log: list[str]) -> list[float]:
    """The server's own time for each rebuild, from the lines it prints on the terminal."""
    return [float(m.group(1)) for m in map(REBUILT.search, log) if m]


REBUILT = re.compile(r"rebuilt in (\d+\.\d+) s")


def last_drawn(page: Any, written: float) -> float:
    """When the last Anki frame given a new document after ``written`` was drawn (MathJax
    done), on the page's clock."""
    frames = page.evaluate("() => window.preview.scriptedFrames")
    return float(max(f["drawnAt"] for f in frames if f["assignedAt"] > written))


def percentile(values: list[float], q: int) -> float:
    """The ``q``-th percentile, interpolated (``statistics.quantiles``, inclusive)."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


#: In the page, after its first paint: when its script started its first update (the page's
#: HTML, CSS and script loaded), how long that update took (the state and the question's
#: JSON), and when its frames showed the question (ms since the navigation started).
PAGE_START = """
() => {
  const first = window.preview.timeline[0];
  return {
    update_started: Math.round(first.started),
    update: Math.round(first.panesAssigned - first.started),
  };
}
"""

#: In the page: one keystroke in the search box; the filter's own time, and the time until
#: the list was drawn again (the list draws at the next animation frame).
KEYSTROKE = """
async (text) => {
  const search = document.getElementById("search");
  const start = performance.now();
  search.value = text;
  search.dispatchEvent(new Event("input"));
  const filtered = performance.now() - start;
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const shown = document.getElementById("list-count").textContent;
  return [filtered, performance.now() - start, shown];
}
"""


def measure_keystrokes(page: Any) -> dict[str, Any]:
    """Type a search and clear it again, a few times; medians in ms."""
    filtered, drawn = [], []
    for text in ("вопрос номер 5", "", "регуляризация", "", "q-0000", ""):
        f, d, _ = page.evaluate(KEYSTROKE, text)
        filtered.append(f)
        drawn.append(d)
    return {
        "filter_ms": round(statistics.median(filtered), 1),
        "to_next_frame_ms": round(statistics.median(drawn), 1),
        "dom_rows": page.evaluate("() => document.querySelectorAll('#list .row').length"),
    }


def bench_size(n: int, edits: int, work: Path) -> dict[str, Any]:
    source = write_bank(work / f"bank-{n}" / "content", n)
    qid = f"q-{n // 2:06d}"
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        server = Server(source)
        try:
            ready = server.wait_ready()
            page.goto(f"{server.url}/#q={qid}")
            wait_in_page(page, "selected", qid, timeout_ms=120_000)
            painted = wait_in_page(page, "readableFramesShow", f"Вопрос номер {n // 2} ", 120_000)
            first_paint = time.perf_counter() - server.started
            page_start = {**page.evaluate(PAGE_START), "painted": round(painted)}
            background = wait_for_background(server.url, server.started)
            reported = len(server.log)
            latencies, steps, drawn = [], [], []
            for k in range(edits):
                marker = f"МЕТКА{k:02d}Z"
                time.sleep(0.5)  # apart from the last edit, as an editor's saves are
                edited = edited_answer(source, qid, marker)
                written = page.evaluate("() => performance.now()")
                source.write_bytes(edited)  # the save: from its start
                shown = wait_in_page(page, "readableFramesShow", marker, 60_000)
                latencies.append(shown - written)
                steps.append(update_steps(page, written, shown))
                wait_in_page(page, "scriptedDrawnSince", written, 60_000)
                drawn.append(last_drawn(page, written) - written)
            rebuilds = rebuild_seconds(server.log[reported:])
            keystrokes = measure_keystrokes(page)
            own, total = server.peak_rss_mb()
            mistakes = {}
            for kind, inserted in MISTAKES.items():
                mistakes[kind] = make_a_mistake(source, qid, server, inserted)
                mistakes[kind]["peak_rss_mb"] = round(server.peak_rss_mb()[1])
        finally:
            server.stop()
    return {
        "questions": n,
        "startup_s": {"server_ready": round(ready, 2), "first_paint": round(first_paint, 2)},
        "page_startup_ms": page_start,
        "warnings_in_background_s": round(background, 1),
        "edit_to_pane_ms": {
            "median": round(statistics.median(latencies)),
            "p95": round(percentile(latencies, 95)),
            "all": [round(x) for x in latencies],
            "steps_median": {key: round(statistics.median(s[key] for s in steps)) for key in STEPS},
        },
        "server_rebuild_ms": {
            "median": round(statistics.median(rebuilds) * 1000),
            "all": [round(x * 1000) for x in rebuilds],
        },
        "edit_to_anki_drawn_ms": {
            "median": round(statistics.median(drawn)),
            "p95": round(percentile(drawn, 95)),
        },
        "search_keystroke": keystrokes,
        "server_peak_rss_mb": {"process": round(own), "with_children": round(total)},
        "mistakes": mistakes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--edits", type=int, default=10)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform()}; load {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            result = bench_size(n, args.edits, Path(tmp))
            print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
