"""Raw HTML and fence placeholders back into tree elements, and the tree's known vocabulary.

Python-Markdown leaves raw HTML (and :mod:`pipeline.markup.github`'s fences) as placeholders
in the text. :class:`StashToElements` turns each back into elements: a fence into
``<pre><code class="language-x">`` (or ``<math display="block">`` for ```` ```math ````), raw
HTML into the elements of its sanitised form (:func:`pipeline.markup.sanitize.clean_html`),
so a raw ``<img src="img/x.png" width="300">`` is an image like ``![](img/x.png)`` and
``<sub>``, ``<details>``, entities and the rest read the same in every output.

:class:`KnownVocabulary` has the last word: only :data:`TREE_TAGS` with
:data:`TREE_ATTRIBUTES` reach a writer, whatever an extension made.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser
from xml.etree.ElementTree import Element, SubElement

import markdown
from markdown import util
from markdown.treeprocessors import Treeprocessor

from pipeline.markup import sanitize
from pipeline.markup.github import STASH_RE
from pipeline.markup.limits import check_depth
from pipeline.markup.math import math_element

_RAW_RE = re.compile(re.escape(util.HTML_PLACEHOLDER).replace("%s", "(\\d+)"))
_ANY_STASH = re.compile(f"{STASH_RE.pattern}|{_RAW_RE.pattern}")

#: Attributes the tree may carry, per tag (what the writers read); any other is dropped.
TREE_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "img": frozenset({"src", "alt", "title", "width", "height"}),
    "code": frozenset({"class"}),
    "ol": frozenset({"start"}),
    "th": frozenset({"style", "colspan", "rowspan"}),
    "td": frozenset({"style", "colspan", "rowspan"}),
    "div": frozenset({"class"}),
    "math": frozenset({"display", "block"}),
    "pre": frozenset({"block"}),
}


#: Tags the tree may hold: what Markdown makes and what the sanitiser lets through.
TREE_TAGS = sanitize.ALLOWED_TAGS | {"math"}


class KnownVocabulary(Treeprocessor):
    """The last word on the tree: only :data:`TREE_TAGS` with :data:`TREE_ATTRIBUTES` reach a
    writer, whatever an extension made. md_in_html turns block HTML inside a container into
    elements without the sanitiser (``<script>`` with its code, ``<iframe>``, ``<form>``):
    those the sanitiser drops with their content go with theirs, other unknown tags are
    unwrapped (their text kept), as :func:`pipeline.markup.sanitize.clean_html` does."""

    def run(self, root: Element) -> None:
        _keep_known(root)
        for el in root.iter():
            if el.attrib:
                keep = TREE_ATTRIBUTES.get(el.tag, frozenset())
                for name in [k for k in el.attrib if k not in keep]:
                    del el.attrib[name]
                if el.tag == "div" and el.get("class") not in (None, "footnotes"):
                    del el.attrib["class"]
                if el.tag == "code" and not el.get("class", "language-").startswith("language-"):
                    del el.attrib["class"]


def _keep_known(parent: Element) -> None:
    if all(child.tag in TREE_TAGS for child in parent.iter()):
        return  # the usual tree: nothing to do
    children = list(parent)
    parent[:] = []
    for child in children:
        _keep_known(child)
        if child.tag in TREE_TAGS:
            parent.append(child)
            continue
        if child.tag not in sanitize.DROPPED_WITH_CONTENT:
            _append_text(parent, child.text)
            for grandchild in list(child):
                parent.append(grandchild)
        _append_text(parent, child.tail)


class StashToElements(Treeprocessor):
    """Turn fence and raw-HTML placeholders left in text back into elements.

    Raw HTML is sanitised (:func:`pipeline.markup.sanitize.clean_html`) and becomes ordinary tree
    elements, so every writer sees one vocabulary: ``<img src="img/x.png" width="300">`` is an
    image like ``![](img/x.png)`` (checked, packed, published), ``<sub>``, ``<details>``,
    entities and the rest read the same way in every output.
    """

    def __init__(self, md: markdown.Markdown, blocks: list[tuple[str, str]]) -> None:
        super().__init__(md)
        self.blocks = blocks

    def run(self, root: Element) -> None:
        raw = self.md.htmlStash.rawHtmlBlocks
        for parent in list(root.iter()):
            _expand_placeholders(parent, lambda m: self._element(m, raw))
            _merge_inline_raw(parent)
        for parent in list(root.iter()):  # a block alone in a paragraph stands for itself
            children = list(parent)
            hoisted = [_hoisted(child) for child in children]
            if any(h is not c for h, c in zip(hoisted, children, strict=True)):
                parent[:] = hoisted  # one assignment: a remove per block was quadratic
        for parent in list(root.iter()):
            if any(child.tag == "raw" for child in parent):
                _raw_to_elements(parent, self._inner)

    def _element(self, match: re.Match[str], raw: list[str | Element]) -> Element:
        if match.group(1) is not None:  # a fenced block
            return self._fence(int(match.group(1)))
        source = raw[int(match.group(2))]
        text = source if isinstance(source, str) else str(source)
        fence = STASH_RE.fullmatch(text.strip())
        if fence:
            return self._fence(int(fence.group(1)))
        return Element(
            "raw",
            {
                "html": text,
                "block": "1"
                if "\n" in text or (text.lstrip().startswith("<") and _is_block(text))
                else "0",
            },
        )

    def _inner(self, fragment: str) -> str:
        """Raw HTML with the placeholders stashed inside it put back: a fence as escaped
        ``<pre><code>``, other raw HTML as it was (one level: stashes do not nest deeper)."""
        if "\x02" not in fragment:
            return fragment
        raw = self.md.htmlStash.rawHtmlBlocks

        def back(m: re.Match[str]) -> str:
            k = int(m.group(1))
            stashed = raw[k] if k < len(raw) else ""
            text = stashed if isinstance(stashed, str) else str(stashed)
            fence = STASH_RE.fullmatch(text.strip())
            if fence is None:
                return text
            _, code = self.blocks[int(fence.group(1))]
            return f"<pre><code>{html.escape(code, quote=False)}</code></pre>"

        return _RAW_RE.sub(back, fragment)

    def _fence(self, n: int) -> Element:
        lang, code = self.blocks[n]
        if lang == "math":
            el = math_element(code, True)
            el.set("block", "1")
            return el
        pre = Element("pre", {"block": "1"})
        code_el = SubElement(pre, "code")
        if lang:
            code_el.set("class", f"language-{lang}")
        code_el.text = util.AtomicString(code)
        return pre


def _hoisted(child: Element) -> Element:
    """``child``, or the block element it is a paragraph around (a fence, raw HTML)."""
    if (
        child.tag == "p"
        and len(child) == 1
        and not (child.text or "").strip()
        and not (child[0].tail or "").strip()
        and child[0].get("block") == "1"
    ):
        block = child[0]
        block.tail = child.tail
        return block
    return child


def _raw_to_elements(parent: Element, inner: Callable[[str], str]) -> None:
    """Replace each ``raw`` child of ``parent`` by the elements of its sanitised HTML
    (``inner`` puts back what was stashed inside it: fences, nested HTML)."""
    children = list(parent)
    parent[:] = []
    for child in children:
        if child.tag != "raw":
            parent.append(child)
            continue
        fragment = inner(child.get("html", ""))
        check_depth(fragment)
        built = _HtmlBuilder()
        built.feed(sanitize.clean_html(fragment))
        built.close()
        holder = built.finish()
        if built.block and len(holder) == 0 and (holder.text or "").strip():
            p = Element("p")  # bare text from a block of HTML is a paragraph of its own
            p.text, holder.text = holder.text, None
            holder.append(p)
        _append_text(parent, holder.text)
        for el in list(holder):
            parent.append(el)
        _append_text(parent, child.tail)


def _append_text(parent: Element, text: str | None) -> None:
    if not text:
        return
    if len(parent):
        parent[-1].tail = (parent[-1].tail or "") + text
    else:
        parent.text = (parent.text or "") + text


#: Tags that only wrap text: their content is kept, the tag is not (nothing to show for them).
_UNWRAP = frozenset({"span", "small", "mark"})
_BLOCK_TAGS = frozenset(
    {"p", "div", "ul", "ol", "li", "blockquote", "pre", "table", "details", "summary", "hr"}
    | {f"h{n}" for n in range(1, 7)}
)


class _HtmlBuilder(HTMLParser):
    """Sanitised HTML -> tree elements (the allow-list's tags and attributes only)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("div")
        self.stack = [self.root]
        self.block = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in sanitize.ALLOWED_TAGS or tag in _UNWRAP:
            return
        self.block = self.block or tag in _BLOCK_TAGS
        keep = sanitize.ALLOWED_ATTRIBUTES.get(tag, set())
        el = SubElement(self.stack[-1], tag, {k: v or "" for k, v in attrs if k in keep})
        if tag not in ("br", "hr", "img"):
            self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "hr", "img") and self.stack[-1].tag == tag and len(self.stack) > 1:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for k in range(len(self.stack) - 1, 0, -1):
            if self.stack[k].tag == tag:
                del self.stack[k:]
                return

    def handle_data(self, data: str) -> None:
        current = self.stack[-1]
        if current.tag == "pre" or any(el.tag == "pre" for el in self.stack):
            data = util.AtomicString(data)
        _append_text(current, data)

    def finish(self) -> Element:
        for el in self.root.iter():  # the tree's text is never parsed again as Markdown
            if el.text and not isinstance(el.text, util.AtomicString):
                el.text = util.AtomicString(el.text)
        for el in self.root.iter("pre"):  # a code block is <pre><code>, as Markdown writes it
            if not (len(el) == 1 and el[0].tag == "code" and not (el.text or "").strip()):
                code = Element("code")
                code.text = util.AtomicString("".join(el.itertext()))
                el[:] = [code]
                el.text = None
        return self.root


_OPEN_TAG = re.compile(r"^<([a-zA-Z][a-zA-Z0-9]*)\b[^>]*(?<!/)>$")


def _merge_inline_raw(parent: Element) -> None:
    """Join an inline raw opening tag, the plain text after it and its closing tag into one.

    Python-Markdown stashes ``<b>`` and ``</b>`` separately; sanitised apart they would lose
    the formatting between them. Only runs of raw pieces and plain text are joined: an opening
    tag takes the nearest matching closing tag of its run. Linear: thousands of unclosed tags
    made a forward search per tag quadratic.
    """
    children = list(parent)
    closes: list[int | None] = [None] * len(children)
    later: dict[str, int] = {}  # raw piece (normalised) -> its nearest index to the right
    for k in range(len(children) - 1, -1, -1):
        child = children[k]
        if child.tag != "raw":
            later = {}  # a run of raw pieces ends here
            continue
        opened = _OPEN_TAG.match(child.get("html", ""))
        if opened:
            closes[k] = later.get(f"</{opened.group(1).lower()}>")
        later[child.get("html", "").strip().lower()] = k
    if not any(j is not None for j in closes):
        return
    out: list[Element] = []
    i = 0
    while i < len(children):
        j = closes[i]
        if j is None:
            out.append(children[i])
            i += 1
            continue
        pieces = []
        for k in range(i, j + 1):
            pieces.append(children[k].get("html", ""))
            tail = children[k].tail
            if k < j and tail:
                pieces.append(html.escape(tail, quote=False))
        merged = Element("raw", {"html": "".join(pieces), "block": "0"})
        merged.tail = children[j].tail
        out.append(merged)
        i = j + 1
    parent[:] = out


def _is_block(text: str) -> bool:
    return bool(
        re.match(
            r"\s*<(?:div|table|p|ul|ol|pre|blockquote|h[1-6]|details|figure|hr|"
            r"section|iframe|script|style|form|center|dl)\b",
            text,
            re.I,
        )
    )


def _expand_placeholders(parent: Element, make: Callable[[re.Match[str]], Element]) -> None:
    """Split ``parent.text`` and each child's tail wherever a placeholder stands.

    The children are rebuilt in one assignment: an insert per placeholder moved every later
    sibling, quadratic in the children of one paragraph (100,000 placeholders took 1.6 s,
    against 0.07 s for 10,000; tests/markup/test_linear_time.py).
    """
    head = _split(parent.text, make)
    tails = [(child, _split(child.tail, make)) for child in parent]
    if head is None and all(pieces is None for _, pieces in tails):
        return
    children: list[Element] = []
    if head is not None:
        parent.text, new = head
        children += new
    for child, pieces in tails:
        children.append(child)
        if pieces is not None:
            child.tail, new = pieces
            children += new
    parent[:] = children


def _split(
    text: str | None, make: Callable[[re.Match[str]], Element]
) -> tuple[str | None, list[Element]] | None:
    """``text`` cut at its placeholders: the text before the first, and an element for each
    (``make``) with the text after it as its tail; None when it holds no placeholder."""
    if not text or "\x02" not in text:
        return None
    matches = list(_ANY_STASH.finditer(text))
    if not matches:
        return None
    head = text[: matches[0].start()]
    new: list[Element] = []
    for n, m in enumerate(matches):
        el = make(m)
        end = matches[n + 1].start() if n + 1 < len(matches) else len(text)
        el.tail = text[m.end() : end] or None
        new.append(el)
    return (head or None), new
