"""``pipeline serve`` over real HTTP on 127.0.0.1: state, panes, live edits, the safety rules.

Each test starts the server on a free port over a small bank in a tmp folder (the build's
"now" pinned), edits files on disk as an editor saves them, and reads what a page would read.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.preview.server import Running, start
from tests.support.anki import tiny_png
from tests.support.banks import NOW, PINNED_EPOCH, ROOT, TEMPLATES, dedent, run_cli

BANK = r"""
deck:
  title: Превью
  slug: preview-deck
schedule:
  start: 2026-12-01
  slots: [mon 10:00, thu 18:30]
newsletter:
  base_url: https://example.org/media/
questions:
  - id: first
    header: 📈
    question: Как изменится ROC-AUC после логарифма?
    answer: |
      ROC-AUC зависит только от порядка, а $\log$ монотонен.

      ![Точка](img/dot.png)
    grades: [junior]
    tags: [metrics]
  - id: second
    question: Что такое квиз?
    answer: |
      Ответ с `кодом` и **жирным** словом.
    grades: [middle, senior]
    quiz:
      options: [Опрос, Игра]
      correct: 1
      explanation: Это опрос.
"""


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    content = tmp_path / "content"
    (content / "img").mkdir(parents=True)
    (content / "img" / "dot.png").write_bytes(tiny_png((255, 0, 0)))
    source = content / "questions.yaml"
    source.write_text(dedent(BANK), encoding="utf-8")
    return source


@pytest.fixture
def server(bank: Path) -> Iterator[Running]:
    with start(bank, port=0, now=NOW) as running:
        yield running


def request(
    running: Running, path: str, host: str | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    """One request with an exact path and Host header (no client-side normalising)."""
    port = int(running.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
        conn.endheaders()
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def get_json(running: Running, path: str) -> Any:
    status, _, body = request(running, path)
    assert status == 200, (path, status, body[:200])
    return json.loads(body)


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the server did not get there in time")


def save(path: Path, text: str) -> None:
    """Write a file as an editor saves it; its modification time moves on even within the
    file system's clock tick."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def test_state_lists_the_questions_in_publishing_order(server: Running) -> None:
    state = get_json(server, "/api/state")
    assert state["stale"] is False and state["banner"] is None
    assert [q["id"] for q in state["questions"]] == ["first", "second"]
    first = state["questions"][0]
    assert first["number"] == 1 and first["date"] == "2026-12-03"  # the first slot, a Thursday
    assert first["grades"] == ["junior"] and first["tags"] == ["metrics"]
    assert first["words"] == "Как изменится ROC-AUC после логарифма?"
    assert state["provisional"] is True  # no lock file: the slots are planned, not remembered


def test_question_has_every_pane_with_its_dist_file(server: Running) -> None:
    data = get_json(server, "/api/question/second")
    panes = {p["kind"]: p for p in data["panes"]}
    assert list(panes) == ["anki-front", "anki-back", "telegram", "quiz", "digest"]
    assert panes["anki-front"]["file"] == "dist/anki/preview-deck.apkg"
    assert panes["telegram"]["file"] == "dist/telegram/002-second.html"
    assert panes["quiz"]["file"] == "dist/telegram/002-second.poll.json"
    assert panes["digest"]["file"] == "dist/digest/2026-W50.html"
    for pane in data["panes"]:
        assert pane["html"].startswith("<!DOCTYPE html>"), pane["kind"]
        assert "Что такое квиз?" in pane["html"], pane["kind"]
    assert "<code>кодом</code>" in panes["telegram"]["html"]
    counters = {c["name"]: (c["value"], c["limit"]) for c in panes["telegram"]["counters"]}
    assert counters["символы"][1] == 4096 and counters["сущности"] == (
        3,
        100,
    )  # the bold question, code, bold
    assert 'src="/mathjax/tex-chtml.js"' in panes["anki-back"]["html"]
    # The first question's image is shown from the source folder, in every output.
    first = get_json(server, "/api/question/first")
    for kind in ("anki-back", "telegram", "digest"):
        html = next(p["html"] for p in first["panes"] if p["kind"] == kind)
        assert 'src="/media/img/dot.png"' in html, kind
    assert [p["kind"] for p in first["panes"]] == ["anki-front", "anki-back", "telegram", "digest"]


def test_unknown_question_is_a_json_404(server: Running) -> None:
    status, headers, body = request(server, "/api/question/nope")
    assert status == 404 and json.loads(body) == {"error": "not found"}
    assert headers["Content-Type"].startswith("application/json")


class Events:
    """A Server-Sent Events reader on its own connection."""

    def __init__(self, running: Running) -> None:
        port = int(running.url.rsplit(":", 1)[1])
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        self.conn.request("GET", "/events")
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type", "").startswith("text/event-stream")

    def next_change(self) -> dict[str, Any]:
        event = None
        while True:
            raw = self.response.readline()
            if not raw:
                raise AssertionError("the event stream ended before a change event")
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "change":
                return dict(json.loads(line.removeprefix("data: ")))

    def close(self) -> None:
        self.conn.close()


def test_an_edit_pushes_a_change_and_new_text_in_every_pane(bank: Path, server: Running) -> None:
    events = Events(server)
    try:
        before = get_json(server, "/api/state")["version"]
        save(bank, bank.read_text(encoding="utf-8").replace("Что такое квиз?", "Что такое опрос?"))
        change = events.next_change()
    finally:
        events.close()
    assert change["version"] > before
    assert change["selected"] == "second" and change["stale"] is False
    data = get_json(server, "/api/question/second")
    for pane in data["panes"]:
        assert "Что такое опрос?" in pane["html"], pane["kind"]
        assert "Что такое квиз?" not in pane["html"], pane["kind"]


def test_a_page_with_a_version_gets_only_the_changed_entries(bank: Path, server: Running) -> None:
    first = get_json(server, "/api/state")
    events = Events(server)
    try:
        save(bank, bank.read_text(encoding="utf-8").replace("Что такое квиз?", "Что такое опрос?"))
        events.next_change()
    finally:
        events.close()
    full = get_json(server, "/api/state")
    since = get_json(server, f"/api/state?since={first['version']}")
    assert "questions" not in since and since["since"] == first["version"]
    assert since["count"] == len(full["questions"])
    assert [index for index, _ in since["changed"]] == [1]  # the edited question only
    rebuilt = list(first["questions"])
    for index, entry in since["changed"]:
        rebuilt[index] = entry
    assert rebuilt == full["questions"]
    assert {k: v for k, v in since.items() if k not in ("since", "count", "changed")} == {
        k: v for k, v in full.items() if k != "questions"
    }
    # A version it no longer knows, or a query it does not read: the whole state.
    for query in ("since=999999", "since=x", "since=1&x=2"):
        assert get_json(server, f"/api/state?{query}") == full


def test_a_template_edit_updates_the_cards(bank: Path, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    with start(bank, port=0, templates=templates, now=NOW) as running:
        css = templates / "anki" / "card.css"
        save(css, css.read_text(encoding="utf-8") + "\n.question { letter-spacing: 7px; }\n")

        def restyled() -> bool:
            data = get_json(running, "/api/question/first")
            return "letter-spacing: 7px" in data["panes"][0]["html"]

        wait_for(restyled)


def test_broken_yaml_is_stale_with_a_located_banner_until_fixed(
    bank: Path, server: Running
) -> None:
    good = bank.read_text(encoding="utf-8")
    save(bank, good.replace("grades: [junior]", "grades: [junior, mid]"))
    state = wait_for(lambda: (s := get_json(server, "/api/state"))["stale"] and s)
    assert "questions.yaml:" in state["banner"] and "mid" in state["banner"]
    line = good.splitlines().index("    grades: [junior]") + 1
    assert f"questions.yaml:{line}:" in state["banner"]
    assert [q["id"] for q in state["questions"]] == ["first", "second"]  # the last good list
    assert state["problems"][0]["question"] == "first"
    data = get_json(server, "/api/question/first")  # the last good panes
    assert "ROC-AUC" in data["panes"][0]["html"]
    save(bank, good)
    state = wait_for(lambda: not (s := get_json(server, "/api/state"))["stale"] and s)
    assert state["banner"] is None and state["problems"] == []


def test_problems_are_located_at_their_question(bank: Path, server: Running) -> None:
    text = bank.read_text(encoding="utf-8")
    long_question = "Что такое квиз, " + "и ещё раз, " * 30 + "наконец?"
    text = text.replace("Что такое квиз?", long_question)  # too long for a poll: an error
    text = text.replace("монотонен.", "монотонен. ![[dot.png]]")  # Obsidian's embed: a warning
    save(bank, text)
    state = wait_for(
        lambda: (s := get_json(server, "/api/state"))["questions"][1]["problems"] and s
    )
    assert state["stale"] is False  # the source loads: the problems are the outputs'
    by_question = {p["question"]: p for p in state["problems"]}
    quiz, embed = by_question["second"], by_question["first"]
    assert quiz["severity"] == "error" and "quiz" in quiz["message"]
    line = text.splitlines().index("      options: [Опрос, Игра]") + 1  # the quiz's mapping
    assert quiz["where"] == f"{bank}:{line}:7"
    assert embed["severity"] == "warning" and "![[dot.png]]" in embed["message"]
    assert [q["problems"] for q in state["questions"]] == [1, 1]
    data = get_json(server, "/api/question/second")
    assert [p["message"] for p in data["problems"]] == [quiz["message"]]


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "127.0.0.1:1", "localhost.evil.example", ""],
)
def test_a_foreign_host_is_refused(server: Running, host: str) -> None:
    port = server.url.rsplit(":", 1)[1]
    status, headers, body = request(server, "/api/state", host=host.format(port=port))
    assert status == 403
    assert b"questions" not in body
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("host", ["localhost", "localhost:{port}", "127.0.0.1", "[::1]:{port}"])
def test_localhost_names_are_served(server: Running, host: str) -> None:
    port = server.url.rsplit(":", 1)[1]
    assert request(server, "/api/state", host=host.format(port=port))[0] == 200


def test_only_get_and_head(server: Running) -> None:
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PROPFIND"):
        status, headers, _ = request(server, "/api/state", method=method)
        assert status == 405, method
    status, headers, body = request(server, "/api/state", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


def test_every_response_carries_the_safety_headers(server: Running) -> None:
    for path in ("/", "/api/state", "/nope", "/mathjax/tex-chtml.js", "/media/img/dot.png"):
        status, headers, _ = request(server, path)
        assert status in (200, 404), path
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Content-Type-Options"] == "nosniff"
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp


def test_the_page_and_mathjax_are_served(server: Running) -> None:
    status, headers, body = request(server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    status, headers, body = request(server, "/mathjax/tex-chtml.js")
    assert status == 200 and headers["Content-Type"].startswith("application/javascript")
    assert b"MathJax" in body
    for path in ("/mathjax/../server.py", "/mathjax/%2e%2e/%2e%2e/server.py", "/mathjax/.hidden"):
        assert request(server, path)[0] == 404, path
    status, headers, _ = request(server, "/mathjax/output/chtml/fonts/woff-v2/MathJax_Zero.woff")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    assert request(server, "/assets/index.html")[0] == 200
    for path in ("/assets/../server.py", "/assets/%2e%2e/server.py", "/assets/%2e%2e%2fsession.py"):
        assert request(server, path)[0] == 404, path


def test_media_serves_the_source_folders_images_only(bank: Path, server: Running) -> None:
    status, headers, body = request(server, "/media/img/dot.png")
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert body == (bank.parent / "img" / "dot.png").read_bytes()
    outside = bank.parent.parent / "secret.png"
    outside.write_bytes(tiny_png((0, 0, 0)))
    (bank.parent / "img" / "link.png").symlink_to(outside)
    hidden = bank.parent / ".git"
    hidden.mkdir()
    (hidden / "x.png").write_bytes(tiny_png((1, 1, 1)))
    (bank.parent / "fake.png").write_text("not an image", encoding="utf-8")
    for path in (
        "/media/../secret.png",
        "/media/img/../../secret.png",
        "/media/%2e%2e/secret.png",
        "/media/%2E%2E%2Fsecret.png",
        "/media/img%2f..%2f..%2fsecret.png",
        f"/media/{outside}",
        f"/media//{outside}",
        "/media/%2Fetc%2Fpasswd",
        "/media/img/link.png",
        "/media/.git/x.png",
        "/media/questions.yaml",
        "/media/fake.png",
        "/media/",
        "/media/img",
    ):
        status, _, body = request(server, path)
        assert status == 404, path
        assert body == b'{"error": "not found"}', path


def test_dist_and_the_lock_are_never_written(bank: Path, server: Running) -> None:
    folder = bank.parent.parent
    lock = bank.with_name("questions.lock.json")
    lock.write_text('{"version": 1, "sections": {}}\n', encoding="utf-8")
    stamp = lock.stat().st_mtime_ns
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    version = get_json(server, "/api/state")["version"]
    save(bank, bank.read_text(encoding="utf-8").replace("порядка", "порядка объектов"))
    wait_for(lambda: get_json(server, "/api/state")["version"] > version)
    get_json(server, "/api/question/first")
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before
    assert lock.stat().st_mtime_ns == stamp
    assert not (folder / "dist").exists() and not (Path.cwd() / "dist" / "preview-deck").exists()


def test_stop_ends_event_streams_and_frees_the_port(bank: Path) -> None:
    running = start(bank, port=0, now=NOW)
    events = Events(running)
    running.stop()
    assert events.response.read() == b""  # the stream ended
    events.close()
    with pytest.raises(OSError):
        request(running, "/api/state")


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_the_command_cleanly(bank: Path, tmp_path: Path, stop: signal.Signals) -> None:
    """``pipeline serve`` as a user runs it: it says where it listens, answers, and exits 0
    on Ctrl-C (SIGINT) or SIGTERM without a traceback, its temporary folder deleted."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SOURCE_DATE_EPOCH": PINNED_EPOCH,
        "TMPDIR": str(scratch),
    }
    command = [sys.executable, "-m", "pipeline", "serve", "--source", str(bank), "--port", "0"]
    process = subprocess.Popen(command, cwd=bank.parent, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url is not None, line
        port = int(url.group().rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/api/state")
        assert json.loads(conn.getresponse().read())["questions"][0]["id"] == "first"
        conn.close()
        assert [p.name[:17] for p in scratch.iterdir()] == ["pipeline-preview-"]
        # The terminal shows each rebuild: the start's, an edit's, a broken source's.
        assert re.search(
            r"rebuilt in \d+\.\d\d s: 2 questions, 0 problems$", process.stderr.readline()
        )
        text = bank.read_text(encoding="utf-8")
        bank.write_text(text.replace("Что такое", "Что же такое", 1), encoding="utf-8")
        assert "rebuilt in" in process.stderr.readline()
        bank.write_text(text + "  - id: [broken\n", encoding="utf-8")
        line = process.stderr.readline()
        assert line.startswith(tuple("0123456789")) and "stale, the last good preview" in line
        assert "questions.yaml:" in line
        process.send_signal(stop)
        assert process.wait(timeout=20) == 0
        assert "Traceback" not in process.stderr.read()
        assert list(scratch.iterdir()) == []
    finally:
        process.kill()
        process.wait()


def test_a_malformed_request_gets_the_safety_headers_too(server: Running) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        # A header line longer than the parser takes: it answers 431 by itself.
        conn.sendall(b"GET / HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n")
        answer = conn.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 431"), answer[:80]
    assert "X-Content-Type-Options: nosniff" in answer
    assert "Content-Security-Policy: default-src 'self'" in answer


@pytest.mark.slow
def test_a_missing_source_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("serve", "--source", str(tmp_path / "nope.yaml"), "--port", "0")
    assert result.returncode == 2
    assert (
        result.stderr == f"pipeline: error: {tmp_path / 'nope.yaml'}: No such file or directory\n"
    )
