"""The Markdown source side of the loss check: the words, list items and images it writes.

Block structure first (:class:`_Blocks`: paragraphs, code blocks and ```` ```math ```` fences,
reference definitions, list items), then each paragraph's inline markup (:class:`_Inline`):
what is markup goes, what a reader sees stays (see :mod:`pipeline.markup.fidelity` for the
rules). One scan per source, cached: the words with and without math, the list items and the
images.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from functools import lru_cache
from typing import NamedTuple

from pipeline.markup.fidelity.words import (
    BRACKET_TEX,
    INLINE_TAGS,
    PAREN_TEX,
    src_of,
    tex_visible,
    tokens,
)

_FENCE_OPEN = re.compile(
    r"(?P<pre>[ \t]*(?:>[ \t]*)*)"
    r"(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>.*?)[ \t]*$"
)
#: A fence's info string: a language, then optional ``{attributes}`` or ``key=value`` options
#: (SuperFences' rule). A line like "``` <br>" is text, not a fence.
_INFO = re.compile(
    r"[\w#+.-]*(?:[ \t]*\{[^{}\n]*\})?"
    r"""(?:[ \t]+[\w-]+=(?:"[^"\n]*"|'[^'\n]*'|[^\s"'`]+))*"""
)
_ITEM = re.compile(
    r"(?P<pre>[ \t]*(?:>[ \t]*)*)(?:[-*+]|[0-9]{1,9}[.)])[ \t]+(?:\[[ xX]\](?:[ \t]+|$))?"
)
_HR = re.compile(r"[ \t]*(?:>[ \t]*)*(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_REF_DEF = re.compile(
    r" {0,3}\[(?!\^)(?P<label>(?:[^\[\]\\]|\\.){1,999})\]:[ \t]*(?P<url><[^<>\n]*>|\S+)"
    r"""(?:[ \t]+(?:"[^"]*"|'[^']*'|\([^()]*\)))?[ \t]*$"""
)
_HEADING = re.compile(r"[ \t]*(?:>[ \t]*)*#{1,6}(?:[ \t]|$)")
_CODE_SPAN_QUICK = re.compile(r"`+[^`]*`+")

_CLOSE_TAG = {name: re.compile(rf"</{name}\s*>", re.I) for name in ("script", "style")}
_DEST = r"(?:<[^<>\n]*>|(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*)"
_TITLE = r"""(?:"[^"]*"|'[^']*'|\([^()]*\))"""
_LABEL = r"(?:[^\[\]\\]|\\.)*"
#: The leading lookahead lets the engine skip, in one test, every character that cannot start
#: any of the alternatives: a search over plain prose became six times faster.
_INLINE = re.compile(
    r"(?=[\\$`<!\]\[&hfw])(?:"
    + "|".join(
        [
            # math content never holds another opener of its kind: an unclosed "\(" fails at
            # the next one instead of scanning to the end each time (linear, not quadratic)
            rf"\\\((?P<pmath>{PAREN_TEX})\\\)",
            rf"\\\[(?P<bmath>{BRACKET_TEX})\\\]",
            r"\\(?P<esc>[!-/:;=>?@\[-`{-~])",  # not "\<": a tag after it may still be one
            r"(?<!`)(?P<tick>`+)(?P<code>.+?)(?<!`)(?P=tick)(?!`)",
            # no backticks in math: a code span there is code ("$x `$y`")
            r"(?<![\\$])\$\$(?P<dmath>[^$`]+?)\$\$",
            r"(?<![\\$\w])\$(?=[^\s$`])(?P<imath>[^$\n`]*?[^\s\\$`])\$(?![\d$])",
            r"(?P<comment><!--)",  # to "-->", or to the end: see _inline
            r"<(?P<skip>script|style)\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>",
            r"(?P<autolink><(?:[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*|[^\s<>@]+@[^\s<>@]+)>)",
            r"(?P<tag></?(?P<tagname>[A-Za-z][A-Za-z0-9-]*)"
            r"""(?:\s+[A-Za-z_:][A-Za-z0-9_.:-]*(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*"""
            r"\s*/?>)",
            rf"!\[(?P<alt>(?:[^\[\]\\]|\\.|\[{_LABEL}\])*)\]"
            rf"(?:\(\s*(?P<src>{_DEST})(?:\s+{_TITLE})?\s*\)|\[(?P<iref>{_LABEL})\])?",
            rf"(?P<ldest>\]\(\s*{_DEST}(?:\s+{_TITLE})?\s*\))",
            rf"\]\[(?P<lref>{_LABEL})\]",
            r"(?P<fnref>\[\^[^\]\s]+\])",
            # a link's opening bracket: gone, like its "](url)" ("a[b](u)" reads "ab")
            rf"\[(?=(?:[^\[\]\\]|\\.|\[{_LABEL}\])*\](?:\(|\[(?P<ahead>{_LABEL})\]))",
            r"(?P<url>(?<![\w/@.])(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]}*_~])",
            r"(?P<entity>&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});)",
        ]
    )
    + ")",
    re.S | re.I,
)
_GITHUB_MATH = re.compile(r"\$(?P<ticks>`+)(?P<tex>.+?)(?P=ticks)\$", re.S)
#: Paired ``*`` emphasis: its markers vanish in every output (``**Ro**bert`` -> Robert).
_EMPHASIS = re.compile(r"(?<!\*)(\*{1,3})(?![\s*])([^*]+?)(?<![\s*])\1(?!\*)")


def _label(text: str) -> str:
    return " ".join(text.split()).casefold()


class _Scan(NamedTuple):
    with_math: str  # the visible text of the source, math as MathJax shows it
    without_math: str  # the same without math
    list_items: int
    images: tuple[str, ...]


#: Block kinds: Markdown text (a paragraph), code (verbatim) and a ```math fence.
_TEXT, _CODE, _MATH = 0, 1, 2


def _indent(line: str) -> int:
    stripped = line.lstrip(" \t")
    return len(line[: len(line) - len(stripped)].expandtabs(4))


class _Blocks:
    """Split the source into paragraphs and code blocks; collect references; count list items.

    One pass over the lines; each method reads one kind of line, those returning a bool say
    whether they took the line.
    """

    def __init__(self) -> None:
        self.blocks: list[tuple[int, str]] = []
        self.refs: dict[str, str] = {}
        self.items = 0
        self.para: list[str] = []
        self.code: list[str] = []
        self.fence: re.Pattern[str] | None = None  # the closing fence of an open one
        self.fence_kind = _CODE
        self.fence_quoted = False  # opened inside a blockquote: it ends where the quote does
        self.indented = False
        self.code_from = 4  # the indentation of an indented code block (more inside an item)
        self.para_open = False  # a paragraph is open: an indented line continues it (not code)
        self.list_col: int | None = None  # the last list item's content column, in a list
        self.carry: str | None = None  # "-->" inside an HTML comment spanning lines

    def read(self, markdown: str) -> tuple[list[tuple[int, str]], dict[str, str], int]:
        for line in markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            self.line(line)
        if self.fence is not None:  # an unclosed fence runs to the end
            self.flush_code(self.fence_kind)
        elif self.indented:
            self.flush_code(_CODE)
        self.flush_para()
        return self.blocks, self.refs, self.items

    def flush_para(self) -> None:
        if self.para:
            self.blocks.append((_TEXT, "\n".join(self.para)))
            self.para.clear()

    def flush_code(self, kind: int) -> None:
        self.blocks.append((kind, "\n".join(self.code)))
        self.code.clear()

    def line(self, line: str) -> None:
        if self.fence is not None and self.fenced(line, self.fence):
            return
        if self.carry is not None:
            self.para.append(line)  # no list items, headings or paragraph breaks in a comment
            if self.carry in line:
                self.carry = None
            return
        if not line.strip():
            if self.indented:
                self.code.append("")
            self.flush_para()
            self.para_open = False
            return
        indent = _indent(line)
        if self.indented_code(line, indent) or self.open_fence(line):
            return
        if not self.para_open and (ref := _REF_DEF.match(line)):
            url = ref["url"]
            self.refs.setdefault(_label(ref["label"]), url[1:-1] if url.startswith("<") else url)
            return
        self.text(line, indent)

    def fenced(self, line: str, fence: re.Pattern[str]) -> bool:
        """A line while a fence is open: its code, its closing fence, or the end of the
        quote it was in (then False: the line is read again, as any)."""
        if fence.match(line):
            self.flush_code(self.fence_kind)
            self.fence, self.para_open = None, False
            return True
        if self.fence_quoted and not line.lstrip(" \t").startswith(">"):
            self.flush_code(self.fence_kind)  # the quote ended, and its code block with it
            self.fence = None
            return False
        self.code.append(line)
        return True

    def indented_code(self, line: str, indent: int) -> bool:
        if self.indented:
            if indent >= self.code_from:
                self.code.append(line)
                return True
            self.flush_code(_CODE)
            self.indented = False
        if not self.para_open:
            self.code_from = 4 if self.list_col is None else self.list_col + 4
            if indent >= self.code_from:  # indented code, even when it shows a fence
                self.indented = True
                self.code.append(line)
                return True
        return False

    def open_fence(self, line: str) -> bool:
        opened = _FENCE_OPEN.match(line)
        if not (opened and _INFO.fullmatch(opened["info"])):
            return False
        self.flush_para()
        mark = opened["fence"]
        self.fence = re.compile(rf"[ \t]*(?:>[ \t]*)*{re.escape(mark[0])}{{{len(mark)},}}[ \t]*$")
        self.fence_quoted = ">" in opened["pre"]
        info = opened["info"].split()
        self.fence_kind = _MATH if info and info[0].casefold() == "math" else _CODE
        return True

    def list_item(self, line: str, indent: int) -> re.Match[str] | None:
        item = None if _HR.match(line) else _ITEM.match(line)
        if item is not None and self.list_col is None and self.para_open:
            # After a line of text, outside a list: an item indented 4 or more, or numbered
            # other than 1, continues the paragraph (as GitHub and the build read it).
            marker = line[len(item["pre"]) :].lstrip()
            if indent >= 4 or (marker[:1].isdigit() and not re.match(r"0*1[.)]", marker)):
                return None
        return item

    def text(self, line: str, indent: int) -> None:
        """A line of a paragraph, a list item or a heading."""
        item = self.list_item(line, indent)
        heading = item is None and _HEADING.match(line) is not None
        if item is not None:
            self.flush_para()  # a list item is a block of its own: no code span across items
            self.items += 1
            self.list_col = _indent(line[: item.end()])
            line = item["pre"] + " " + line[item.end() :]
        else:
            if indent == 0 and not self.para_open:
                self.list_col = None
            if heading:
                self.flush_para()
        self.para.append(line)
        self.para_open = True
        if "<!--" in line:
            bare = _CODE_SPAN_QUICK.sub(" ", line) if "`" in line else line
            if bare.rfind("<!--") > bare.rfind("-->"):
                self.carry = "-->"
        if heading:  # a heading is one line
            self.flush_para()
            self.para_open = False


class _Inline:
    """Paragraphs' visible text appended to both outputs (with math as MathJax shows it, and
    without math), their images recorded."""

    def __init__(
        self, refs: dict[str, str], with_math: list[str], without: list[str], images: list[str]
    ) -> None:
        self.refs, self.with_math, self.without, self.images = refs, with_math, without, images
        self.prose: list[str] = []

    def read(self, text: str) -> None:
        """Append one paragraph."""
        if "$`" in text:  # GitHub's $`…`$ goes first, before code spans can take its ticks
            pos = 0
            for m in _GITHUB_MATH.finditer(text):
                self.scan(text[pos : m.start()])
                self.math(m["tex"])
                pos = m.end()
            text = text[pos:]
        self.scan(text)
        self.flush()

    def flush(self) -> None:
        visible = "".join(self.prose)
        self.prose.clear()
        if "*" in visible:
            for _ in range(3):  # nested emphasis: ***a** b*
                changed = _EMPHASIS.sub(r"\2", visible)
                if changed == visible:
                    break
                visible = changed
        self.with_math.append(visible)
        self.without.append(visible)

    def verbatim(self, code: str) -> None:
        self.flush()
        self.with_math.append(code)
        self.without.append(code)

    def math(self, tex: str) -> None:
        self.flush()
        self.with_math.append(tex_visible(tex))
        self.without.append(" ")

    def scan(self, text: str) -> None:
        pos = 0
        search = _INLINE.search
        while (m := search(text, pos)) is not None:
            self.prose.append(text[pos : m.start()])
            pos = self.construct(m, text)
        self.prose.append(text[pos:])

    def construct(self, m: re.Match[str], text: str) -> int:
        """Read one inline construct of ``text``; returns where the scan goes on."""
        kind, pos, prose = m.lastgroup, m.end(), self.prose
        if kind in ("tick", "code"):
            self.verbatim(m["code"].strip())  # the renderers trim code spans
        elif kind in ("pmath", "bmath", "dmath", "imath"):
            self.math(m[kind])
        elif kind == "esc":
            prose.append(" ")  # escaped punctuation: never a word
        elif kind in ("tag", "tagname"):
            name = m["tagname"].lower()
            if name == "img" and (src := src_of(m["tag"])) is not None:
                self.images.append(src)
            prose.append("" if name in INLINE_TAGS else " ")
        elif kind in ("alt", "src", "iref"):
            return self.image(m)
        elif kind is None or kind == "ahead":  # "[" opening a link
            ahead = m["ahead"]
            if ahead is not None and ahead.strip() and _label(ahead) not in self.refs:
                prose.append("[")  # "[a][b]" without a "[b]: url" stays text
        elif kind == "lref":
            label = m["lref"]
            prose.append("" if not label.strip() or _label(label) in self.refs else m.group(0))
        elif kind == "entity":
            prose.append(html.unescape(m.group(0)))
        elif kind == "comment":  # hidden up to "-->"; unclosed, to the end
            end = text.find("-->", pos)
            return len(text) if end < 0 else end + 3
        elif kind == "skip":  # <script>/<style> and their content, to the closing tag
            close = _CLOSE_TAG[m["skip"].lower()].search(text, pos)
            prose.append(" ")
            return len(text) if close is None else close.end()
        elif kind not in ("ldest", "fnref"):  # url, autolink: gone
            prose.append(" ")
        return pos

    def image(self, m: re.Match[str]) -> int:
        """``![alt](src)`` or a reference image; else its ``!`` is text and the scan goes on
        right after it."""
        if m["src"] is not None:
            src = m["src"]
            self.images.append(src[1:-1] if src.startswith("<") else src)
        elif (url := self.refs.get(_label(m["iref"] or m["alt"]))) is not None:
            self.images.append(url)
        else:  # not an image after all: "!" is text, and the rest is scanned as text
            self.prose.append("!")
            return m.start() + 1
        self.prose.append(" ")
        return m.end()


@lru_cache(maxsize=1024)
def _scan(markdown: str) -> _Scan:
    blocks, refs, items = _Blocks().read(markdown)
    with_math: list[str] = []
    without: list[str] = []
    images: list[str] = []
    inline = _Inline(refs, with_math, without, images)
    for kind, text in blocks:
        if kind == _TEXT:
            inline.read(text)
        elif kind == _CODE:
            with_math.append(text)
            without.append(text)
        else:
            with_math.append(tex_visible(text))
        with_math.append("\n")
        without.append("\n")
    return _Scan("".join(with_math), "".join(without), items, tuple(images))


@lru_cache(maxsize=2048)
def _words(markdown: str, math: bool) -> tuple[str, ...]:
    scan = _scan(markdown)
    return tuple(tokens(scan.with_math if math else scan.without_math))


def word_list(markdown: str, *, math: bool = True) -> list[str]:
    """The words a reader must see, in source order (for "first missing: …" messages)."""
    return list(_words(markdown, math))


def source_words(markdown: str, *, math: bool = True) -> Counter[str]:
    """The words a reader must see, counted; ``math=False`` leaves formulas out."""
    return Counter(_words(markdown, math))


def source_list_items(markdown: str) -> int:
    """List items in the source (``-``/``*``/``+``/``1.``/``1)``, tasks, any depth, in quotes,
    right after a text line too), outside code and multi-line math or comments."""
    return _scan(markdown).list_items


def source_images(markdown: str) -> list[str]:
    """Sources of the images, in order: ``![alt](src)``, reference images and ``<img src>``."""
    return list(_scan(markdown).images)
