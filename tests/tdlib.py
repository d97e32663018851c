"""TDLib, Telegram's own client library (PyPI ``tdjson``), as the judge of what we post.

``td_execute`` runs TDLib's synchronous requests offline, no account needed:
``parseTextEntities`` is what a bot's ``parse_mode=HTML`` message goes through, and
``parseMarkdown`` is the apps' send-time Markdown (``**bold**``, ``__italic__``, backticks).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

tdjson = pytest.importorskip("tdjson")

_quiet = False


def execute(request: dict[str, Any]) -> dict[str, Any]:
    """One synchronous TDLib request; its logging is silenced before the first one."""
    global _quiet
    if not _quiet:
        tdjson.td_execute(json.dumps({"@type": "setLogVerbosityLevel",
                                      "new_verbosity_level": 0}).encode())
        _quiet = True
    raw = tdjson.td_execute(json.dumps(request).encode())
    result: dict[str, Any] = json.loads(raw)
    return result


def parse_html(text: str) -> dict[str, Any]:
    """``formattedText`` for Bot API HTML, or TDLib's ``error`` (code, message)."""
    return execute({"@type": "parseTextEntities", "text": text,
                    "parse_mode": {"@type": "textParseModeHTML"}})


def parse_markdown(text: str) -> dict[str, Any]:
    """``formattedText`` for text as the apps convert it on send."""
    return execute({"@type": "parseMarkdown",
                    "text": {"@type": "formattedText", "text": text, "entities": []}})


def entity_kind(entity: dict[str, Any]) -> str:
    """``textEntityTypeBold`` -> ``bold``; code blocks with a language as ``pre:python``."""
    kind = entity["type"]["@type"].removeprefix("textEntityType").lower()
    if kind == "precode":
        return f"pre:{entity['type']['language']}"
    return kind


def formatting(result: dict[str, Any], ignore: frozenset[str] = frozenset()
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
            if out and a <= out[-1][1] and kind not in ("code", "pre") \
                    and not kind.startswith("pre:"):
                out[-1] = (out[-1][0], max(out[-1][1], b))
            else:
                out.append((a, b))
        merged[kind] = out
    return merged
