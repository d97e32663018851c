"""The HTML documents the preview's panes show (each one an iframe's ``srcdoc``).

Each document holds the output's own HTML as the build wrote it (already sanitised: card
fields, Telegram's HTML, the email's inlined page) inside a page of its own: the deck's card
CSS with Anki's body classes, a Telegram-like chat bubble, a quiz card. Nothing from the
source is evaluated here: text goes in escaped, the outputs' HTML goes in as it is.
"""

from __future__ import annotations

import html

#: MathJax 3's entry point as the server serves it (Anki draws formulas with MathJax 3; its
#: default delimiters are the ``\\(…\\)`` and ``\\[…\\]`` the cards hold).
MATHJAX_SCRIPT = "/mathjax/tex-chtml.js"


def _style(css: str) -> str:
    """CSS inside ``<style>``: a ``</style`` in an editor's stylesheet cannot end it early."""
    return "<style>" + css.replace("</", "<\\/") + "</style>"


def page(title: str, css: str, body: str, body_class: str = "", head: str = "") -> str:
    """A complete HTML document."""
    cls = f' class="{html.escape(body_class)}"' if body_class else ""
    return (
        '<!DOCTYPE html>\n<html lang="ru">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n{_style(css)}\n{head}</head>\n"
        f"<body{cls}>\n{body}\n</body>\n</html>\n"
    )


def card_document(title: str, css: str, side: str) -> str:
    """One side of an Anki card as Anki shows it: the note type's CSS, ``body.card`` (the page
    adds ``nightMode night_mode`` for night mode, as Anki desktop and AnkiDroid do), the side
    in ``#qa``, and MathJax for the formulas."""
    head = f'<script src="{MATHJAX_SCRIPT}" id="MathJax-script" async></script>\n'
    return page(title, css, f'<div id="qa">{side}</div>', "card card1", head)


TELEGRAM_CSS = """
:root { color-scheme: light dark; }
* { box-sizing: border-box; }
body { margin: 0; padding: 12px; font: 15px/1.45 -apple-system, "Segoe UI", Roboto,
       "Helvetica Neue", Arial, sans-serif; background: #a3bd8f; color: #000; }
.bubble { background: #fff; border-radius: 12px 12px 12px 4px; max-width: 520px;
          padding: 6px 10px 8px; margin: 0 0 10px; box-shadow: 0 1px 1px rgba(0,0,0,.15); }
.photo { margin: -6px -10px 6px; }
.photo img { display: block; width: 100%; border-radius: 12px 12px 0 0; }
.tg { white-space: pre-wrap; overflow-wrap: anywhere; }
.tg a { color: #168acd; text-decoration: none; }
.tg code { font: 13.5px/1.4 ui-monospace, Menlo, Consolas, monospace; color: #c42b5f; }
.tg pre, .tg blockquote { display: inline-block; width: 100%; vertical-align: top; }
.tg pre { margin: 2px 0; padding: 6px 8px; background: #f0f4f7; border-left: 3px solid #3a8fd6;
          border-radius: 4px; white-space: pre-wrap; }
.tg pre, .tg pre code { font: 13px/1.4 ui-monospace, Menlo, Consolas, monospace; color: #1d3b57; }
.tg blockquote { margin: 2px 0; padding: 2px 8px; border-left: 3px solid #3a8fd6;
                 background: #eef5fb; border-radius: 4px; }
.tg tg-spoiler { background: #d0d6db; color: transparent; border-radius: 3px; }
.meta { color: #8e9399; font-size: 12px; text-align: right; margin-top: 2px; }
.over { color: #c00; font-weight: 600; }
.poll h3 { font-size: 15px; margin: 0 0 2px; }
.poll .kind { color: #8e9399; font-size: 12px; margin: 0 0 6px; }
.poll ol { margin: 0; padding-left: 20px; }
.poll li.correct { color: #1c7c2b; font-weight: 600; }
.poll .explain { color: #555; font-size: 13px; margin: 6px 0 0; white-space: pre-wrap; }
body.night_mode, body.nightMode { background: #0e1621; color: #fff; }
.night_mode .bubble, .nightMode .bubble { background: #182533; }
.night_mode .tg pre, .nightMode .tg pre { background: #101b27; }
.night_mode .tg pre, .night_mode .tg pre code, .nightMode .tg pre code { color: #b7d3ef; }
.night_mode .tg blockquote, .nightMode .tg blockquote { background: #1c2c3d; }
@media (prefers-color-scheme: dark) {
  body { background: #0e1621; color: #fff; }
  .bubble { background: #182533; }
  .tg pre { background: #101b27; }
  .tg pre, .tg pre code { color: #b7d3ef; }
  .tg blockquote { background: #1c2c3d; }
}
"""


def post_document(title: str, parts: list[tuple[str, str | None, str]]) -> str:
    """A post's messages as chat bubbles: ``(html, photo URL or None, measures)`` each."""
    bubbles = []
    for body, photo, measures in parts:
        image = f'<div class="photo"><img src="{html.escape(photo)}" alt=""></div>' if photo else ""
        bubbles.append(
            f'<div class="bubble">{image}<div class="tg">{body}</div>'
            f'<div class="meta">{html.escape(measures)}</div></div>'
        )
    return page(title, TELEGRAM_CSS, "\n".join(bubbles))


def quiz_document(
    title: str, question: str, options: list[str], correct: int, explanation: str | None
) -> str:
    """A quiz poll as Telegram shows it to the one who sent it: the right option marked."""
    items = "".join(
        f'<li class="correct">{html.escape(o)} ✓</li>'
        if i == correct
        else f"<li>{html.escape(o)}</li>"
        for i, o in enumerate(options)
    )
    explain = f'<p class="explain">💡 {html.escape(explanation)}</p>' if explanation else ""
    body = (
        f'<div class="bubble poll"><h3>{html.escape(question)}</h3>'
        f'<p class="kind">Анонимная викторина</p><ol>{items}</ol>{explain}</div>'
    )
    return page(title, TELEGRAM_CSS, body)


def notice_document(title: str, text: str) -> str:
    """A pane that cannot show its output (a refused quiz, a question without a week)."""
    return page(title, TELEGRAM_CSS, f'<div class="bubble">{html.escape(text)}</div>')
