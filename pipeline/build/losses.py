"""Nothing the editor wrote is lost silently: each output of a question, read back.

Runs on every question whose fragments the build makes (so it is cached with them and costs
nothing on a rebuild), after every target has made its fragment. For each output a reader
sees (the Anki card, the Telegram post and its pasted twin, the digest's HTML and plain text)
it compares with the source, using :mod:`pipeline.fidelity`'s tokeniser on both sides:

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
from pipeline.targets.telegram.posts import visible_text
from pipeline.targets.telegram.text import link_target

#: Bump when what is compared changes (cached results are then made again).
VERSION = 3
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
    source = sanitize.clean_controls(f"{q.question}\n\n{q.answer}")  # as the parse reads it
    words = fidelity.source_words(source)
    items = fidelity.source_list_items(q.question) + fidelity.source_list_items(q.answer)
    order: list[str] | None = None
    plain: tuple[Counter[str], list[str]] | None = None
    shown = {img.src for img in q.images}
    images = sum(1 for src in fidelity.source_images(source) if src.strip() in shown)
    problems: list[list[Any]] = []

    def report(output: str, seen: Counter[str], seen_items: int, *, math: bool = True) -> None:
        nonlocal order, plain
        if math:
            lost = _lost(words, seen)
            if lost:
                order = order if order is not None else fidelity.word_list(source)
                first = fidelity.missing_words(words, seen, order)
        else:
            if plain is None:
                plain = (
                    fidelity.source_words(source, math=False),
                    fidelity.word_list(source, math=False),
                )
            lost = _lost(plain[0], seen)
            first = fidelity.missing_words(plain[0], seen, plain[1]) if lost else []
        if lost:
            problems.append(
                _problem(
                    q,
                    f"{output} does not show {lost} word(s) of the source; first: "
                    + ", ".join(first),
                )
            )
        if seen_items < items:
            problems.append(
                _problem(q, f"{output} shows {seen_items} of the source's {items} list items")
            )

    embed = _obsidian_embed(q)
    if embed:
        problems.append(
            _problem(
                q,
                f"'{embed}' is Obsidian's embed, not Markdown: no output shows the image; "
                "write ![alt](path) instead",
            )
        )
    anki = made.get("anki")
    if isinstance(anki, tuple | list) and anki:
        card = f"{anki[0][0]}\n{anki[0][1]}"
        report("the Anki card", fidelity.html_words(card), fidelity.html_list_items(card))
        _images(q, "the Anki card", len(fidelity.html_images(card)), images, problems)
    post = made.get("telegram")
    if isinstance(post, dict) and "parts" in post:
        texts = [
            text if text is not None else visible_text(html.decode())
            for html, _, text in post["parts"]
        ]
        joined = "\n\n".join(texts)
        pages = "\n".join(html.decode() for html, _, _ in post["parts"])
        for src in fidelity.source_images(source):  # the rest are photos of their own
            if src.strip() not in shown and not _linked(src, pages):
                problems.append(
                    _problem(q, f"the Telegram post shows neither the image '{src}' nor a link")
                )
        report("the Telegram post", fidelity.text_words(joined), fidelity.text_list_items(joined))
        twin = _twin_text("\n\n".join(md.decode() for _, md, _ in post["parts"]))
        report(
            "the Telegram post's text twin",
            fidelity.text_words(twin),
            fidelity.text_list_items(twin),
        )
    digest = made.get("digest")
    if isinstance(digest, dict) and "segments" in digest:
        page = digest["title_html"] + "\n" + "\n".join(s[1] for s in digest["segments"])
        report(
            "the digest (HTML)",
            fidelity.html_words(page),
            fidelity.html_list_items(page),
            math=False,
        )
        remote = sum(1 for img in q.images if img.src.startswith(("http://", "https://")))
        published = images if base_url else remote
        _images(q, "the digest (HTML)", len(fidelity.html_images(page)), published, problems)
        if digest.get("text") is not None:
            text = f"{digest['title_text']}\n\n{digest['text']}"
            report(
                "the digest (text)",
                fidelity.text_words(text),
                fidelity.text_list_items(text),
                math=False,
            )
    return problems


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


def _images(q: Question, output: str, seen: int, expected: int, problems: list[list[Any]]) -> None:
    if seen < expected:
        problems.append(_problem(q, f"{output} shows {seen} of the answer's {expected} images"))


def _problem(q: Question, message: str) -> list[Any]:
    return ["answer", f"questions[{q.index}].answer", message, Severity.WARNING.value]
