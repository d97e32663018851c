"""The posting desk in a real browser: copy payloads, screenshots at desktop and phone width."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from pipeline.targets.telegram import text as tt
from pipeline.targets.telegram.text import visible_text
from tests.support.banks import build_into
from tests.support.browser import dump_dom, screenshot
from tests.support.tdlib import parse_html
from tests.support.telegram import DESK_DATA, edge_source, entries

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


def payloads(page: Path) -> dict[str, dict[str, Any]]:
    """stem -> what the Copy buttons of that message copy (html, markdown, maybe text)."""
    return {
        stem: part
        for entry in entries(page)
        for stem, part in zip(entry["stems"], entry["post"]["parts"], strict=True)
    }


def test_copy_payloads_hold_only_telegram_tags_and_matching_text(desk: Path) -> None:
    data = payloads(desk)
    assert len(data) >= 10
    for stem, p in data.items():
        parser = _Tags()
        parser.feed(p["html"])
        assert parser.tags <= ALLOWED, (stem, parser.tags - ALLOWED)
        # text/plain is the HTML's visible text, derived by the page unless given.
        text = p.get("text", visible_text(p["html"]))
        assert "".join(parser.text) == text, stem
        assert parse_html(p["html"])["text"] == text, stem  # as Telegram sees it
        assert tt.utf16_len(text) == p["length"], stem
        # The desk copies exactly the post files.
        assert p["html"] == (desk.parent / f"{stem}.html").read_text(encoding="utf-8"), stem
        assert p["markdown"] == (desk.parent / f"{stem}.txt").read_text(encoding="utf-8"), stem


def test_desk_data_places_every_post(desk: Path) -> None:
    data = entries(desk)
    assert [e["number"] for e in data] == list(range(1, len(data) + 1))
    assert [e["post"]["id"] for e in data] == [
        "emoji",
        "code-symbols",
        "table-and-raw",
        "many-marks",
        "long",
        "photo",
    ]
    assert data[0]["when"] == "вт 01.12.2026 09:00"
    assert data[0]["iso"] == "2026-12-01T09:00:00+01:00"
    assert data[2]["poll_file"] == "003-table-and-raw.poll.json"
    assert data[2]["post"]["poll"]["options"] == ["Один", "Два", "Три"]
    assert data[3]["stems"][:2] == ["004-many-marks", "004-many-marks.2"]
    photo = data[5]
    assert photo["photos"] == ["006-photo-1.png"] and photo["post"]["parts"][0]["photo"] == 1
    assert photo["post"]["parts"][0]["limit"] == tt.CAPTION_LIMIT


def test_desk_holds_each_post_once(desk: Path) -> None:
    """The page is compact: a post's HTML is in the data only, not repeated."""
    page = desk.read_text(encoding="utf-8")
    for stem, p in payloads(desk).items():
        encoded = json.dumps(p["html"], ensure_ascii=False)[1:-1]
        encoded = encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        assert page.count(encoded) == 1, stem
        assert "text" not in p, stem  # derivable from the HTML, so not embedded
    # The markup of a post is written once, in a <template>, whatever the number of posts.
    assert page.count("<article") == 1


def test_desk_data_cannot_end_its_script(tmp_path: Path, write_source: Any) -> None:
    source = write_source("""\
        questions:
          - id: q
            question: "Что делает </script><script>alert(1)</script>?"
            answer: "Текст <!-- и --> и </SCRIPT > и `</script>`."
            grades: [junior]
            quiz:
              options: ["</script>", "<!--"]
              correct: 1
        """)
    build_into(source, tmp_path / "dist")
    page = (tmp_path / "dist" / "telegram" / "index.html").read_text(encoding="utf-8")
    script = page.index(DESK_DATA) + len(DESK_DATA)
    assert "<" not in page[script : page.index("</script>", script)]
    data = payloads(tmp_path / "dist" / "telegram" / "index.html")
    assert "</script>" in data["001-q"]["markdown"]


@pytest.mark.slow
def test_desk_checks_every_payload_in_chromium(desk: Path) -> None:
    """The page builds every post and parses each payload with the browser's own HTML parser
    (the DOM-level check)."""
    dom = dump_dom(desk)
    checks = re.findall(r'<article class="part" data-stem="([^"]*)" data-copy-check="([^"]*)"', dom)
    assert [stem for stem, _ in checks] == list(payloads(desk))
    assert {check for _, check in checks} == {"ok"}, checks
    assert dom.count('<section class="post" id="q-') == len(entries(desk))
    assert 'src="006-photo-1.png"' in dom and "фото: <span " in dom
    assert "006-photo-1.png</span></figcaption>" in dom
    assert '<li class="correct">Два</li>' in dom
    assert "<code>e^{i\\pi} + 1 = 0</code>" in dom  # the post's HTML, shown as HTML


@pytest.mark.slow
def test_desk_shows_every_post_of_a_large_bank(tmp_path: Path, write_source: Any) -> None:
    """Past the first screen, posts are built in batches: all of them arrive."""
    questions = "".join(
        f"  - id: q{i}\n    question: Вопрос {i}?\n    answer: Ответ **{i}**.\n"
        "    grades: [junior]\n"
        for i in range(450)
    )
    build_into(write_source("questions:\n" + questions), tmp_path / "dist")
    dom = dump_dom(tmp_path / "dist" / "telegram" / "index.html", script_wait_ms=20000)
    assert dom.count('data-copy-check="ok"') == 450
    assert 'id="q-q449"' in dom


@pytest.mark.slow
def test_desk_check_would_catch_a_bad_payload(desk: Path, tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    html = desk.read_text(encoding="utf-8")
    page.write_text(html.replace('"html":"', '"html":"\\u003cp>x\\u003c/p>', 1), encoding="utf-8")
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
