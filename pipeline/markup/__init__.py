r"""Markdown, parsed once per answer into one tree that every output serialises its own way.

Python-Markdown reads what people write on GitHub through registered extensions: lists after
a line of text and nested by 2-4 spaces, ``1)``, task boxes, fences anywhere (in lists and
quotes, ``~~~``, unclosed ones to the end), ``~~strike~~``, bare URLs, footnotes, ``\`` line
breaks, Markdown inside ``<details>`` and other HTML containers. The tree is its ElementTree
with these rules, so writers never re-parse or regex-patch HTML:

* ``<math display="inline|block">TeX</math>``: ``$…$``, ``$$…$$``, ``$`…`$``, ``\(…\)``,
  ``\[…\]`` and ```` ```math ````, taken out before any other inline rule, so underscores,
  asterisks and backslashes inside reach MathJax untouched. ``$`` inside code is code;
  ``\$`` and a lone ``$`` stay text; a ``$`` opens math only when a non-space follows it and
  closes only after a non-space, not before a digit ("$5 и $10").
* ``<pre><code class="language-x">``: code blocks, kept as elements, their text plain.
* Raw HTML is sanitised (:mod:`pipeline.markup.sanitize`) and becomes ordinary elements: a
  raw ``<img src="img/x.png" width="300">`` is an image like ``![](img/x.png)``; ``<sub>``,
  ``<sup>``, ``<details>``/``<summary>``, ``<kbd>`` and the rest read the same in every
  output. Only :data:`TREE_TAGS` with :data:`TREE_ATTRIBUTES` are ever in the tree.
* Task items start with ☐/☑; footnotes are numbered ``<sup>`` and a ``div.footnotes`` list.

Other elements: p, h1-h6, ul/ol/li, blockquote, strong, em, del, a, img, br, hr,
table/thead/tbody/tr/th/td (cell alignment in ``style``). Element text is plain text (not
HTML-escaped). Writers must treat the tree as read-only.

This module only re-exports the names callers use as ``markup.X``; the work is done in:

* :mod:`~pipeline.markup.parse`: :func:`parse_markdown`, the configured Python-Markdown;
* :mod:`~pipeline.markup.limits`: fields too large or too deep are refused;
* :mod:`~pipeline.markup.extension`: the GithubMarkdown extension and its small processors;
* :mod:`~pipeline.markup.github`: lists and fences as GitHub reads them (one pass);
* :mod:`~pipeline.markup.angles`: a ``<`` that opens no HTML (``a<b``) stays text for the
  HTML block extractor and the depth check;
* :mod:`~pipeline.markup.containers`: Markdown inside ``<details>`` and other containers
  (md_in_html's extractor, marking only the tags it reads as blocks);
* :mod:`~pipeline.markup.codetext`: tags written in code are text for the depth check;
* :mod:`~pipeline.markup.math`: math patterns;
* :mod:`~pipeline.markup.html`: raw HTML and fences back into elements, the vocabulary;
* :mod:`~pipeline.markup.tree`: reading the tree (writers' helpers);
* :mod:`~pipeline.markup.writer`: the tree as HTML (Anki deck, email digest);
* :mod:`~pipeline.markup.sanitize`: the sanitising policy;
* :mod:`~pipeline.markup.fidelity`: the words a reader must see (the build's loss check).
"""

from __future__ import annotations

from pipeline.markup import sanitize
from pipeline.markup.extension import GithubMarkdown
from pipeline.markup.github import GithubLists
from pipeline.markup.html import TREE_ATTRIBUTES, TREE_TAGS
from pipeline.markup.limits import MAX_BRACKETS, MAX_FIELD_CHARS, MarkupLimitError, check_limits
from pipeline.markup.parse import is_plain_text, may_hold_images, parse_markdown
from pipeline.markup.tree import (
    SUBSCRIPT,
    SUPERSCRIPT,
    image_size,
    inline_children,
    iter_images,
    plain_text,
    scripted,
)
from pipeline.markup.writer import mathjax, missing_image, to_html

__all__ = [
    "MAX_BRACKETS",
    "MAX_FIELD_CHARS",
    "SUBSCRIPT",
    "SUPERSCRIPT",
    "TREE_ATTRIBUTES",
    "TREE_TAGS",
    "GithubLists",
    "GithubMarkdown",
    "MarkupLimitError",
    "check_limits",
    "image_size",
    "inline_children",
    "is_plain_text",
    "iter_images",
    "mathjax",
    "may_hold_images",
    "missing_image",
    "parse_markdown",
    "plain_text",
    "sanitize",
    "scripted",
    "to_html",
]
