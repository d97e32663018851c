r"""Markdown, parsed once per answer into one tree that every output serialises its own way.

Python-Markdown reads what people write on GitHub through registered extensions (see
:class:`_Parser`): lists after a line of text and nested by 2-4 spaces, ``1)``, task boxes,
fences anywhere (in lists and quotes, ``~~~``, unclosed ones to the end), ``~~strike~~``, bare
URLs, footnotes, ``\`` line breaks, Markdown inside ``<details>`` and other HTML containers.
The tree is its ElementTree with these rules, so writers never re-parse or regex-patch HTML:

* ``<math display="inline|block">TeX</math>``: ``$…$``, ``$$…$$``, ``$`…`$``, ``\(…\)``,
  ``\[…\]`` and ```` ```math ````, taken out before any other inline rule, so underscores,
  asterisks and backslashes inside reach MathJax untouched. ``$`` inside code is code;
  ``\$`` and a lone ``$`` stay text; a ``$`` opens math only when a non-space follows it and
  closes only after a non-space, not before a digit ("$5 и $10").
* ``<pre><code class="language-x">``: code blocks, kept as elements, their text plain.
* Raw HTML is sanitised (:mod:`pipeline.sanitize`) and becomes ordinary elements: a raw
  ``<img src="img/x.png" width="300">`` is an image like ``![](img/x.png)``; ``<sub>``,
  ``<sup>``, ``<details>``/``<summary>``, ``<kbd>`` and the rest read the same in every
  output. Only :data:`TREE_TAGS` with :data:`TREE_ATTRIBUTES` are ever in the tree.
* Task items start with ☐/☑; footnotes are numbered ``<sup>`` and a ``div.footnotes`` list.

Other elements: p, h1-h6, ul/ol/li, blockquote, strong, em, del, a, img, br, hr,
table/thead/tbody/tr/th/td (cell alignment in ``style``). Element text is plain text (not
HTML-escaped). Writers must treat the tree as read-only.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any
from xml.etree.ElementTree import Element, SubElement

import markdown
from markdown import util
from markdown.extensions import Extension
from markdown.extensions.footnotes import NBSP_PLACEHOLDER
from markdown.inlinepatterns import InlineProcessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

from pipeline.markup import sanitize

#: Python-Markdown's link and image rules are quadratic in the number of '[' on a line, and
#: its block parser recurses per nesting level: beyond these bounds a field is refused with a
#: located error instead of hanging the build.
MAX_FIELD_CHARS = 100_000
MAX_BRACKETS = 1_000


#: List markers stacked on one line ("- - - - x") nest a list per marker: the parser's recursion.
_DEEP_MARKERS = re.compile(r"^[ \t>]*(?:(?:[-*+]|[0-9]{1,9}[.)])[ \t]+){40,}", re.M)
_TOO_DEEP = "Markdown nested too deeply (lists or quotes); flatten it"


class MarkupLimitError(ValueError):
    """A field too large or too deeply nested to parse safely."""


_STASH = "\x02mdfence:{}\x03"
_STASH_RE = re.compile("\x02mdfence:(\\d+)\x03")
_RAW_RE = re.compile(re.escape(util.HTML_PLACEHOLDER).replace("%s", "(\\d+)"))
_LANG = re.compile(r"^[\w#+.-]+")

#: A list item's first line: indentation, marker (bullet, ``1.`` or ``1)``), the spaces after.
_ITEM = re.compile(r"^(?P<indent>[ ]*)(?P<marker>[-*+]|(?P<number>\d{1,9})[.)])(?P<gap>[ ]+|$)")
_FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_QUOTED = re.compile(r"^[ ]{0,3}>[ ]?")
#: A thematic break (---, ***, ___) or a setext heading's underline (=== or ---).
_RULE = re.compile(r"^[ ]{0,3}(?:([-*_])(?:[ \t]*\1){2,}|=+)[ \t]*$")


class _ListItem:
    """An open list item while lines are read: where its content starts, in source columns."""

    __slots__ = ("content", "depth", "nested", "ordered")

    def __init__(self, depth: int, marker: int, content: int, ordered: bool) -> None:
        self.depth, self.content, self.ordered = depth, content, ordered
        #: A list item indented at least this far is its child: 2 spaces suffice, as people
        #: write them (CommonMark asks for the marker's width, 3 under ``1.``).
        self.nested = min(content, marker + 2)


class GithubLists(Preprocessor):
    """Lists as GitHub, Obsidian and CommonMark read them, for Python-Markdown's list rules.

    Python-Markdown nests by 4 spaces and needs a blank line before a list; people indent
    nested items by 2 (or 3 under ``1.``) and start a list right after a line of text. Each
    item's depth is found the CommonMark way (a line belongs to the deepest open item whose
    content column it reaches) and re-indented to 4 spaces a level; a bullet list, or one that
    starts at 1, after a paragraph line gets the blank line, and so does a fence; ``1)``
    becomes ``1.``. Fenced code keeps its relative indentation and is never read as lists;
    it is taken out here, in one pass (a stash placeholder at its indentation); a fence left
    open runs to the end, as on GitHub. Blockquotes are read by the same rules inside their
    ``>``.
    """

    def __init__(self, md: markdown.Markdown, fence: Callable[[str, str], str]) -> None:
        super().__init__(md)
        self.fence = fence

    def run(self, lines: list[str]) -> list[str]:
        def stash(code: str, info: str) -> str:
            return self.md.htmlStash.store(self.fence(code, info))

        return _normalise_lists([line.expandtabs(4) for line in lines], stash)


def _normalise_lists(lines: list[str], stash: Callable[[str, str], str]) -> list[str]:
    """See :class:`GithubLists`; ``stash(code, info)`` takes a fenced block out and returns
    the placeholder that stands for it (SuperFences splices every fence it finds back into
    the lines, O(fences × lines): 10,000 fences took 2.5 s, so it is left only those that
    open on a list item's own line)."""
    out: list[str] = []
    items: list[_ListItem] = []
    fence: tuple[str, int, int] | None = None  # (closing char run, source indent, shift)
    body: list[str] | None = None  # the lines of a fence being taken out
    at, info = 0, ""  # that fence's indentation once normalised, and its info string
    code = False  # inside a top-level indented code block
    previous = ""  # the previous source line ("" when blank)
    i = 0
    while i < len(lines):
        line = lines[i]
        if fence is not None:
            closing, _, shift = fence
            indent = len(line) - len(line.lstrip(" "))
            moved = " " * max(0, indent + shift) + line.lstrip(" ") if line.strip() else line
            stripped = line.strip()
            ends = stripped.startswith(closing) and not stripped.strip(closing[0])
            if body is None:
                out.append(moved)
            elif ends:
                out.extend(["", " " * at + stash("\n".join(body), info), ""])
                body = None
            else:
                body.append(moved[min(at, len(moved) - len(moved.lstrip(" "))) :])
            if ends:
                fence = None
                if i + 1 < len(lines) and lines[i + 1].strip():
                    out.append("")  # the block ends with its fence, as on GitHub
                    line = ""
            previous = line
            i += 1
            continue
        if code and line.strip() and len(line) - len(line.lstrip(" ")) < 4:
            code = False  # the indented code block ended
        if items and not previous and line.strip():
            indent = len(line) - len(line.lstrip(" "))
            while items and indent < items[-1].content and not _ITEM.match(line):
                items.pop()  # after a blank line, too little indentation ends the item
        if not items and not code and _QUOTED.match(line):
            j = i
            while j < len(lines) and _QUOTED.match(lines[j]):
                j += 1
            inner = [x[len(_QUOTED.match(x).group(0)) :] for x in lines[i:j]]  # type: ignore[union-attr]
            out.extend("> " + x if x.strip() else ">" for x in _normalise_lists(inner, stash))
            previous = lines[j - 1]
            i = j
            continue
        if not line.strip():
            out.append(line)
            previous = ""
            i += 1
            continue
        indent = len(line) - len(line.lstrip(" "))
        if code or (not items and indent >= 4 and not previous):
            code = indent >= 4 or not line.strip()
            if code:
                out.append(line)
                previous = line
                i += 1
                continue
        item = _ITEM.match(line)
        in_list = bool(items)
        sibling: _ListItem | None = None  # the item this one follows in the same list
        if item and items:
            while items and indent < items[-1].nested:
                sibling = items.pop()
            if not items and indent >= 4:
                item = None  # too deep to start a list of its own: continuation text
        elif item and (indent >= 4 or (previous and item["number"] not in (None, "1"))):
            item = None  # indented code, or a number that cannot interrupt a paragraph
        if item is not None:
            marker = item["marker"]
            if marker[-1] == ")":
                marker = marker[:-1] + "."
            gap = len(item["gap"])
            content = indent + len(item["marker"]) + (gap if 0 < gap <= 4 else 1)
            depth = items[-1].depth + 1 if items else 0
            ordered = item["number"] is not None
            if previous and (
                not in_list or (sibling and sibling.depth == depth and sibling.ordered != ordered)
            ):
                out.append("")  # a list may follow a line of text (or another kind of list)
            items.append(_ListItem(depth, indent, content, ordered))
            rest = line[item.end() :]
            new = " " * (4 * depth) + marker + " " + rest
            shift = 4 * depth + len(marker) + 1 - content
        else:
            while items and indent < items[-1].content and not previous:
                items.pop()  # after a blank line, too little indentation ends the item
            if previous and not _FENCE.match(line):
                shift = 0  # a paragraph's next line (lazy or not) reads the same anywhere
            elif items and indent >= items[-1].content:
                top = items[-1]
                shift = 4 * (top.depth + 1) - top.content
            elif items:
                shift = 4 * (items[-1].depth + 1) - indent
            else:
                shift = 0
            new = " " * max(0, indent + shift) + line.lstrip(" ")
        opened = _FENCE.match(new if item is None else line[item.end() :])
        if opened and not (opened["fence"][0] == "`" and "`" in opened["info"]):
            if not items and item is None and 0 < indent < 4:
                # A fence indented 1-3 spaces outside a list: its lines lose that indentation
                # and its closing fence may stand anywhere in 0-3 (CommonMark; SuperFences
                # wants the closing fence as indented as the opening one).
                shift, new = -indent, line.lstrip(" ")
            fence = (opened["fence"], indent, shift)
            if previous and item is None:
                out.append("")  # a fence ends the paragraph above it, as on GitHub
            if item is None:
                body, at, info = [], len(new) - len(new.lstrip(" ")), opened["info"].strip()
                previous = line
                i += 1
                continue
        out.append(new)
        if (
            item is None
            and fence is None
            and _RULE.match(line)
            and i + 1 < len(lines)
            and lines[i + 1].strip()
        ):
            # A rule or a heading's underline ends its block: said with a blank line, so
            # Python-Markdown does not split one long block again at every such line (that
            # was quadratic: 24,000 '---' lines took 27 s).
            out.append("")
            line = ""
        previous = line
        i += 1
    if body is not None:  # a fence left open runs to the end, as on GitHub
        out.extend(["", " " * at + stash("\n".join(body), info), ""])
    elif fence is not None:
        closing, _, shift = fence
        out.append(" " * max(0, fence[1] + shift) + closing)
    return out


_MARKDOWN_ATTR = re.compile(r"""(<[A-Za-z][^<>]*?)\smarkdown\s*=\s*(?:"[^"]*"|'[^']*'|[^\s<>]+)""")
#: Containers whose content GitHub reads as Markdown once a blank line ends the HTML.
_CONTAINER_OPEN = re.compile(
    r"<(details|div|section|article|aside|center|p|blockquote)(?=[\s>])", re.I
)


class _DetailsMarkdown(Preprocessor):
    """Markdown inside ``<details>``, ``<div>`` and other containers, as GitHub reads it.

    GitHub ends a block of HTML at a blank line and reads what follows as Markdown (a list,
    code) until the closing tag; Python-Markdown keeps it all as raw HTML (lists run together,
    code lines joined). Its md_in_html reads the content of a tag marked ``markdown="1"``:
    the containers get the mark, any the author wrote is removed. The elements it makes keep
    no attribute (:class:`_KnownVocabulary`). Fences were stashed before this runs.
    """

    def run(self, lines: list[str]) -> list[str]:
        out = []
        for line in lines:
            if "<" in line:
                line = _MARKDOWN_ATTR.sub(r"\1", line)
                line = _CONTAINER_OPEN.sub(r'<\1 markdown="1"', line)
            out.append(line)
        return out


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


class _KnownVocabulary(Treeprocessor):
    """The last word on the tree: only :data:`TREE_TAGS` with :data:`TREE_ATTRIBUTES` reach a
    writer, whatever an extension made. md_in_html turns block HTML inside a container into
    elements without the sanitiser (``<script>`` with its code, ``<iframe>``, ``<form>``):
    those the sanitiser drops with their content go with theirs, other unknown tags are
    unwrapped (their text kept), as :func:`pipeline.sanitize.clean_html` does."""

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


class _FenceFormat:
    """SuperFences' formatter: keep a fence's text and language for the tree (no HTML)."""

    def __init__(self, blocks: list[tuple[str, str]]) -> None:
        self.blocks = blocks

    def __call__(self, src: str, language: str, *args: Any, **kwargs: Any) -> str:
        lang = _LANG.match(language or "")
        self.blocks.append((lang.group(0) if lang else "", src.rstrip("\n")))
        return _STASH.format(len(self.blocks) - 1)


class _MathProcessor(InlineProcessor):
    """Math -> ``<math>``, before escapes and emphasis can touch the TeX.

    ``$$…$$`` and ``\\[…\\]`` (a paragraph of its own) are display math; ``$…$`` and
    ``\\(…\\)`` inline. GitHub's ``$`…`$`` is :class:`_GithubMath` (it must run before
    code spans).
    """

    PATTERN = (
        r"(?<![\\$])\$\$(?P<block>[^$]+?)\$\$"
        r"|(?<![\\$\w])\$(?=[^\s$`])(?P<inline>[^$\n]*?[^\s\\$`])\$(?![\d$])"
        r"|(?<!\\)\\\[(?P<bracket>[\s\S]+?)(?<!\\)\\\]"
        r"|(?<!\\)\\\((?P<paren>.+?)(?<!\\)\\\)"
    )

    def handleMatch(  # type: ignore[override]
        self, m: re.Match[str], data: str
    ) -> tuple[Element | None, int | None, int | None]:
        if m.group("bracket") is not None and (
            data[: m.start()].strip() or data[m.end() :].strip()
        ):
            return None, None, None  # inside text ``\[`` is an escaped bracket: [\[1\]](url)
        display = m.group("block") is not None or m.group("bracket") is not None
        tex = next(g for g in m.group("block", "inline", "bracket", "paren") if g is not None)
        return _math(tex, display), m.start(0), m.end(0)


class _GithubMath(InlineProcessor):
    """GitHub's inline math ``$`…`$``: taken before code spans would take its backticks."""

    PATTERN = r"\$(?P<ticks>`+)(?P<tex>.+?)(?P=ticks)\$"

    def handleMatch(  # type: ignore[override]
        self, m: re.Match[str], data: str
    ) -> tuple[Element, int, int]:
        return _math(m.group("tex"), False), m.start(0), m.end(0)


def _math(tex: str, display: bool) -> Element:
    el = Element("math", {"display": "block" if display else "inline"})
    el.text = util.AtomicString(tex.strip() if display else tex)
    return el


class _HardBreak(InlineProcessor):
    """A backslash at the end of a line is a hard break (GitHub, CommonMark)."""

    PATTERN = r"\\\n"

    def handleMatch(  # type: ignore[override]
        self, m: re.Match[str], data: str
    ) -> tuple[Element, int, int]:
        return Element("br"), m.start(0), m.end(0)


class _UnescapeCode(Treeprocessor):
    """Python-Markdown stores code spans and indented code blocks HTML-escaped; the tree holds
    plain text (writers escape for their own target), so undo exactly its ``code_escape``."""

    def run(self, root: Element) -> None:
        for pre in root.iter("pre"):  # indented blocks end in newlines; fenced ones do not
            for code in pre.iter("code"):
                code.text = util.AtomicString((code.text or "").rstrip("\n"))
        for el in root.iter("code"):
            if el.text and "&" in el.text:
                text = el.text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                el.text = util.AtomicString(text)


#: Task list boxes as GitHub draws them, in every output (no form controls anywhere).
_TASK = re.compile(r"^\[([ xX])\][ \t]+")
TASK_BOXES = {" ": "☐ ", "x": "☑ ", "X": "☑ "}


class _TasksAndFootnotes(Treeprocessor):
    """``- [ ]``/``- [x]`` items start with ☐/☑; footnote back-links (↩) are dropped.

    Footnotes stay where Python-Markdown puts them (numbered references, a list at the end);
    the back-links are a browser convenience that reads as noise in a card, post or email.
    """

    def run(self, root: Element) -> None:
        for li in root.iter("li"):
            holder = li[0] if len(li) and li[0].tag == "p" and not (li.text or "").strip() else li
            box = _TASK.match(holder.text or "")
            if box:
                holder.text = TASK_BOXES[box.group(1)] + (holder.text or "")[box.end() :]
        for parent in list(root.iter()):
            for child in list(parent):
                if child.tag == "a" and "footnote-backref" in child.get("class", ""):
                    _remove_keeping_tail(parent, child)
        for el in root.iter():
            if el.tag == "div" and el.get("class") == "footnote":
                el.set("class", "footnotes")
            if el.tag in ("sup", "li") and el.get("id", "").startswith(("fnref", "fn:")):
                el.attrib.pop("id")
                if el.tag == "sup" and len(el) == 1 and el[0].tag == "a":
                    el.text, el[:] = el[0].text, []  # a number: no link into the page


def _remove_keeping_tail(parent: Element, child: Element) -> None:
    index = list(parent).index(child)
    tail = (child.tail or "").rstrip()
    if index:
        prev = parent[index - 1]
        prev.tail = ((prev.tail or "").removesuffix(NBSP_PLACEHOLDER) + tail) or None
    else:
        parent.text = ((parent.text or "").removesuffix(NBSP_PLACEHOLDER) + tail) or None
    parent.remove(child)


class _StashToElements(Treeprocessor):
    """Turn fence and raw-HTML placeholders left in text back into elements.

    Raw HTML is sanitised (:func:`pipeline.sanitize.clean_html`) and becomes ordinary tree
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
        fence = _STASH_RE.fullmatch(text.strip())
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
            fence = _STASH_RE.fullmatch(text.strip())
            if fence is None:
                return text
            _, code = self.blocks[int(fence.group(1))]
            return f"<pre><code>{html.escape(code, quote=False)}</code></pre>"

        return _RAW_RE.sub(back, fragment)

    def _fence(self, n: int) -> Element:
        lang, code = self.blocks[n]
        if lang == "math":
            el = _math(code, True)
            el.set("block", "1")
            return el
        pre = Element("pre", {"block": "1"})
        code_el = SubElement(pre, "code")
        if lang:
            code_el.set("class", f"language-{lang}")
        code_el.text = util.AtomicString(code)
        return pre


def _check_depth(fragment: str) -> None:
    depth = sanitize.nesting_depth(fragment)
    if depth > sanitize.MAX_DEPTH:
        raise MarkupLimitError(
            f"raw HTML nested {depth:,} levels deep; at most {sanitize.MAX_DEPTH}: flatten it"
        )


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
        _check_depth(fragment)
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


_ANY_STASH = re.compile(f"{_STASH_RE.pattern}|{_RAW_RE.pattern}")


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
    """Split ``parent.text`` and each child's tail wherever a placeholder stands."""
    pieces = _split(parent.text, make)
    if pieces is not None:
        parent.text, new = pieces
        for offset, el in enumerate(new):
            parent.insert(offset, el)
    i = 0
    while i < len(parent):
        child = parent[i]
        pieces = _split(child.tail, make)
        if pieces is not None:
            child.tail, new = pieces
            for offset, el in enumerate(new, start=1):
                parent.insert(i + offset, el)
            i += len(new)
        i += 1


def _split(
    text: str | None, make: Callable[[re.Match[str]], Element]
) -> tuple[str | None, list[Element]] | None:
    if not text or "\x02" not in text:
        return None
    parts = _ANY_STASH.split(text)
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
    del parts
    return (head or None), new


class _Parser:
    """One configured Markdown instance; reset per call (Python-Markdown is not re-entrant).

    GitHub's habits come from registered extensions (see pyproject.toml for why these):
    pymdown-extensions' SuperFences (fences opening on a list item's line; the others are
    taken out by :class:`GithubLists`, in one pass),
    Tilde (``~~strike~~``), MagicLink (bare URLs); Python-Markdown's tables, sane lists and
    footnotes; and this module's :class:`GithubMarkdown` (lists, math, backslash breaks,
    task boxes).
    """

    def __init__(self) -> None:
        self.blocks: list[tuple[str, str]] = []
        fence = _FenceFormat(self.blocks)
        md = markdown.Markdown(
            extensions=[
                "tables",
                "sane_lists",
                "footnotes",
                "md_in_html",
                "pymdownx.superfences",
                "pymdownx.tilde",
                "pymdownx.magiclink",
                GithubMarkdown(fence),
            ],
            extension_configs={
                "pymdownx.superfences": {
                    "custom_fences": [
                        {"name": "*", "class": "", "format": fence},
                        {"name": "math", "class": "", "format": fence},
                    ],
                },
                "pymdownx.tilde": {"subscript": False},
                "pymdownx.magiclink": {"hide_protocol": False},
                "footnotes": {"BACKLINK_TEXT": ""},
            },
            output_format="html",
        )
        md.ESCAPED_CHARS = [*md.ESCAPED_CHARS, "$", "|", "~"]
        md.inlinePatterns.deregister("automail")  # it emits obfuscated entity soup
        md.treeprocessors.deregister("prettify")  # no synthetic whitespace in the tree
        md.treeprocessors.register(_UnescapeCode(md), "unescape_code", 6)
        md.treeprocessors.register(_StashToElements(md, self.blocks), "stash_elements", 5)
        self.md = md

    def parse(self, text: str) -> Element:
        md = self.md
        md.reset()
        self.blocks.clear()
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for prep in md.preprocessors:
            lines = prep.run(lines)
        root: Element = md.parser.parseDocument(lines).getroot()  # type: ignore[assignment]
        for tree in md.treeprocessors:
            replaced = tree.run(root)
            if replaced is not None:
                root = replaced
        for el in root.iter():  # pre and math elements only needed the marker while parsing
            if el.tag in ("pre", "math"):
                el.attrib.pop("block", None)
        return root


class GithubMarkdown(Extension):
    """What GitHub readers expect that Python-Markdown lacks, through its Extension API;
    ``fence(code, info)`` keeps a fence for the tree (as SuperFences' formatter does)."""

    def __init__(self, fence: Callable[[str, str], str]) -> None:
        super().__init__()
        self.fence = fence

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.register(GithubLists(md, self.fence), "github_lists", 29)
        md.inlinePatterns.register(_GithubMath(_GithubMath.PATTERN, md), "github_math", 195)
        md.inlinePatterns.register(_MathProcessor(_MathProcessor.PATTERN, md), "math", 185)
        md.inlinePatterns.register(_HardBreak(_HardBreak.PATTERN, md), "backslash_break", 184)
        md.treeprocessors.register(_TasksAndFootnotes(md), "tasks_footnotes", 7)
        md.preprocessors.register(_DetailsMarkdown(md), "details_markdown", 24)
        md.treeprocessors.register(_KnownVocabulary(md), "known_vocabulary", 1)


_local = threading.local()


def check_limits(text: str) -> None:
    """Raise :class:`MarkupLimitError` for a field too large to parse safely."""
    if len(text) > MAX_FIELD_CHARS:
        raise MarkupLimitError(f"{len(text):,} characters; at most {MAX_FIELD_CHARS:,} per field")
    if _DEEP_MARKERS.search(text):
        raise MarkupLimitError(_TOO_DEEP)
    if text.count("[") > MAX_BRACKETS:
        raise MarkupLimitError(
            f"{text.count('['):,} '[' characters; at most {MAX_BRACKETS:,} "
            "per field (links and images)"
        )


#: One line that no Markdown, HTML, math or typographic rule reacts to: it starts with a
#: letter (no list, heading or quote marker), holds only letters, digits, spaces (no tabs or
#: line breaks) and punctuation no inline rule uses (no escape, emphasis, code, link, HTML,
#: entity, math, table or strike character), and does not end with a space (no hard break).
#: Most question titles look like this; the parser would return one paragraph holding the text
#: as is. tests/test_markup.py checks this against the parser, near misses included.
_PLAIN_PUNCTUATION = re.escape(".,?:;!'\"()«»—–%/…№-")
_PLAIN = re.compile(
    rf"[^\W\d_](?:(?:[^\W_]|[ {_PLAIN_PUNCTUATION}])*(?:[^\W_]|[{_PLAIN_PUNCTUATION}]))?"
)


#: What MagicLink would turn into a link although every character is plain.
_LINKABLE = re.compile(r"://|www\.|ftp\.", re.I)


def is_plain_text(text: str) -> bool:
    """Whether ``text`` is plain (see ``_PLAIN``): :func:`parse_markdown` then skips the parser."""
    return _PLAIN.fullmatch(text) is not None and not _LINKABLE.search(text)


def parse_markdown(text: str) -> Element:
    """Parse Markdown into the tree described in the module docstring (root is ``<div>``)."""
    check_limits(text)
    text = sanitize.clean_controls(text)
    if _CONTAINER_OPEN.search(text):  # md_in_html makes elements of them: bound the depth
        _check_depth(text)
    if is_plain_text(text):  # the tree the parser makes for it, without the parser's cost
        root = Element("div")
        SubElement(root, "p").text = text
        return root
    parser: _Parser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _Parser()
    try:
        root = parser.parse(text)
    except RecursionError:
        _local.parser = None  # its state is unknown after the unwind
        raise MarkupLimitError(_TOO_DEEP) from None
    return root


def inline_children(root: Element) -> Element:
    """For an inline field (the question): the single paragraph's content, else the root."""
    if len(root) == 1 and root[0].tag == "p" and not (root.text or "").strip():
        return root[0]
    return root


_IMAGE_HINT = re.compile(r"!\[|<img", re.I)


def may_hold_images(text: str) -> bool:
    """False when ``text`` certainly has no image (Markdown ``![`` or raw ``<img``)."""
    return _IMAGE_HINT.search(text) is not None


#: Unicode super- and subscripts: every character that has one (Unicode has no full set).
SUPERSCRIPT = dict(zip("0123456789+-=()nixyTt", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱˣʸᵀᵗ", strict=True))
SUBSCRIPT = dict(
    zip("0123456789+-=()aeijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True)
)


def scripted(text: str, kind: str) -> str:
    """``<sup>``/``<sub>`` text for outputs without them (``kind`` is ``^`` or ``_``).

    Unicode characters when every character has one (``yᵢ``, ``x²``), else the TeX-like
    ``^2`` / ``_(max)`` a reader still reads correctly.
    """
    table = SUPERSCRIPT if kind == "^" else SUBSCRIPT
    text = text.strip()
    if text and all(c in table for c in text):
        return "".join(table[c] for c in text)
    return f"{kind}{text}" if len(text) <= 1 else f"{kind}({text})"


_SIZE = re.compile(r"[1-9][0-9]{0,4}%?")


def image_size(img: Element) -> dict[str, str]:
    """An image's ``width``/``height`` as written (pixels or percent), for HTML outputs."""
    return {k: v for k in ("width", "height") if _SIZE.fullmatch(v := img.get(k, "").strip())}


def iter_images(root: Element) -> Iterator[Element]:
    yield from root.iter("img")


def plain_text(root: Element) -> str:
    """Visible text of a tree, for search keys, summaries and duplicate checks."""
    parts: list[str] = []

    def walk(el: Element) -> None:
        if el.tag == "img":
            parts.append(el.get("alt", ""))
        elif el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(root)
    return " ".join("".join(parts).split())


# --- HTML writer shared by the Anki deck and the email digest --------------------------------

_VOID = {"br", "hr", "img"}


def to_html(
    root: Element,
    *,
    image_src: Callable[[str], str | None],
    code_block: Callable[[str, str | None], str] | None = None,
    math: Callable[[str, bool], str] | None = None,
) -> str:
    """Serialise the tree as HTML.

    ``image_src`` maps a Markdown image src to the URL to emit, or None to show its alt text.
    ``code_block(code, lang)`` returns the inner HTML of a ``<pre><code>`` (highlighting);
    default: escaped text. ``math(tex, display)`` returns HTML; default: MathJax delimiters.
    """
    out: list[str] = []
    _write(root, out, image_src, code_block, math or mathjax, is_root=True)
    return "".join(out)


def missing_image(img: Element) -> str:
    """HTML for an image an output cannot show (a remote one not fetched, an unsafe source):
    its alt text, linked to the image when its URL is http(s)."""
    alt = html.escape(img.get("alt", ""), quote=False)
    src = img.get("src", "").strip()
    if re.match(r"https?://", src, re.I) and sanitize.safe_url(src):
        return (
            f'<a href="{html.escape(src, quote=True)}">{alt or html.escape(src, quote=False)}</a>'
        )
    return alt


def mathjax(tex: str, display: bool) -> str:
    """``\\(…\\)`` / ``\\[…\\]``: what Anki (and MathJax in general) renders."""
    return html.escape(f"\\[{tex}\\]" if display else f"\\({tex}\\)", quote=False)


def _write(
    el: Element,
    out: list[str],
    image_src: Callable[[str], str | None],
    code_block: Callable[[str, str | None], str] | None,
    math: Callable[[str, bool], str],
    *,
    is_root: bool = False,
) -> None:
    tag = el.tag
    if tag == "math":
        out.append(math(el.text or "", el.get("display") == "block"))
    elif tag == "img":
        src = image_src(el.get("src", ""))
        alt = el.get("alt", "")
        if src is None:
            out.append(missing_image(el))
        else:
            attrs = {"src": src, "alt": alt}
            if el.get("title"):
                attrs["title"] = el.get("title", "")
            out.append(f"<img{_attrs(attrs | image_size(el))}>")
    elif tag == "pre" and len(el) == 1 and el[0].tag == "code":
        code = el[0].text or ""
        cls = el[0].get("class", "")
        lang = cls.removeprefix("language-") if cls.startswith("language-") else None
        inner = code_block(code, lang) if code_block else html.escape(code, quote=False)
        out.append(f"<pre><code{_attrs({'class': cls} if cls else {})}>{inner}</code></pre>")
    else:
        if not is_root:
            attrs = dict(el.attrib)
            if tag == "details":
                attrs["open"] = ""  # shown unfolded: a card is read, not explored
            if tag == "a" and not sanitize.safe_url(attrs.get("href", "")):
                attrs.pop("href", None)
            out.append(f"<{tag}{_attrs(attrs)}>")
        if tag not in _VOID:
            if el.text:
                out.append(html.escape(el.text, quote=False))
            for child in el:
                _write(child, out, image_src, code_block, math)
            if not is_root:
                out.append(f"</{tag}>")
    if el.tail and not is_root:
        out.append(html.escape(el.tail, quote=False))


def _attrs(attrs: dict[str, str]) -> str:
    return "".join(f' {k}="{html.escape(v, quote=True)}"' for k, v in attrs.items())
