"""The live preview's page in Debian's Chromium, against the real server over a small bank.

Each test starts ``pipeline.preview.server.start`` on 127.0.0.1 (port 0) over a bank written
to a tmp folder, opens the page with Playwright (the system Chromium, nothing downloaded),
and edits the YAML on disk as an editor would. The build's clock is pinned
(``now``). Screenshots go to ``PREVIEW_SHOTS`` when set, else to the test's tmp
folder; the test prints where.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from pipeline.preview.server import start
from tests.support.anki import tiny_png
from tests.support.banks import NOW, TEMPLATES, dedent
from tests.support.playwright import chromium, pane_frame_texts, wait_in_page

pytestmark = pytest.mark.slow

BANK = r"""
# yaml-language-server: $schema=../schema/questions.schema.json
deck:
  title: Колода предпросмотра
  slug: preview-deck
schedule:
  timezone: Europe/Moscow
  start: 2026-12-01
  slots: [mon 10:00, thu 18:30]
questions:
  - id: intro
    header: 👋
    question: Что такое переобучение модели?
    answer: |
      Модель запоминает обучающую выборку вместо закономерностей.

      - растёт ошибка на валидации
      - падает ошибка на обучении
    grades: [junior]
    tags: [basics]
  - id: code-and-math
    question: Чему равна сигмоида в нуле?
    answer: |
      Формула $\sigma(z) = \frac{1}{1 + e^{-z}}$, а в нуле она равна $\frac{1}{2}$.

      ![Точка](img/dot.png)

      ```python
      def sigmoid(z: float) -> float:
          return 1 / (1 + math.exp(-z))
      ```
    grades: [middle, senior]
    tags: [math, python]
  - id: target
    question: Исходный текст вопроса про регуляризацию?
    answer: |
      Исходный ответ про штраф за большие веса.
    grades: [middle]
    tags: [basics]
    quiz:
      options: [L1, L2, Dropout]
      correct: 2
      explanation: Штраф на квадраты весов.
  - id: tail
    question: Зачем нужна кросс-валидация?
    answer: |
      Чтобы оценить качество на данных, которых модель не видела.
    grades: [senior]
    tags: [validation]
"""

#: The pane under the top of the screen, and where its top is.
IN_VIEW = """() => {
  const pane = document.elementFromPoint(innerWidth / 2, 80)?.closest(".pane");
  return pane ? [pane.dataset.kind, pane.getBoundingClientRect().top] : [null, 0];
}"""

#: The pane kinds every question of BANK shows (quiz only for ``target``).
KINDS = {"anki-front", "anki-back", "telegram", "digest"}


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    """BANK in tmp/content with its image."""
    content = tmp_path / "content"
    (content / "img").mkdir(parents=True)
    (content / "img" / "dot.png").write_bytes(tiny_png((220, 30, 30)))
    source = content / "questions.yaml"
    source.write_text(dedent(BANK), encoding="utf-8")
    return source


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PREVIEW_SHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"preview screenshots: {folder}")
    return folder


def open_page(browser: Browser, url: str, width: int, height: int = 900) -> tuple[Page, list[str]]:
    """The page at ``width`` once it shows a question, and the list its script errors go to."""
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    wait_in_page(page, "loaded")
    return page, errors


def select(page: Page, qid: str) -> None:
    page.click(f'.row[data-id="{qid}"]')
    wait_in_page(page, "selected", qid)


def edit(source: Path, old: str, new: str) -> None:
    """Replace text in the source, as an editor's save does (a new modification time)."""
    text = source.read_text(encoding="utf-8")
    assert old in text, old
    source.write_text(text.replace(old, new, 1), encoding="utf-8")


def wait_all_frames(page: Page, accept: Callable[[dict[str, str]], bool]) -> dict[str, str]:
    """Poll every pane frame's text (sandboxed ones too) until ``accept`` holds."""
    deadline = time.monotonic() + 30
    texts = pane_frame_texts(page)
    while not accept(texts):
        assert time.monotonic() < deadline, texts
        time.sleep(0.1)
        texts = pane_frame_texts(page)
    return texts


def test_an_edit_shows_in_every_pane_without_a_reload(bank: Path, browser: Browser) -> None:
    with start(bank, port=0, templates=TEMPLATES, now=NOW) as server:
        page, errors = open_page(browser, server.url, 1280)
        select(page, "intro")
        page.evaluate("() => { window.previewMarker = 'still here'; }")
        page.eval_on_selector("#detail", "(detail) => { detail.scrollTop = 180; }")
        # On a phone the whole page scrolls; this one already shows the question edited.
        phone, phone_errors = open_page(browser, f"{server.url}/#q=target", 390)
        phone.evaluate("() => { window.scrollTo(0, 700); }")
        in_view = phone.evaluate(IN_VIEW)
        assert in_view[0]  # a pane is under the top of the screen

        edit(bank, "Исходный текст вопроса", "Вопрос после правки ПРАВКАВОПРОСА")
        edit(bank, "Исходный ответ", "Ответ после правки ПРАВКАОТВЕТА")

        # The editor's last change is selected by itself, and every pane shows it.
        wait_in_page(page, "selected", "target")

        def both_saves_shown(t: dict[str, str]) -> bool:  # (the two saves may be two rebuilds)
            return bool(t) and all(
                "ПРАВКАВОПРОСА" in v
                and ("ПРАВКАОТВЕТА" in v or k.startswith(("anki-front", "quiz")))
                for k, v in t.items()
            )

        texts = wait_all_frames(page, both_saves_shown)
        kinds = {key.split("/")[0] for key in texts}
        assert kinds == KINDS | {"quiz"}
        for key, text in texts.items():
            if not key.startswith(("anki-front", "quiz")):
                assert "ПРАВКАОТВЕТА" in text, key
        assert "Исходный" not in "".join(texts.values())
        # The list's entry too (the page fetched only the entries that changed).
        row = page.locator("#list .row.selected .row-words")
        assert "Вопрос после правки ПРАВКАВОПРОСА" in row.inner_text()

        # No reload (the marker survived), and the scroll position was kept.
        assert page.evaluate("() => window.previewMarker") == "still here"
        assert page.eval_on_selector("#detail", "(d) => d.scrollTop") == pytest.approx(180, abs=2)
        wait_in_page(phone, "readableFramesShow", "ПРАВКАВОПРОСА")
        # What was in view stays in view: text that grew above it (the question's longer
        # words) moves the scroll position with it, as the browser's scroll anchoring does.
        kind, top = in_view
        assert phone.evaluate(IN_VIEW) == [kind, pytest.approx(top, abs=2)]
        assert errors == [] and phone_errors == []


def test_a_broken_source_shows_a_located_banner_and_keeps_the_last_preview(
    bank: Path, browser: Browser
) -> None:
    with start(bank, port=0, templates=TEMPLATES, now=NOW) as server:
        page, errors = open_page(browser, server.url, 1280)
        select(page, "target")
        assert page.is_hidden("#banner")

        edit(bank, "grades: [middle]", "grades: [<i>mid</i>]")
        wait_in_page(page, "stale", True)
        banner = page.inner_text("#banner-text")
        assert re.search(r"questions\.yaml:\d+:\d+", banner), banner
        # Text from the server goes in as text: the markup in the message stays visible.
        assert "<i>mid</i>" in banner
        assert page.query_selector("#banner i") is None
        assert page.is_visible("#banner") and page.is_visible("#stale-mark")
        # The last good preview stays, marked stale.
        assert page.query_selector_all("#panes .pane")
        assert "Исходный ответ" in pane_frame_texts(page)["anki-back/light@375"]

        edit(bank, "grades: [<i>mid</i>]", "grades: [middle]")
        wait_in_page(page, "stale", False)
        assert page.is_hidden("#banner") and page.is_hidden("#stale-mark")

        # A YAML syntax error is located too, and fixing it clears it again.
        edit(bank, "tags: [validation]", "tags: [validation")
        wait_in_page(page, "stale", True)
        assert re.search(r"questions\.yaml:\d+:\d+", page.inner_text("#banner-text"))
        edit(bank, "tags: [validation", "tags: [validation]")
        wait_in_page(page, "stale", False)
        assert errors == []


def test_frames_are_sandboxed_and_formulas_are_drawn(bank: Path, browser: Browser) -> None:
    with start(bank, port=0, templates=TEMPLATES, now=NOW) as server:
        page, errors = open_page(browser, server.url, 1280)
        select(page, "code-and-math")
        # MathJax (served by the preview itself) draws the card's formula as Anki does.
        back = page.frame_locator('.pane[data-kind="anki-back"] .frame[data-look="light"] iframe')
        back.locator("mjx-container").first.wait_for(timeout=30_000)
        frames = page.eval_on_selector_all(
            "#panes iframe",
            "(all) => all.map((f) => [f.closest('.pane').dataset.kind, f.getAttribute('sandbox'),"
            " f.hasAttribute('src'), f.srcdoc.length])",
        )
        assert len(frames) == 2 + 2 + 1 + 2  # Anki light and night, the post, the email
        for kind, sandbox, has_src, srcdoc_length in frames:
            # Scripts only where MathJax runs, and never together with same-origin.
            expected = "allow-scripts" if kind.startswith("anki") else "allow-same-origin"
            assert sandbox == expected, kind
            assert not has_src and srcdoc_length > 0
        # Each pane names its file of dist/; the post's counters stand against their limits.
        files = page.eval_on_selector_all(".pane-file", "(all) => all.map((f) => f.textContent)")
        assert files and all(f.startswith("dist/") for f in files), files
        counters = page.eval_on_selector_all(
            '.pane[data-kind="telegram"] .counter',
            "(all) => all.map((c) => [c.textContent, c.dataset.level])",
        )
        # A post with a photo is a caption: 1,024 characters at most.
        characters = [c for c in counters if c[0].startswith("characters ")]
        assert len(characters) == 1, counters
        assert re.fullmatch(r"characters \d+ / 1,024", characters[0][0]), counters
        assert characters[0][1] == "ok"
        assert any(text.startswith("entities ") for text, _ in counters), counters
        assert errors == []


def test_search_and_filters_narrow_the_list(bank: Path, browser: Browser) -> None:
    with start(bank, port=0, templates=TEMPLATES, now=NOW) as server:
        page, errors = open_page(browser, server.url, 1280)
        wait_in_page(page, "rowsShown", ["intro", "code-and-math", "target", "tail"])
        page.fill("#search", "кросс")
        wait_in_page(page, "rowsShown", ["tail"])
        assert page.inner_text("#list-count") == "1 of 4 questions"
        page.fill("#search", "")
        page.click('#grade-filters button[data-value="senior"]')
        wait_in_page(page, "rowsShown", ["code-and-math", "tail"])
        page.click('#tag-filters button[data-value="basics"]')
        wait_in_page(page, "rowsShown", [])
        assert page.inner_text("#list-count") == "0 of 4 questions"
        page.click('#grade-filters button[data-value="senior"]')
        wait_in_page(page, "rowsShown", ["intro", "target"])
        assert errors == []


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots_at_desktop_and_phone_width(
    bank: Path, browser: Browser, shots: Path, width: int
) -> None:
    with start(bank, port=0, templates=TEMPLATES, now=NOW) as server:
        page, errors = open_page(browser, server.url, width)
        select(page, "code-and-math")
        page.click('.segmented[data-mode="anki"] button[data-value="both"]')
        page.click('.segmented[data-mode="email"] button[data-value="both"]')
        wait_all_frames(page, lambda t: len(t) == 2 + 2 + 1 + 4)
        page.wait_for_timeout(500)  # MathJax and images settle
        # Nothing wider than the screen: frames wider than their pane are scaled to fit.
        overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0
        boxes = page.eval_on_selector_all(
            ".frame-box", "(all) => all.map((b) => b.getBoundingClientRect().right)"
        )
        assert boxes and max(boxes) <= width

        # Night and dark copies really are dark, light copies light (whatever the machine's
        # own preference: the page forces the email's prefers-color-scheme rules).
        def background(pane: str, look: str, width: int = 375) -> str:
            frame = f'.pane[data-kind="{pane}"] .frame[data-look="{look}"][data-width="{width}"]'
            body = page.frame_locator(f"{frame} iframe").locator("body")
            return str(body.evaluate("(b) => getComputedStyle(b).backgroundColor"))

        assert background("anki-back", "night") == "rgb(13, 17, 23)", "card.css .nightMode"
        assert background("anki-back", "light") == "rgb(255, 255, 255)"
        assert background("digest", "dark", 600) == "rgb(13, 17, 23)", "extras.css dark .body"
        assert background("digest", "light", 600) != "rgb(13, 17, 23)"
        if width < 760:  # the list sits above the panes
            sidebar = page.eval_on_selector(".sidebar", "(s) => s.getBoundingClientRect().bottom")
            first = page.eval_on_selector("#panes", "(p) => p.getBoundingClientRect().top")
            assert sidebar <= first
        height = page.evaluate("() => document.documentElement.scrollHeight")
        if width < 760:  # the whole page scrolls: screenshot it whole, frames painted
            page.set_viewport_size({"width": width, "height": min(height, 12_000)})
            page.wait_for_timeout(300)
        path = shots / f"preview-{width}.png"
        page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000
        assert errors == []


def test_the_list_draws_only_the_rows_in_view(tmp_path: Path, browser: Browser) -> None:
    n = 1500
    items = "".join(
        f"  - id: q-{i:04d}\n    question: Вопрос номер {i}?\n    answer: Ответ {i}.\n"
        f"    grades: [{('junior', 'middle', 'senior')[i % 3]}]\n"
        for i in range(n)
    )
    source = tmp_path / "content" / "questions.yaml"
    source.parent.mkdir()
    schedule = (
        "schedule:\n  start: 2026-12-01\n  slots: [mon 10:00, wed 10:00, fri 10:00, sun 10:00]\n"
    )
    source.write_text(f"{schedule}questions:\n{items}", encoding="utf-8")
    with start(source, port=0, templates=TEMPLATES, now=NOW) as server:
        page, errors = open_page(browser, server.url, 1280)
        assert page.inner_text("#list-count") == "1,500 questions"
        rows = page.eval_on_selector_all("#list .row", "(rows) => rows.length")
        assert rows < 60  # the rows in view and a few on each side, not 1,500
        page.eval_on_selector("#list", "(list) => { list.scrollTop = list.scrollHeight; }")
        page.wait_for_selector('.row[data-id="q-1499"]:not([hidden])')
        page.fill("#search", "q-0777")
        page.wait_for_selector('.row[data-id="q-0777"]:not([hidden])')
        assert page.inner_text("#list-count") == "1 of 1,500 questions"
        page.click('.row[data-id="q-0777"]')
        wait_in_page(page, "readableFramesShow", "Вопрос номер 777?")
        assert errors == []
