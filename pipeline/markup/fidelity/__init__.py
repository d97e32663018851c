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

Modules: :mod:`~pipeline.markup.fidelity.words` (the tokeniser, missing words),
:mod:`~pipeline.markup.fidelity.source` (the Markdown source side) and
:mod:`~pipeline.markup.fidelity.outputs` (the output side); this one only re-exports them.
"""

from __future__ import annotations

from pipeline.markup.fidelity.outputs import (
    html_images,
    html_list_items,
    html_words,
    text_list_items,
    text_words,
)
from pipeline.markup.fidelity.source import (
    source_images,
    source_list_items,
    source_words,
    word_list,
)
from pipeline.markup.fidelity.words import missing_words, tokens

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
