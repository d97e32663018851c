"""Cards as Anki renders them, shown in Chromium at phone width in light and night mode.

Anki's backend renders the card (its template engine, our CSS); the page around it mimics the
reviewer: ``<body class="card">`` plus ``nightMode night_mode`` in night mode. A small probe
script (in the test page only; cards carry no JavaScript) reports layout facts the test can
assert; the screenshots are kept in ``ANKI_SHOTS`` (when set) for a human to look at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.support.anki_backend import card_html, import_package, new_collection
from tests.support.banks import build_into
from tests.support.browser import dump_dom, screenshot

PHONE = 390  # CSS px: a common phone width

PROBE = """
<script>
addEventListener("load", () => {
  const body = getComputedStyle(document.body);
  const pre = document.querySelector("pre");
  const keyword = document.querySelector("pre .k");
  const facts = {
    pageOverflow: document.documentElement.scrollWidth - innerWidth,
    background: body.backgroundColor,
    color: body.color,
    preBackground: pre ? getComputedStyle(pre).backgroundColor : null,
    keyword: keyword ? getComputedStyle(keyword).color : null,
    questionSize: parseFloat(getComputedStyle(document.querySelector(".question")).fontSize),
  };
  const out = document.createElement("output");
  out.id = "facts";
  out.textContent = JSON.stringify(facts);
  document.body.append(out);
});
</script>
"""


def card_page(card: str, night: bool, probe: bool) -> str:
    classes = "card card1 nightMode night_mode" if night else "card card1"
    return (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        f'<body class="{classes}">{card}{PROBE if probe else ""}</body></html>'
    )


def facts_of(dom: str) -> dict[str, object]:
    found = re.search(r'<output id="facts">(.*?)</output>', dom, re.S)
    assert found, dom[-2000:]
    return dict(json.loads(found.group(1).replace("&quot;", '"')))


@pytest.mark.slow
@pytest.mark.parametrize(
    "bank, qid",
    [("seed", "matrix-diagonal-sum"), ("rich", "table-and-lists"), ("rich", "code-and-math")],
)
def test_card_reads_well_on_a_phone_in_light_and_night_mode(
    bank: str, qid: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    source: Path = request.getfixturevalue(bank)
    build_into(source, tmp_path / "dist")
    slug = "ds-interview" if bank == "seed" else "rich-deck"
    col = new_collection(tmp_path / "anki")
    import_package(col, tmp_path / "dist" / "anki" / f"{slug}.apkg")
    guid = col.db.scalar("select guid from notes where flds like ?", f"%\x1f{qid}\x1f%")
    _front, back = card_html(col, guid)
    media = Path(col.media.dir())
    shots = Path(os.environ["ANKI_SHOTS"]) if os.environ.get("ANKI_SHOTS") else None
    results = {}
    for night in (False, True):
        mode = "night" if night else "light"
        page = media / f"{qid}-{mode}.html"  # beside the media, as in Anki
        page.write_text(card_page(back, night, probe=True), encoding="utf-8")
        results[mode] = facts_of(dump_dom(page, width=PHONE))
        page.write_text(card_page(back, night, probe=False), encoding="utf-8")
        png = screenshot(page, tmp_path / f"{qid}-{mode}.png", PHONE, 1400)
        assert png.stat().st_size > 5000
        if shots:
            shots.mkdir(parents=True, exist_ok=True)
            shutil.copy(png, shots / png.name)
    light, night_facts = results["light"], results["night"]
    for facts in (light, night_facts):
        assert facts["pageOverflow"] == 0, facts  # wide code and tables scroll inside
        assert float(str(facts["questionSize"])) >= 18
    assert light["background"] == "rgb(255, 255, 255)"
    assert night_facts["background"] == "rgb(13, 17, 23)"
    assert light["color"] != night_facts["color"]
    if light["keyword"] is not None:
        assert light["keyword"] != night_facts["keyword"]  # code colours follow the mode
        assert light["preBackground"] != night_facts["preBackground"]
