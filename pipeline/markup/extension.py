"""The GithubMarkdown extension: what GitHub readers expect that Python-Markdown lacks.

:class:`GithubMarkdown` registers, through Python-Markdown's Extension API only, this
package's processors: :class:`pipeline.markup.github.GithubLists` (lists and fences), the math
patterns of :mod:`pipeline.markup.math`, the placeholders turned into elements and the known
vocabulary of :mod:`pipeline.markup.html`, the stray ``<`` hidden from the HTML block extractor
(:mod:`pipeline.markup.angles`), Markdown inside ``<details>`` and other containers
(:mod:`pipeline.markup.containers`), and the small ones defined here: ``\\`` line breaks, task
boxes, footnotes without back-links, code text unescaped.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

import markdown
from markdown import util
from markdown.extensions import Extension
from markdown.extensions.footnotes import NBSP_PLACEHOLDER
from markdown.inlinepatterns import InlineProcessor
from markdown.treeprocessors import Treeprocessor

from pipeline.markup.angles import HideStrayAngles, RestoreStrayAngles
from pipeline.markup.containers import ContainerBlocks
from pipeline.markup.github import FenceFormat, GithubLists
from pipeline.markup.html import KnownVocabulary, StashToElements
from pipeline.markup.math import GithubMath, MathProcessor


class GithubMarkdown(Extension):
    """What GitHub readers expect that Python-Markdown lacks, through its Extension API;
    ``fence`` keeps each fence for the tree (it is SuperFences' formatter too), emptied at
    each :meth:`markdown.Markdown.reset`."""

    def __init__(self, fence: FenceFormat) -> None:
        super().__init__()
        self.fence = fence

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.registerExtension(self)  # so that md.reset() calls self.reset()
        md.ESCAPED_CHARS = [*md.ESCAPED_CHARS, "$", "|", "~"]
        md.inlinePatterns.deregister("automail")  # it emits obfuscated entity soup
        md.treeprocessors.deregister("prettify")  # no synthetic whitespace in the tree
        md.preprocessors.register(GithubLists(md, self.fence), "github_lists", 29)
        # md_in_html's HTML block extractor, replaced (its name and priority; md_in_html is
        # loaded first) by one that marks the containers it reads as blocks, and only those.
        md.preprocessors.register(ContainerBlocks(md), "html_block", 20)
        # Around the HTML block extractor ("html_block", 20), once fences are taken out (25).
        hide = HideStrayAngles(md)
        md.preprocessors.register(hide, "hide_stray_angles", 21)
        md.preprocessors.register(RestoreStrayAngles(md, hide), "restore_stray_angles", 19)
        md.inlinePatterns.register(GithubMath(GithubMath.PATTERN, md), "github_math", 195)
        md.inlinePatterns.register(MathProcessor(MathProcessor.PATTERN, md), "math", 185)
        md.inlinePatterns.register(_HardBreak(_HardBreak.PATTERN, md), "backslash_break", 184)
        md.treeprocessors.register(_TasksAndFootnotes(md), "tasks_footnotes", 7)
        md.treeprocessors.register(_UnescapeCode(md), "unescape_code", 6)
        md.treeprocessors.register(StashToElements(md, self.fence.blocks), "stash_elements", 5)
        md.treeprocessors.register(KnownVocabulary(md), "known_vocabulary", 1)

    def reset(self) -> None:
        self.fence.blocks.clear()


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
            if any(_is_backref(child) for child in parent):
                _drop_backrefs(parent)
        for el in root.iter():
            if el.tag == "div" and el.get("class") == "footnote":
                el.set("class", "footnotes")
            if el.tag in ("sup", "li") and el.get("id", "").startswith(("fnref", "fn:")):
                el.attrib.pop("id")
                if el.tag == "sup" and len(el) == 1 and el[0].tag == "a":
                    el.text, el[:] = el[0].text, []  # a number: no link into the page


def _is_backref(el: Element) -> bool:
    return el.tag == "a" and "footnote-backref" in el.get("class", "")


def _drop_backrefs(parent: Element) -> None:
    """Remove the back-links among ``parent``'s children, keeping their tails.

    The children are rebuilt in one assignment: a search and a remove per back-link was
    quadratic in a footnote referenced many times (10,000 back-links took 1.8 s, against
    0.018 s for 1,000; tests/markup/test_linear_time.py).
    """
    kept: list[Element] = []
    for child in parent:
        if not _is_backref(child):
            kept.append(child)
            continue
        tail = (child.tail or "").rstrip()
        if kept:
            prev = kept[-1]
            prev.tail = ((prev.tail or "").removesuffix(NBSP_PLACEHOLDER) + tail) or None
        else:
            parent.text = ((parent.text or "").removesuffix(NBSP_PLACEHOLDER) + tail) or None
    parent[:] = kept
