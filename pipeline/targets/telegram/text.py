"""Telegram text: the markup tree as styled spans, written as Bot API HTML and send-time Markdown.

This module is the text side's public face: it gathers what the post assembly and the tests
use from the modules that do the work. One intermediate form, a list of
:class:`~pipeline.targets.telegram.spans.Span` (text + formatting), feeds every Telegram
output, so the HTML a bot sends, the Markdown twin an editor pastes and the plain text on the
clipboard are the same text with the same formatting by construction:

* :mod:`~pipeline.targets.telegram.spans`: the span, cleaning (:func:`clean_text`), UTF-16
  lengths (:func:`utf16_len`: Telegram counts code units, not code points), links, the
  canonical form (:func:`merge`, :func:`strip_spans`);
* :mod:`~pipeline.targets.telegram.convert`: :func:`answer_spans` / :func:`inline_spans`
  convert the parsed Markdown tree (lists become ``• ``/``1. `` lines, headings bold, tables a
  monospace block or lines, math its TeX in code, raw HTML sanitised then reduced to
  Telegram's formatting);
* :mod:`~pipeline.targets.telegram.post_html`: :func:`parse_post_html` reads a template's
  output (Telegram's tag set only) and splices the pre-built spans in at placeholders, so
  templates stay editable HTML;
* :mod:`~pipeline.targets.telegram.safe`: :func:`make_safe` rewrites what Telegram Desktop's
  send-time Markdown would misread (``__``, ``**``, backticks, ``[x](y)``): such words become
  inline code in *both* outputs;
* :mod:`~pipeline.targets.telegram.bot_html` (:func:`to_html`, :func:`visible_text`) and
  :mod:`~pipeline.targets.telegram.markdown_twin` (:func:`to_markdown`) serialise;
* :mod:`~pipeline.targets.telegram.limits`: :func:`write` and :func:`fits` measure a post
  against Telegram's limits, :func:`split_post` cuts a long post at the best boundary.
"""

from __future__ import annotations

from pipeline.targets.telegram.bot_html import to_html, visible_text
from pipeline.targets.telegram.convert import answer_spans, inline_spans
from pipeline.targets.telegram.limits import (
    CAPTION_LIMIT,
    ENTITY_LIMIT,
    HTML_BYTES_LIMIT,
    TEXT_LIMIT,
    Written,
    fits,
    split_post,
    write,
)
from pipeline.targets.telegram.markdown_twin import to_markdown, url_for_text
from pipeline.targets.telegram.post_html import TemplateError, parse_post_html, placeholder
from pipeline.targets.telegram.safe import make_safe
from pipeline.targets.telegram.spans import (
    Span,
    clean_text,
    link_target,
    merge,
    plain_text,
    strip_spans,
    utf16_len,
)

__all__ = [
    "CAPTION_LIMIT",
    "ENTITY_LIMIT",
    "HTML_BYTES_LIMIT",
    "TEXT_LIMIT",
    "Span",
    "TemplateError",
    "Written",
    "answer_spans",
    "clean_text",
    "fits",
    "inline_spans",
    "link_target",
    "make_safe",
    "merge",
    "parse_post_html",
    "placeholder",
    "plain_text",
    "split_post",
    "strip_spans",
    "to_html",
    "to_markdown",
    "url_for_text",
    "utf16_len",
    "visible_text",
    "write",
]
