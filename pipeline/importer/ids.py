"""Ids, tags and duplicate keys that ``import-telegram`` derives from a post's text.

:func:`slugify` transliterates a question into a readable ASCII id (a fixed table, no locale,
no library: the same text gives the same id everywhere); :func:`unique_id` adds ``-2``, ``-3``
to an id already taken; :func:`tags_of` turns hashtags other than grades into tag slugs;
:func:`normalise` is the key two questions share when they say the same thing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from pipeline import markup
from pipeline.source.fields import SLUG
from pipeline.source.model import GRADES

#: Longest id slug before a ``-2`` suffix; long enough that different questions rarely meet.
MAX_ID_LENGTH = 60

#: Russian (and Ukrainian/Belarusian) letters -> Latin, close to the common passport style.
TRANSLIT = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
    "і": "i",
    "ї": "yi",
    "є": "ye",
    "ґ": "g",
    "ў": "u",
}
_SILENT = frozenset("'’ʼ`\u0301")


def slugify(text: str, max_length: int = MAX_ID_LENGTH) -> str:
    """Readable ASCII slug: transliterated, lowercase, words joined by '-', cut at a word
    boundary. Deterministic: a fixed table, no locale, no library."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFKC", text).lower():
        if ch in TRANSLIT:
            out.append(TRANSLIT[ch])
        elif ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ch in _SILENT:
            continue
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if c.isascii() and c.isalnum()
            )
            out.append(base.lower() if base else "-")
    slug = re.sub(r"-+", "-", "".join(out)).strip("-")
    if len(slug) > max_length:
        cut = slug[: max_length + 1]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else slug[:max_length]
    return slug


def unique_id(base: str, taken: Iterable[str]) -> str:
    """``base``, or ``base-2``, ``base-3`` ... whichever is not taken yet."""
    seen = set(taken)
    if base not in seen:
        return base
    n = 2
    while f"{base}-{n}" in seen:
        n += 1
    return f"{base}-{n}"


def tags_of(hashtags: Sequence[str]) -> tuple[str, ...]:
    """Tag slugs for a post's hashtags (grades aside), in order, each once."""
    tags: list[str] = []
    for tag in hashtags:
        if tag.casefold() in GRADES:
            continue
        slug = slugify(tag.replace("_", "-"), 40)
        if slug and re.fullmatch(SLUG, slug) and slug not in tags:
            tags.append(slug)
    return tuple(tags)


def normalise(question_markdown: str) -> str:
    """The duplicate key of a question: its visible text, case and punctuation folded (the
    same rule the validator uses for its duplicate-question warning)."""
    tree = markup.inline_children(markup.parse_markdown(question_markdown))
    text = unicodedata.normalize("NFKC", markup.plain_text(tree)).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())
