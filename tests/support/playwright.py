"""Debian's Chromium driven by Playwright, for the live preview's page (tests and bench).

Playwright is used with the system browser (``executable_path``): nothing is downloaded at
run time. The preview's page has a strict Content-Security-Policy (no ``eval``), and
Playwright's ``wait_for_function`` evaluates its predicate as a string while it polls, which
that policy refuses (``EvalError`` with Playwright 1.65); :func:`wait_in_page` instead runs
one function in the page that checks its condition at each animation frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.browser import chromium as chromium_path

#: Chromium's own flags for a container: no setuid sandbox, no GPU, nothing fetched.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def chromium(path: str | None = None) -> Iterator[Browser]:
    """A headless Chromium (``path``, else the system one, or the test is skipped with the
    reason when there is none) for the time of the block."""
    executable = path or chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


#: Runs in the page: resolves with ``performance.now()`` at the first animation frame where
#: the named condition of :data:`CONDITIONS` holds for ``arg``, or rejects after ``timeout`` ms
#: (a page in the background is checked every 16 ms instead).
_POLL = """
([name, arg, timeout]) => new Promise((resolve, reject) => {
  const condition = window.__previewConditions[name];
  const started = performance.now();
  const check = () => {
    let ok = false;
    try { ok = condition(arg); } catch (e) { ok = false; }
    if (ok) resolve(performance.now());
    else if (performance.now() - started > timeout) reject(new Error(`timed out: ${name}`));
    else if (document.visibilityState === "visible") requestAnimationFrame(check);
    else setTimeout(check, 16); // a page in the background gets no animation frames
  };
  check();
})
"""

#: The conditions tests wait for, installed once per page by :func:`install_conditions`
#: (a function evaluated by Playwright is compiled by the DevTools protocol, which the
#: page's policy does not restrict; only strings evaluated later in the page are refused).
CONDITIONS = """
() => {
  // The frames the page itself can read: every pane's but the Anki cards' (those run
  // MathJax in a sandbox of their own; Playwright reads them, see pane_frame_texts).
  const frameTexts = () => [...document.querySelectorAll(
    '#panes .pane:not([data-kind^="anki"]) iframe')].map((f) => {
    try { return f.contentDocument ? f.contentDocument.body.textContent : null; }
    catch (e) { return null; }
  });
  window.__previewConditions = {
    version: (v) => Number(document.documentElement.dataset.version) >= v,
    loaded: () => Number(document.documentElement.dataset.version) > 0
      && document.querySelectorAll("#panes iframe").length > 0,
    selected: (id) => document.documentElement.dataset.selected === id,
    stale: (flag) => document.documentElement.dataset.stale === String(flag),
    // Every frame the page can read shows the text.
    readableFramesShow: (text) => {
      const texts = frameTexts().filter((t) => t !== null);
      return texts.length > 0 && texts.every((t) => t.includes(text));
    },
    someFrameShows: (text) => frameTexts().some((t) => t !== null && t.includes(text)),
    // The list's rows on screen, top to bottom, are exactly these ids.
    rowsShown: (ids) => {
      const rows = [...document.querySelectorAll("#list .row:not([hidden])")];
      rows.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
      return JSON.stringify(rows.map((r) => r.dataset.id)) === JSON.stringify(ids);
    },
    // Every MathJax frame given a document after time t has been drawn since.
    scriptedDrawnSince: (t) => {
      const fresh = window.preview.scriptedFrames.filter((f) => f.assignedAt > t);
      return fresh.length > 0 && fresh.every((f) => f.drawnAt > f.assignedAt);
    },
  };
}
"""


def install_conditions(page: Page) -> None:
    """Make :data:`CONDITIONS` available to :func:`wait_in_page` (again after a reload)."""
    page.evaluate(CONDITIONS)


def wait_in_page(page: Page, name: str, arg: Any = None, timeout_ms: int = 30_000) -> float:
    """Wait until the condition ``name`` of :data:`CONDITIONS` holds; the page's
    ``performance.now()`` at that frame."""
    installed = page.evaluate("() => Boolean(window.__previewConditions)")
    if not installed:
        install_conditions(page)
    return float(page.evaluate(_POLL, [name, arg, timeout_ms]))


def pane_frame_texts(page: Page) -> dict[str, str]:
    """The text of every pane's frames, by pane kind and frame look (``anki-back/night``).

    Read through Playwright's frames, so the sandboxed frames that run MathJax (which the
    page itself cannot read) are included."""
    texts: dict[str, str] = {}
    for pane in page.query_selector_all("#panes .pane"):
        kind = pane.get_attribute("data-kind") or "?"
        for figure in pane.query_selector_all(".frame"):
            look = figure.get_attribute("data-look") or "?"
            width = figure.get_attribute("data-width") or "?"
            handle = figure.query_selector("iframe")
            frame = handle.content_frame() if handle else None
            text = frame.inner_text("body") if frame else ""
            texts[f"{kind}/{look}@{width}"] = text
    return texts
