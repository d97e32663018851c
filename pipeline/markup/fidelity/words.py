"""What a word is, for both sides of the loss check, and which words a reader is missing.

:func:`tokens` is the one tokeniser (see :mod:`pipeline.markup.fidelity` for its rules); TeX is
counted as a MathJax reader sees it (:func:`tex_visible`); :data:`INLINE_TAGS` are the HTML
elements that do not separate words. :func:`missing_words` picks the words to name in a
warning.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_left
from collections import Counter

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

#: TeX inside ``\(…\)`` and ``\[…\]``: it never holds another opener of its kind, so an
#: unclosed one fails at the next instead of scanning to the end each time (linear).
PAREN_TEX = r"(?:[^\\]|\\[^()])*?"
BRACKET_TEX = r"(?:[^\\]|\\[^\[\]])*?"

_TEX_COMMAND = re.compile(r"\\(?:begin|end)\s*\{[^{}]*\}|\\[A-Za-z]+|\\.", re.S)


def tex_visible(tex: str) -> str:
    """TeX as a MathJax reader sees it, for counting: command names out, the rest kept."""
    return f" {_TEX_COMMAND.sub(' ', tex)} " if "\\" in tex else f" {tex} "


# --- HTML shared by both sides -----------------------------------------------------------------

#: Elements that do not separate words (``a<b>b</b>c`` is one word); every other tag does.
INLINE_TAGS = frozenset(
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


def src_of(tag: str) -> str | None:
    found = _SRC_ATTR.search(tag)
    if found is None:
        return None
    return html.unescape(next(g for g in found.groups() if g is not None))


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
