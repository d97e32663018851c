"""One question's post as Telegram messages: parts that fit, continuations, photo captions.

A post that exceeds a limit is split (a warning; an error under ``--strict``), each
continuation opening with the question's words and its number (:func:`continued`); a post
with an image becomes a photo post when its text fits a caption (1024), else the photo follows
the text. :class:`Post` is a question's messages placed at its slot, as the files, the desk
and the calendar name them (``NNN-id``, ``NNN-id.2``...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.errors import Severity
from pipeline.source.model import Question
from pipeline.targets.telegram import text as tt

#: One message: the written post, its length limit, and its photo (0: none, else the
#: number of the answer's image it carries).
Part = tuple[tt.Written, int, int]


def messages(q: Question, spans: list[tt.Span], title: str) -> tuple[list[Part], list[list[Any]]]:
    """The messages of ``q``'s post (``spans``, the template's output) and the warnings about
    them (``[field, path, message, severity]``)."""
    whole = tt.write(spans)
    warnings: list[list[Any]] = []
    images = list(range(1, len(q.images) + 1))
    if images and tt.fits(whole, tt.CAPTION_LIMIT):
        parts: list[Part] = [(whole, tt.CAPTION_LIMIT, 1)]
        later: list[tuple[list[tt.Span], int, int]] = []  # continuations: (spans, limit, photo)
        extra = images[1:]
    else:
        path = f"questions[{q.index}].answer"
        parts, later = _text_parts(spans, whole, title, path, warnings)
        if images:
            warnings.append(
                [
                    "answer",
                    path,
                    f"the post is {_measures(whole)}, too long for a photo caption "
                    f"({tt.CAPTION_LIMIT}): the image is sent as a separate photo after the text",
                    Severity.WARNING.value,
                ]
            )
        extra = images
    later.extend(_captions(q, extra))
    # Each continuation says what it continues, so none is ever an empty message.
    total = 1 + len(later)
    for n, (body, limit, photo) in enumerate(later, start=2):
        parts.append((_with_header(body, continued(title, n, total), limit), limit, photo))
    return parts, warnings


def _text_parts(
    spans: list[tt.Span], whole: tt.Written, title: str, path: str, warnings: list[list[Any]]
) -> tuple[list[Part], list[tuple[list[tt.Span], int, int]]]:
    """The post as text messages: the first, written, and the continuations' spans. A split is
    reported in ``warnings``."""
    # Most posts fit as they are: then they are their own only part (no second writing).
    fitting = tt.fits(whole, tt.TEXT_LIMIT) and tt.strip_spans(spans) == spans
    reserve = tt.utf16_len(tt.plain_text(continued(title, 99, 99))) + 2
    pieces = (
        [spans]
        if fitting
        else tt.split_post(spans, tt.TEXT_LIMIT - reserve, first_limit=tt.TEXT_LIMIT)
    )
    if len(pieces) > 1:
        warnings.append(
            [
                "answer",
                path,
                f"the post is {whole.length} characters (UTF-16) with {whole.entities} "
                f"formatting entities, over Telegram's limits ({tt.TEXT_LIMIT} characters, "
                f"{tt.ENTITY_LIMIT} entities, {tt.HTML_BYTES_LIMIT} bytes): split into "
                f"{len(pieces)} posts",
                Severity.WARNING.value,
            ]
        )
    first = whole if fitting else tt.write(pieces[0])
    return [(first, tt.TEXT_LIMIT, 0)], [(piece, tt.TEXT_LIMIT, 0) for piece in pieces[1:]]


def _captions(q: Question, images: list[int]) -> list[tuple[list[tt.Span], int, int]]:
    """The captions of the photos sent after the post (``images``: their numbers): each
    image's alt text."""
    if not images:
        return []
    alts = {
        el.get("src", ""): el.get("alt", "")
        for root in (q.doc, q.title_doc)
        for el in root.iter("img")
    }
    out = []
    for k in images:
        alt = alts.get(q.images[k - 1].src, "")
        out.append((tt.make_safe([tt.Span(tt.clean_text(alt).strip())]), tt.CAPTION_LIMIT, k))
    return out


def _measures(post: tt.Written) -> str:
    """``1001 characters`` (and its twin's length when that is the larger)."""
    twin = tt.utf16_len(post.markdown)
    extra = f" (its Markdown twin {twin})" if twin > post.length else ""
    return f"{post.length} characters{extra}"


#: The question's words shown at the start of a continuation post, at most.
CONTINUED_TITLE = 60


def continued(title: str, part: int, parts: int) -> list[tt.Span]:
    """The line a continuation post starts with: ``<b>Вопрос…</b> (2/3)``."""
    words = " ".join(title.split())
    if len(words) > CONTINUED_TITLE:
        cut = words.rfind(" ", 0, CONTINUED_TITLE)  # at a word's end when there is one
        words = (
            words[: cut if cut > CONTINUED_TITLE // 2 else CONTINUED_TITLE - 1].rstrip(" ,;:—–-")
            + "…"
        )
    return [tt.Span(words, frozenset({"b"})), tt.Span(f" ({part}/{parts})")]


def _with_header(body: list[tt.Span], header: list[tt.Span], limit: int) -> tt.Written:
    """A continuation (a text part or a photo's caption) after its line, within ``limit``.

    The line loses its bold when that entity would be one too many; a caption too long for
    both keeps only the line (its alt text is shown in the answer's text too).
    """
    gap = [tt.Span("\n\n")] if tt.plain_text(body).strip() else []
    for line in (tt.make_safe(header), [tt.Span(tt.plain_text(header))]):
        written = tt.write([*line, *gap, *body])
        if tt.fits(written, limit):
            return written
    return tt.write(tt.make_safe(header))


def message_stems(stem: str, count: int) -> list[str]:
    """File stems of a post's messages: ``NNN-id``, ``NNN-id.2``, ..."""
    return [stem if k == 1 else f"{stem}.{k}" for k in range(1, count + 1)]


@dataclass(slots=True)
class Post:
    """One question's published messages at its slot (its fragment, placed)."""

    number: int
    question: Question
    at: datetime
    stem: str  # NNN-id
    data: dict[str, Any]  # the fragment

    @property
    def stems(self) -> list[str]:
        return message_stems(self.stem, len(self.data["parts"]))

    @property
    def poll_file(self) -> str | None:
        return f"{self.stem}.poll.json" if self.data["poll"] is not None else None

    @property
    def photos(self) -> list[str]:
        """File names of the answer's images, in order (``NNN-id-1.png``...)."""
        return [
            f"{self.stem}-{k}{img.path.suffix.lower()}"
            for k, img in enumerate(self.question.images, start=1)
        ]
