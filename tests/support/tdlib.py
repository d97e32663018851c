"""TDLib, Telegram's own client library (PyPI ``tdjson``), as the judge of what we post.

``td_execute`` runs TDLib's synchronous requests offline, no account needed:
``parseTextEntities`` is what a bot's ``parse_mode=HTML`` message goes through, and
``parseMarkdown`` is the apps' send-time Markdown (``**bold**``, ``__italic__``, backticks).
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest

tdjson = pytest.importorskip("tdjson")

_quiet = False


def execute(request: dict[str, Any]) -> dict[str, Any]:
    """One synchronous TDLib request; its logging is silenced before the first one."""
    global _quiet
    if not _quiet:
        tdjson.td_execute(
            json.dumps({"@type": "setLogVerbosityLevel", "new_verbosity_level": 0}).encode()
        )
        _quiet = True
    raw = tdjson.td_execute(json.dumps(request).encode())
    result: dict[str, Any] = json.loads(raw)
    return result


def parse_html(text: str) -> dict[str, Any]:
    """``formattedText`` for Bot API HTML, or TDLib's ``error`` (code, message)."""
    return execute(
        {"@type": "parseTextEntities", "text": text, "parse_mode": {"@type": "textParseModeHTML"}}
    )


def parse_markdown(text: str) -> dict[str, Any]:
    """``formattedText`` for text as the apps convert it on send."""
    return execute(
        {"@type": "parseMarkdown", "text": {"@type": "formattedText", "text": text, "entities": []}}
    )


def entity_kind(entity: dict[str, Any]) -> str:
    """``textEntityTypeBold`` -> ``bold``; code blocks with a language as ``pre:python``."""
    kind = entity["type"]["@type"].removeprefix("textEntityType").lower()
    if kind == "precode":
        return f"pre:{entity['type']['language']}"
    return kind


def formatting(
    result: dict[str, Any], ignore: frozenset[str] = frozenset()
) -> dict[str, list[tuple[int, int]]]:
    """Entities as merged intervals per kind: ``**a __b__**`` and ``<b>a <i>b</i></b>`` agree.

    TDLib reports nested Markdown formatting in pieces and adjacent HTML tags separately;
    what a reader sees is which characters carry which formatting.
    """
    spans: dict[str, list[tuple[int, int]]] = {}
    for e in result.get("entities", []):
        kind = entity_kind(e)
        if kind in ignore:
            continue
        spans.setdefault(kind, []).append((e["offset"], e["offset"] + e["length"]))
    merged: dict[str, list[tuple[int, int]]] = {}
    for kind, items in spans.items():
        out: list[tuple[int, int]] = []
        for a, b in sorted(items):
            if (
                out
                and a <= out[-1][1]
                and kind not in ("code", "pre")
                and not kind.startswith("pre:")
            ):
                out[-1] = (out[-1][0], max(out[-1][1], b))
            else:
                out.append((a, b))
        merged[kind] = out
    return merged


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")


def _insert(
    text: str, entities: list[tuple[str, int, int]], pos: int, extra: str
) -> tuple[str, list[tuple[str, int, int]]]:
    """Insert unformatted ``extra`` at ``pos``: entities after it move, entities across split."""
    n = len(extra.encode("utf-16-le")) // 2
    out: list[tuple[str, int, int]] = []
    for kind, a, b in entities:
        if b <= pos:
            out.append((kind, a, b))
        elif a >= pos:
            out.append((kind, a + n, b + n))
        else:
            out.extend([(kind, a, pos), (kind, pos + n, b + n)])
    units = text.encode("utf-16-le")
    return (units[: 2 * pos] + extra.encode("utf-16-le") + units[2 * pos :]).decode(
        "utf-16-le"
    ), out


#: What the apps' Markdown cannot express; the twin shows the same text without it.
NOT_IN_MARKDOWN = frozenset({"underline", "blockquote", "texturl"})


def as_markdown_shows(
    html_source: str, result: dict[str, Any], url_for_text: Any
) -> dict[str, Any]:
    """The HTML post as its Markdown twin must show it: links become "text (url)"."""
    parser = _Hrefs()
    parser.feed(html_source)
    text: str = result["text"]
    entities = [
        (entity_kind(e), e["offset"], e["offset"] + e["length"]) for e in result["entities"]
    ]
    found = sorted((a, b) for kind, a, b in entities if kind == "texturl")
    assert len(found) == len(parser.hrefs), (found, parser.hrefs)
    links: list[tuple[tuple[int, int], str]] = []
    for (a, b), href in zip(found, parser.hrefs, strict=True):
        if links and links[-1][0][1] == a and links[-1][1] == href:  # one link, in pieces
            links[-1] = ((links[-1][0][0], b), href)
        else:
            links.append(((a, b), href))
    units = text.encode("utf-16-le")
    for (a, b), href in reversed(links):
        if units[2 * a : 2 * b].decode("utf-16-le") != href:
            text, entities = _insert(text, entities, b, f" ({url_for_text(href)})")
    return {
        "text": text,
        "entities": [
            {"offset": a, "length": b - a, "type": {"@type": _TYPE_NAMES.get(kind, kind)}}
            for kind, a, b in entities
        ],
    }


_TYPE_NAMES = {
    "bold": "textEntityTypeBold",
    "italic": "textEntityTypeItalic",
    "underline": "textEntityTypeUnderline",
    "strikethrough": "textEntityTypeStrikethrough",
    "spoiler": "textEntityTypeSpoiler",
    "code": "textEntityTypeCode",
    "pre": "textEntityTypePre",
    "blockquote": "textEntityTypeBlockQuote",
    "texturl": "textEntityTypeTextUrl",
}


def check_post(
    html_source: str, markdown: str, limit: int = 4096, url_for_text: Any = None
) -> list[str]:
    """Everything wrong with one post as Telegram would see it (empty list: all good).

    The HTML must parse without error and fit the limits; the Markdown twin must give the same
    text and formatting (links read "text (url)"; underline and quotes cannot be written).
    """
    problems: list[str] = []
    result = parse_html(html_source)
    if result.get("@type") != "formattedText":
        return [f"TDLib refused the HTML: {result.get('message')}"]
    size = len(result["text"].encode("utf-16-le")) // 2
    if size > limit:
        problems.append(f"{size} UTF-16 units > {limit}")
    if len(result["entities"]) > 100:
        problems.append(f"{len(result['entities'])} entities > 100")
    if len(html_source.encode()) > 32768:
        problems.append(f"{len(html_source.encode())} bytes of HTML > 32768")
    if result["text"] != result["text"].strip():
        problems.append("the post starts or ends with whitespace (Telegram trims it)")
    md = parse_markdown(markdown)
    if md.get("@type") != "formattedText":
        return [*problems, f"TDLib refused the Markdown: {md.get('message')}"]
    if len(md["entities"]) > 100:
        problems.append(f"Markdown twin: {len(md['entities'])} entities > 100")
    if url_for_text is not None:
        want = as_markdown_shows(html_source, result, url_for_text)
        if md["text"] != want["text"]:
            problems.append(f"Markdown twin text differs:\n{md['text']!r}\n{want['text']!r}")
        elif formatting(md, NOT_IN_MARKDOWN) != formatting(want, NOT_IN_MARKDOWN):
            problems.append(
                f"Markdown twin formatting differs:\n{formatting(md)}\n"
                f"{formatting(want, NOT_IN_MARKDOWN)}"
            )
    return problems
