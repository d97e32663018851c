"""The posting desk in a real browser: copy payloads, screenshots at desktop and phone width."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.browser import dump_dom, screenshot
from tests.conftest import build_into
from tests.tdlib import parse_html
from tests.test_telegram import edge_source

ALLOWED = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("desk")
    content = tmp / "content"
    content.mkdir()

    def write(text: str, name: str = "questions.yaml") -> Path:
        path = content / name
        path.write_text(text, encoding="utf-8")
        return path

    build_into(edge_source(write), tmp / "dist")
    return tmp / "dist" / "telegram" / "index.html"


def payloads(page: Path) -> dict[str, dict[str, str]]:
    html = page.read_text(encoding="utf-8")
    raw = re.search(r'<script id="payloads" type="application/json">(.*?)</script>', html, re.S)
    assert raw is not None
    data: dict[str, dict[str, str]] = json.loads(raw.group(1))
    return data


def test_copy_payloads_hold_only_telegram_tags_and_matching_text(desk: Path) -> None:
    data = payloads(desk)
    assert len(data) >= 10
    for stem, p in data.items():
        parser = _Tags()
        parser.feed(p["html"])
        assert parser.tags <= ALLOWED, (stem, parser.tags - ALLOWED)
        assert "".join(parser.text) == p["text"], stem
        assert parse_html(p["html"])["text"] == p["text"], stem  # as Telegram sees it


@pytest.mark.slow
def test_desk_checks_every_payload_in_chromium(desk: Path) -> None:
    """The page parses each payload with the browser's own HTML parser (the DOM-level check)."""
    dom = dump_dom(desk)
    checks = re.findall(r'data-copy-check="([^"]*)"', dom)
    assert len(checks) == len(payloads(desk))
    assert set(checks) == {"ok"}, checks


@pytest.mark.slow
def test_desk_check_would_catch_a_bad_payload(desk: Path, tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    html = desk.read_text(encoding="utf-8")
    page.write_text(html.replace('{"html": "', '{"html": "<p>x</p>', 1), encoding="utf-8")
    dom = dump_dom(page)
    assert (
        'data-copy-check="tag &lt;p&gt; in the HTML"' in dom
        or 'data-copy-check="tag <p> in the HTML"' in dom
    )


@pytest.mark.slow
@pytest.mark.parametrize(("name", "width"), [("desktop", 1280), ("phone", 390)])
def test_desk_screenshots(desk: Path, name: str, width: int) -> None:
    out = Path("/tmp") / f"telegram-desk-{name}.png"
    png = screenshot(desk, out, width, 2400)
    data: Any = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == width  # the page was laid out at this width
