"""Nothing the editor wrote is lost silently: each output of a question, read back.

Runs on every question whose fragments the build makes (so it is cached with them and costs
nothing on a rebuild), after every target has made its fragment. For each output a reader
sees (the Anki card, the Telegram post and its pasted twin, the digest's HTML and plain text)
it compares with the source, using :mod:`pipeline.markup.fidelity`'s tokeniser on both sides:

* the words (outside markup and URLs; for the digest, outside math, which it may show as
  Unicode): any source word the output shows fewer times than the source has it;
* list items: fewer items than the source wrote (lists run together, items merged);
* images: in the card and the digest HTML, fewer ``<img>`` than the source's images that
  were available (a local file, a fetched remote one); in the post, an image that is neither
  a photo of its own nor linked. An image shown as its alt text and link by rule (not
  fetched, unsafe) is reported where that happens; an Obsidian ``![[embed]]``, which no
  Markdown reader shows, is reported here.

Each loss is one warning at the question, naming the output and the first missing words
(``--strict``: an error).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from html import escape
from typing import Any

from pipeline.errors import Severity
from pipeline.markup import fidelity, sanitize
from pipeline.source.model import Question
from pipeline.targets.telegram.text import link_target, visible_text

#: Send-time Markdown markers of the Telegram twin (bold, italic, strike, spoiler), and its
#: code (fenced blocks, spans) where markers are text.
_MARKERS = re.compile(r"\*\*|__|~~|\|\|")
_TWIN_CODE = re.compile(r"```.*?```|`[^`]*`", re.S)


def _twin_text(markdown: str) -> str:
    """What the apps show of a pasted twin: markers outside code become formatting
    (**M**ean reads "Mean"); code keeps its text (a||b stays a||b)."""
    out, at = [], 0
    for code in _TWIN_CODE.finditer(markdown):
        out.append(_MARKERS.sub("", markdown[at : code.start()]))
        out.append(code.group(0).replace("`", " "))
        at = code.end()
    out.append(_MARKERS.sub("", markdown[at:]))
    return "".join(out)


def check(q: Question, made: Mapping[str, Any], base_url: str | None) -> list[list[Any]]:
    """``[field, path, message, severity]`` for each output of ``q`` that lost something;
    ``made`` holds every target's fragment of ``q`` (a target that failed is skipped);
    ``base_url``: where the digest publishes local images (none: it shows their alt text)."""
    found = _Check(q)
    embed = _obsidian_embed(q)
    if embed:
        found.problem(
            f"'{embed}' is Obsidian's embed, not Markdown: no output shows the image; "
            "write ![alt](path) instead"
        )
    anki = made.get("anki")
    if isinstance(anki, tuple | list) and anki:
        _check_card(found, anki)
    post = made.get("telegram")
    if isinstance(post, dict) and "parts" in post:
        _check_post(found, post)
    digest = made.get("digest")
    if isinstance(digest, dict) and "segments" in digest:
        _check_digest(found, digest, base_url)
    return found.problems


class _Check:
    """One question's source, read once, and the losses found in its outputs so far."""

    def __init__(self, q: Question) -> None:
        self.q = q
        self.source = sanitize.clean_controls(f"{q.question}\n\n{q.answer}")  # as parsed
        self.words = fidelity.source_words(self.source)
        self.items = fidelity.source_list_items(q.question) + fidelity.source_list_items(q.answer)
        self.order: list[str] | None = None  # the source's words in order, once needed
        self.plain: tuple[Counter[str], list[str]] | None = None  # the same without math
        self.shown = {img.src for img in q.images}
        self.images = sum(
            1 for src in fidelity.source_images(self.source) if src.strip() in self.shown
        )
        self.problems: list[list[Any]] = []

    def problem(self, message: str) -> None:
        self.problems.append(_problem(self.q, message))

    def report(
        self, output: str, seen: Counter[str], seen_items: int, *, math: bool = True
    ) -> None:
        """Words and list items of one output (``math=False``: formulas are not counted)."""
        lost, first = self.missing(seen) if math else self.missing_without_math(seen)
        if lost:
            self.problem(
                f"{output} does not show {lost} word(s) of the source; first: " + ", ".join(first)
            )
        if seen_items < self.items:
            self.problem(f"{output} shows {seen_items} of the source's {self.items} list items")

    def missing(self, seen: Counter[str]) -> tuple[int, list[str]]:
        lost = _lost(self.words, seen)
        if not lost:
            return 0, []
        if self.order is None:
            self.order = fidelity.word_list(self.source)
        return lost, fidelity.missing_words(self.words, seen, self.order)

    def missing_without_math(self, seen: Counter[str]) -> tuple[int, list[str]]:
        if self.plain is None:
            self.plain = (
                fidelity.source_words(self.source, math=False),
                fidelity.word_list(self.source, math=False),
            )
        words, order = self.plain
        lost = _lost(words, seen)
        return lost, fidelity.missing_words(words, seen, order) if lost else []

    def images_shown(self, output: str, seen: int, expected: int) -> None:
        if seen < expected:
            self.problem(f"{output} shows {seen} of the answer's {expected} images")


def _check_card(found: _Check, anki: Any) -> None:
    card = f"{anki[0][0]}\n{anki[0][1]}"
    found.report("the Anki card", fidelity.html_words(card), fidelity.html_list_items(card))
    found.images_shown("the Anki card", len(fidelity.html_images(card)), found.images)


def _check_post(found: _Check, post: dict[str, Any]) -> None:
    """The Telegram post as the apps show it, and its pasted Markdown twin."""
    texts = [
        text if text is not None else visible_text(html.decode()) for html, _, text in post["parts"]
    ]
    joined = "\n\n".join(texts)
    pages = "\n".join(html.decode() for html, _, _ in post["parts"])
    for src in fidelity.source_images(found.source):  # the rest are photos of their own
        if src.strip() not in found.shown and not _linked(src, pages):
            found.problem(f"the Telegram post shows neither the image '{src}' nor a link")
    found.report("the Telegram post", fidelity.text_words(joined), fidelity.text_list_items(joined))
    twin = _twin_text("\n\n".join(md.decode() for _, md, _ in post["parts"]))
    found.report(
        "the Telegram post's text twin", fidelity.text_words(twin), fidelity.text_list_items(twin)
    )


def _check_digest(found: _Check, digest: dict[str, Any], base_url: str | None) -> None:
    """The digest's HTML part (and its text part, when it has one); math is not counted."""
    page = digest["title_html"] + "\n" + "\n".join(s[1] for s in digest["segments"])
    found.report(
        "the digest (HTML)",
        fidelity.html_words(page),
        fidelity.html_list_items(page),
        math=False,
    )
    remote = sum(1 for img in found.q.images if img.src.startswith(("http://", "https://")))
    published = found.images if base_url else remote
    found.images_shown("the digest (HTML)", len(fidelity.html_images(page)), published)
    if digest.get("text") is not None:
        text = f"{digest['title_text']}\n\n{digest['text']}"
        found.report(
            "the digest (text)",
            fidelity.text_words(text),
            fidelity.text_list_items(text),
            math=False,
        )


_EMBED = re.compile(r"!\[\[[^\]\n]{1,200}\]\]")


def _obsidian_embed(q: Question) -> str | None:
    """The first ``![[…]]`` written outside code: an image (or note) the author expects to
    see, which no Markdown reader shows."""
    if "![[" not in q.question and "![[" not in q.answer:
        return None
    for root in (q.title_doc, q.doc):
        for el in root.iter():
            texts = [el.tail] if el.tag in ("code", "pre", "math") else [el.text, el.tail]
            for text in texts:
                found = _EMBED.search(text or "")
                if found:
                    return found.group(0)
    return None


def _linked(src: str, page: str) -> bool:
    """Whether a Telegram page links ``src`` (only http(s) images can be linked at all)."""
    target = link_target(src)
    if target is None:
        return True
    written = escape(target, quote=False).replace('"', "&quot;")  # as the post writes it
    return f'href="{written}"' in page


def _lost(source: Counter[str], seen: Counter[str]) -> int:
    return sum(n - seen.get(w, 0) for w, n in source.items() if n > seen.get(w, 0))


def _problem(q: Question, message: str) -> list[Any]:
    return ["answer", f"questions[{q.index}].answer", message, Severity.WARNING.value]
