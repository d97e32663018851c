"""Did the reader get everything the editor wrote? Words, list items and images, per output.

The build compares, per question and per output, what the Markdown source says with what a
reader of that output sees; whatever is missing becomes a warning naming the output and the
first missing words. Pure functions, standard library only: no dependence on the renderers,
so a bug in a renderer cannot hide itself by being shared with the check.

**What counts as a word.** A word is a run of letters and digits (Unicode: Latin, Cyrillic,
Greek, digits of any script), casefolded (``Ёлка`` -> ``ёлка``). Everything else separates
words: spaces, punctuation, underscores, apostrophes and hyphens, so ``__init__`` -> ``init``,
``don't`` -> ``don``, ``t``, ``ROC-AUC`` -> ``roc``, ``auc``, ``0.5`` -> ``0``, ``5``. One
exception: a backslash followed by ASCII letters is a word of its own (``\\cdot3`` -> ``cdot``,
``3``), so TeX shown as code (Telegram) still contains every word of the TeX read as math.
Text is NFKC-normalised (``ﬁ`` -> ``fi``, ``yᵢ`` -> ``y i``: a super- or subscript starts a
word of its own, as ``<sub>``/``<sup>`` do); combining accents (stress marks: ``моде́ль``) and
invisible characters (soft hyphens, zero-width spaces and joiners) join rather than split. The same
tokeniser is used on the source side and on every output side; that is the whole contract:
both sides must agree on what a word is, not on what is pretty.

Coarse on purpose: only missing words matter (a renderer may add words: numbering, alt text,
URLs shown in full), and words are counted, not placed, so the check costs one pass per side.

**Source side (Markdown).** Removed before tokenising, because they are markup a reader does
not see as words: link and image destinations and titles (the link *text* stays), reference
definitions ``[id]: url "t"``, autolinks and bare URLs (the whole URL), HTML tags with their
attributes (image ``alt``/``title`` included: images are checked separately, and alt text is
only shown when an image cannot be), HTML comments, ``<script>``/``<style>`` with their content,
fence info strings, footnote labels ``[^1]`` (the footnote text stays), task boxes ``[ ]``/
``[x]``, list markers (``1.`` is not a word: an ``<ol>`` numbers its items itself) and paired
``*`` emphasis markers (``**Ro**bert`` reads as one word, as ``<strong>Ro</strong>bert`` does).
Character entities are decoded (``&nbsp;`` and ``&mdash;`` are then not words; ``caf&eacute;``
is ``café``). Code spans and code blocks are words exactly as written: markup-looking text
inside code (``<b>``, ``[x](y)``, ``$x$``, ``- item``) is code, never markup.

Math (``$…$``, ``$$…$$``, ``$`…`$``, ```` ```math ```` fences, ``\\(…\\)``, ``\\[…\\]``): with
``math=False`` (the email digest, which renders formulas as Unicode) its content is dropped;
with ``math=True`` TeX command names (``\\frac``, ``\\begin{pmatrix}``) are removed and the
rest kept, the same rule :func:`html_words` applies to MathJax ``\\(…\\)``/``\\[…\\]`` text.

**Output side.** :func:`html_words`: the text content of an HTML fragment (entities decoded,
``<script>``/``<style>`` skipped, ``<img>`` contributes nothing); inline elements (``<b>``,
``<code>``, ``<span>``, ``<a>``…) do not separate words, other elements do, which matches the
source side (``a`b`c`` and ``a<code>b</code>c`` are both ``abc``). :func:`text_words`: plain text.

Known blind spots, accepted for speed: a word glued to inline math shown as code (``$n$ы`` in
Telegram) or to a code span followed by ``__bold__`` may be reported missing. The rules follow
CommonMark where the renderers agree with it (leftmost construct wins; code spans before
links); where in doubt they err towards fewer source words, so a doubt is a missed warning
rather than a false one. Output HTML is read with :mod:`html.parser`, which is slow on
malformed tag soup: it is meant for HTML the renderers wrote (sanitised, well-formed).
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_left
from collections import Counter
from functools import lru_cache
from html.parser import HTMLParser
from typing import NamedTuple

__all__ = [
    "html_images",
    "html_list_items",
    "html_words",
    "missing_words",
    "source_images",
    "source_list_items",
    "source_words",
    "text_list_items",
    "text_words",
    "tokens",
    "word_list",
]

# --- the tokeniser: one for both sides ---------------------------------------------------------

#: ``\\cdot3`` -> cdot, 3: after a backslash a run of ASCII letters is a word of its own.
_WORD = re.compile(r"(?<=\\)[a-z]+|[^\W_]+")
#: Joiners, not separators: combining accents, soft hyphen, zero-width space/joiners, BOM.
_JOINERS = re.compile("[\u0300-\u036f\u00ad\u200b-\u200d\u2060\ufeff]+")


#: Superscript and subscript characters (their NFKC form is a plain letter or digit).
_SCRIPTS = re.compile(
    "["
    + "".join(
        re.escape(c)
        for c in map(chr, range(0x80, 0x2100))
        if unicodedata.decomposition(c).startswith(("<super>", "<sub>"))
    )
    + "]+"
)


def tokens(text: str) -> list[str]:
    """The words of visible text, in order (see the module docstring)."""
    text = text.casefold()
    if not text.isascii():
        # Telegram's stand-in for a backtick in text (U+02CB) is a letter to Unicode, but it
        # reads as the backtick it replaces: not part of a word.
        text = text.replace("\u02cb", " ")
        # x² and yᵢ read as two words, as x<sup>2</sup> does: scripts start a word of their own
        text = _SCRIPTS.sub(r" \g<0>", text)
        text = _JOINERS.sub("", unicodedata.normalize("NFKC", text))
    return _WORD.findall(text)


# --- TeX ---------------------------------------------------------------------------------------

_TEX_COMMAND = re.compile(r"\\(?:begin|end)\s*\{[^{}]*\}|\\[A-Za-z]+|\\.", re.S)


def _tex_visible(tex: str) -> str:
    """TeX as a MathJax reader sees it, for counting: command names out, the rest kept."""
    return f" {_TEX_COMMAND.sub(' ', tex)} " if "\\" in tex else f" {tex} "


# --- HTML shared by both sides -----------------------------------------------------------------

#: Elements that do not separate words (``a<b>b</b>c`` is one word); every other tag does.
_INLINE_TAGS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "cite",
        "code",
        "data",
        "del",
        "dfn",
        "em",
        "font",
        "i",
        "ins",
        "kbd",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "time",
        "tt",
        "u",
        "var",
        "wbr",
        "tg-spoiler",
        "tg-emoji",
    ]
)
_SRC_ATTR = re.compile(r"""\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.I)


def _src_of(tag: str) -> str | None:
    found = _SRC_ATTR.search(tag)
    if found is None:
        return None
    return html.unescape(next(g for g in found.groups() if g is not None))


# --- the Markdown source -----------------------------------------------------------------------

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

_PAREN_TEX = r"(?:[^\\]|\\[^()])*?"
_BRACKET_TEX = r"(?:[^\\]|\\[^\[\]])*?"
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
            rf"\\\((?P<pmath>{_PAREN_TEX})\\\)",
            rf"\\\[(?P<bmath>{_BRACKET_TEX})\\\]",
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


def _blocks(markdown: str) -> tuple[list[tuple[int, str]], dict[str, str], int]:
    """Split the source into paragraphs and code blocks; collect references; count list items."""
    lines = markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[tuple[int, str]] = []
    refs: dict[str, str] = {}
    items = 0
    para: list[str] = []
    code: list[str] = []
    fence: re.Pattern[str] | None = None
    fence_kind = _CODE
    fence_quoted = False  # opened inside a blockquote: it ends where the quote does
    indented = False
    code_from = 4  # the indentation of an indented code block (more inside a list item)
    para_open = False  # a paragraph is open: an indented line continues it (not code)
    list_col: int | None = None  # the content column of the last list item, while in a list
    carry: str | None = None  # "-->" inside an HTML comment spanning lines

    def flush_para() -> None:
        if para:
            blocks.append((_TEXT, "\n".join(para)))
            para.clear()

    def flush_code(kind: int) -> None:
        blocks.append((kind, "\n".join(code)))
        code.clear()

    for line in lines:
        if fence is not None:
            if fence.match(line):
                flush_code(fence_kind)
                fence, para_open = None, False
                continue
            if fence_quoted and not line.lstrip(" \t").startswith(">"):
                flush_code(fence_kind)  # the quote ended, and its code block with it
                fence = None
            else:
                code.append(line)
                continue
        if carry is not None:
            para.append(line)  # no list items, headings or paragraph breaks inside a comment
            if carry in line:
                carry = None
            continue
        if not line.strip():
            if indented:
                code.append("")
            flush_para()
            para_open = False
            continue
        indent = _indent(line)
        if indented:
            if indent >= code_from:
                code.append(line)
                continue
            flush_code(_CODE)
            indented = False
        if not para_open:
            code_from = 4 if list_col is None else list_col + 4
            if indent >= code_from:  # indented code, even when it shows a fence
                indented = True
                code.append(line)
                continue
        opened = _FENCE_OPEN.match(line)
        if opened and _INFO.fullmatch(opened["info"]):
            flush_para()
            mark = opened["fence"]
            fence = re.compile(rf"[ \t]*(?:>[ \t]*)*{re.escape(mark[0])}{{{len(mark)},}}[ \t]*$")
            fence_quoted = ">" in opened["pre"]
            info = opened["info"].split()
            fence_kind = _MATH if info and info[0].casefold() == "math" else _CODE
            continue
        if not para_open and (ref := _REF_DEF.match(line)):
            url = ref["url"]
            refs.setdefault(_label(ref["label"]), url[1:-1] if url.startswith("<") else url)
            continue
        item = None if _HR.match(line) else _ITEM.match(line)
        if item is not None and list_col is None and para_open:
            # After a line of text, outside a list: an item indented 4 or more, or numbered
            # other than 1, continues the paragraph (as GitHub and the build read it).
            marker = line[len(item["pre"]) :].lstrip()
            if indent >= 4 or (marker[:1].isdigit() and not re.match(r"0*1[.)]", marker)):
                item = None
        heading = item is None and _HEADING.match(line) is not None
        if item is not None:
            flush_para()  # a list item is a block of its own: no code span runs across items
            items += 1
            list_col = _indent(line[: item.end()])
            line = item["pre"] + " " + line[item.end() :]
        else:
            if indent == 0 and not para_open:
                list_col = None
            if heading:
                flush_para()
        para.append(line)
        para_open = True
        if "<!--" in line:
            bare = _CODE_SPAN_QUICK.sub(" ", line) if "`" in line else line
            if bare.rfind("<!--") > bare.rfind("-->"):
                carry = "-->"
        if heading:  # a heading is one line
            flush_para()
            para_open = False
    if fence is not None:  # an unclosed fence runs to the end
        flush_code(fence_kind)
    elif indented:
        flush_code(_CODE)
    flush_para()
    return blocks, refs, items


def _inline(
    text: str, refs: dict[str, str], with_math: list[str], without: list[str], images: list[str]
) -> None:
    """Append a paragraph's visible text to both outputs, recording its images."""
    prose: list[str] = []

    def flush() -> None:
        visible = "".join(prose)
        prose.clear()
        if "*" in visible:
            for _ in range(3):  # nested emphasis: ***a** b*
                changed = _EMPHASIS.sub(r"\2", visible)
                if changed == visible:
                    break
                visible = changed
        with_math.append(visible)
        without.append(visible)

    def verbatim(code: str) -> None:
        flush()
        with_math.append(code)
        without.append(code)

    def math(tex: str) -> None:
        flush()
        with_math.append(_tex_visible(tex))
        without.append(" ")

    def scan(text: str) -> None:
        pos = 0
        search = _INLINE.search
        while (m := search(text, pos)) is not None:
            prose.append(text[pos : m.start()])
            pos = m.end()
            kind = m.lastgroup
            if kind in ("tick", "code"):
                verbatim(m["code"].strip())  # the renderers trim code spans
            elif kind in ("pmath", "bmath", "dmath", "imath"):
                math(m[kind])
            elif kind == "esc":
                prose.append(" ")  # escaped punctuation: never a word
            elif kind in ("tag", "tagname"):
                name = m["tagname"].lower()
                if name == "img" and (src := _src_of(m["tag"])) is not None:
                    images.append(src)
                prose.append("" if name in _INLINE_TAGS else " ")
            elif kind in ("alt", "src", "iref"):
                if m["src"] is not None:
                    src = m["src"]
                    images.append(src[1:-1] if src.startswith("<") else src)
                elif (url := refs.get(_label(m["iref"] or m["alt"]))) is not None:
                    images.append(url)
                else:  # not an image after all: "!" is text, and the rest is scanned as text
                    prose.append("!")
                    pos = m.start() + 1
                    continue
                prose.append(" ")
            elif kind is None or kind == "ahead":  # "[" opening a link
                ahead = m["ahead"]
                if ahead is not None and ahead.strip() and _label(ahead) not in refs:
                    prose.append("[")  # "[a][b]" without a "[b]: url" stays text
            elif kind == "lref":
                label = m["lref"]
                prose.append("" if not label.strip() or _label(label) in refs else m.group(0))
            elif kind == "entity":
                prose.append(html.unescape(m.group(0)))
            elif kind == "comment":  # hidden up to "-->"; unclosed, to the end
                end = text.find("-->", pos)
                pos = len(text) if end < 0 else end + 3
            elif kind == "skip":  # <script>/<style> and their content, to the closing tag
                close = _CLOSE_TAG[m["skip"].lower()].search(text, pos)
                pos = len(text) if close is None else close.end()
                prose.append(" ")
            elif kind in ("ldest", "fnref"):
                pass
            else:  # url, autolink: gone
                prose.append(" ")
        prose.append(text[pos:])

    if "$`" in text:  # GitHub's $`…`$ goes first, before code spans can take its ticks
        pos = 0
        for m in _GITHUB_MATH.finditer(text):
            scan(text[pos : m.start()])
            math(m["tex"])
            pos = m.end()
        text = text[pos:]
    scan(text)
    flush()


@lru_cache(maxsize=1024)
def _scan(markdown: str) -> _Scan:
    blocks, refs, items = _blocks(markdown)
    with_math: list[str] = []
    without: list[str] = []
    images: list[str] = []
    for kind, text in blocks:
        if kind == _TEXT:
            _inline(text, refs, with_math, without, images)
        elif kind == _CODE:
            with_math.append(text)
            without.append(text)
        else:
            with_math.append(_tex_visible(text))
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


# --- outputs -----------------------------------------------------------------------------------

_MATHJAX = re.compile(rf"\\\(({_PAREN_TEX})\\\)|\\\[({_BRACKET_TEX})\\\]", re.S)


def _mathjax_visible(m: re.Match[str]) -> str:
    tex = m.group(1) if m.group(1) is not None else m.group(2)
    return _tex_visible(tex)


class _Visible(HTMLParser):
    """Collects the text a reader sees; block boundaries become spaces."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0  # inside <script>/<style>
        self.code = 0  # inside <code>/<pre>: no MathJax there

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        elif tag in ("code", "pre"):
            self.code += 1
        if tag not in _INLINE_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _INLINE_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in ("code", "pre"):
            self.code = max(0, self.code - 1)
        if tag not in _INLINE_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if not self.code and "\\" in data:
            data = _MATHJAX.sub(_mathjax_visible, data)
        self.parts.append(data)


def html_words(fragment: str) -> Counter[str]:
    """Words a reader of an HTML fragment sees (text content; MathJax as on the source side)."""
    parser = _Visible()
    parser.feed(fragment)
    parser.close()
    return Counter(tokens("".join(parser.parts)))


def text_words(text: str) -> Counter[str]:
    """Words of plain text (Telegram's text twin, the digest's text/plain)."""
    return Counter(tokens(text))


_LI = re.compile(r"<li[\s>/]", re.I)
_IMG = re.compile(r"<img\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.I)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)  # unclosed: to the end (linear)
_TEXT_ITEM = re.compile(r"^[ \t]*(?:>[ \t]*)*(?:[•*☐☑☒-]|[0-9]{1,9}[.)])[ \t]", re.M)


def html_list_items(fragment: str) -> int:
    """``<li>`` elements in an HTML fragment."""
    if "<!--" in fragment:
        fragment = _COMMENT.sub("", fragment)
    return len(_LI.findall(fragment))


def html_images(fragment: str) -> list[str]:
    """``src`` of each ``<img>`` in an HTML fragment, in order."""
    if "<!--" in fragment:
        fragment = _COMMENT.sub("", fragment)
    return [src for tag in _IMG.findall(fragment) if (src := _src_of(tag)) is not None]


def text_list_items(text: str) -> int:
    """Lines of plain text that start (after indentation or ``>``) with a list marker:
    ``• ``, ``- ``, ``* ``, ``N. ``, ``N) ``, ``☐ ``, ``☑ ``, ``☒ ``."""
    return len(_TEXT_ITEM.findall(text))


# --- comparing ---------------------------------------------------------------------------------


def missing_words(
    source: Counter[str], seen: Counter[str], order: list[str] | None = None, limit: int = 8
) -> list[str]:
    """Source words a reader does not get (fewer in ``seen`` than in ``source``), at most
    ``limit``, in source order.

    ``order`` is the source's :func:`word_list`. When a missing word also occurs elsewhere, the
    occurrences reported are those nearest the words that are missing everywhere, so a dropped
    sentence reads as that sentence ("the cat", not the first "the" of the answer).
    """
    deficit = {w: n - seen.get(w, 0) for w, n in source.items() if n > seen.get(w, 0)}
    if not deficit or limit <= 0:
        return []
    if order is None:
        order = list(source.elements())
    where: dict[str, list[int]] = {}
    for i, word in enumerate(order):
        if word in deficit:
            where.setdefault(word, []).append(i)
    anchors = sorted(
        i for w, at in where.items() if len(at) <= deficit[w] for i in at
    )  # every occurrence of these is missing
    chosen: list[int] = []
    extra: list[str] = []  # missing words that ``order`` does not hold
    for word, short in deficit.items():
        at = where.get(word, [])
        if len(at) <= short:
            chosen.extend(at)
            extra.extend([word] * (short - len(at)))
        elif anchors:
            chosen.extend(sorted(at, key=lambda i: (_distance(anchors, i), i))[:short])
        else:
            chosen.extend(at[:short])
    chosen.sort()
    return ([order[i] for i in chosen] + extra)[:limit]


def _distance(anchors: list[int], i: int) -> int:
    k = bisect_left(anchors, i)
    near = [abs(anchors[j] - i) for j in (k - 1, k) if 0 <= j < len(anchors)]
    return min(near)
