"""The digest's fast paths make exactly what the slow ones make.

* :func:`pipeline.targets.digest.message.build_message` writes the ``.eml`` directly; it must
  equal the email package's message (``build_message_with_email`` in ``tests/support/eml.py``)
  byte for byte.
* Per-question fragments (made once, with footnote numbers of their own and the question's
  own images) must give the same files as writing every answer from its tree for each message.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any, TypeVar
from xml.etree.ElementTree import Element

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.build.cache import Memo
from pipeline.build.contract import OutputFile, RenderContext
from pipeline.build.fragments import compute_fragments, static_key
from pipeline.targets.digest import target as digest
from pipeline.targets.digest.compose import Digest
from pipeline.targets.digest.html import Urls
from pipeline.targets.digest.keys import WeekKeys
from pipeline.targets.digest.message import GLUED, Letter, build_message, subject_header
from pipeline.targets.digest.text import TextWriter
from pipeline.targets.registry import TARGETS
from tests.support.banks import NOW, SEED, TEMPLATES
from tests.support.digest import HEAD, context
from tests.support.eml import build_message_with_email, subject_with_email
from tests.support.examples import examples

T = TypeVar("T")

# --- the .eml ---------------------------------------------------------------------------------

SENDERS = [
    "Тест <digest@example.org>",
    "digest@example.org",
    '"Имя, с запятой" <a.b@example.org>',
    "Очень длинное имя отправителя " * 6 + "<digest@example.org>",
    "x@-odd..domain",
    "<.dot@example.org>",
]
#: Text that exercises line ends (CR, LF, CRLF, form feed), Cyrillic, emoji and markup.
body_text = st.lists(
    st.sampled_from(["a", "я", " ", "\n", "\r", "\r\n", "\x0c", "😀", "<", "&", "=", "?"]),
    max_size=400,
).map("".join)


def outcome(make: Callable[[T], bytes], value: T) -> bytes | str:
    try:
        return make(value)
    except Exception:  # both must refuse the same letters (validation keeps
        return "refused"  # such settings out; which header fails first, and how, may differ)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=st.one_of(
        st.text(max_size=120),
        st.sampled_from(["Дайджест: 2026-W49", "Тема " * 300, "a =?utf-8?q?x?= b", "x" * 1200]),
    ),
    sender=st.one_of(st.sampled_from(SENDERS), st.text(max_size=40)),
    text=body_text,
    html=body_text,
    ident=st.sampled_from(["digest-2026-W49", "digest-2026-W49-2", "a..b", "с пробелом"]),
    unsubscribe=st.one_of(
        st.none(),
        st.sampled_from(["https://example.org/u?a=1&b=2", "https://e.org/" + "x" * 1100]),
        st.text(max_size=30),
    ),
    offset=st.integers(-12, 14),
)
def test_direct_eml_equals_the_email_package(
    subject: str,
    sender: str,
    text: str,
    html: str,
    ident: str,
    unsubscribe: str | None,
    offset: int,
) -> None:
    when = datetime(2026, 11, 20, 12, tzinfo=timezone(timedelta(hours=offset)))
    letter = Letter(subject, sender, when, text, html, ident, unsubscribe)
    assert outcome(build_message, letter) == outcome(build_message_with_email, letter)


SUBJECT_WORDS = [
    "Дайджест",
    "вопросов",
    "Data",
    "Science:",
    "2026-W49",
    "(1/2)",
    "a",
    "=",
    "?",
    "é",
    "😀",
    "x" * 40,
    "Ж" * 30,
    "\u00a0",
    '"(\\,;<>',
    "\u2028",
    "\ud800",
]


@settings(max_examples=examples(400), deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(SUBJECT_WORDS), st.sampled_from([" ", "", "  ", "\t"])),
        min_size=1,
        max_size=14,
    ).map(lambda pairs: "".join(word + gap for word, gap in pairs))
)
# After a space and a no-break space the package glues the encoded word to what follows:
# a word ("…wqA==?=Data") or any other text ("…wqA==?=(1/2)").
@example(subject="Дайджест \xa0Data")
@example(subject="Дайджест \xa0(1/2)")
@example(subject="Дайджест \xa0(1/2)  x")  # the same through the package's folding
def test_subject_line_equals_the_email_package(subject: str) -> None:
    expected = outcome(subject_with_email, subject)
    ours = outcome(subject_header, subject)
    if isinstance(expected, bytes) and GLUED.search(expected):
        # The email package glues an encoded word to the text after a no-break space
        # ("…wqA==?=Data"), which RFC 2047 forbids; ours must read back as the subject.
        assert isinstance(ours, bytes) and not GLUED.search(ours)
        header = ours.decode("ascii").removeprefix("Subject: ").replace("\r\n", "")
        assert str(make_header(decode_header(header))) == subject
        return
    assert ours == expected


def test_direct_eml_of_long_bodies() -> None:
    """Bodies of every length around the 57-byte base64 line, and a large one."""
    for n in [*range(0, 120), 5000, 100_000]:
        letter = Letter("Тема", "a@b.c", NOW, "я" * n, "x" * n + "\n", "digest-x")
        assert build_message(letter) == build_message_with_email(letter)


# --- fragments ----------------------------------------------------------------------------------


def files(ctx: RenderContext, memo: Memo | None = None) -> dict[str, bytes]:
    """The digest's files (with a fresh memo unless one is given: no week comes from it)."""
    rendered = digest.render(replace(ctx, memo=memo or Memo()))
    # A week known from the memo comes by digest; with no earlier build to link it from,
    # it is made again (and checked against its digest).
    out = {f.path: f.data if isinstance(f, OutputFile) else f.make() for f in rendered.files}
    assert not rendered.warnings
    return out


def with_fragments(
    ctx: RenderContext, change: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> RenderContext:
    """``ctx`` with the digest's fragments as the build makes them (optionally changed)."""
    made = dict(compute_fragments(ctx, {"digest": TARGETS["digest"]})["digest"])
    if change is not None:
        made = {qid: change(dict(frag)) for qid, frag in made.items()}
    return replace(ctx, fragments={"digest": made})


def without_own_text(frag: dict[str, Any]) -> dict[str, Any]:
    """A fragment whose answer text must be written from the tree for each message."""
    return frag | {"text": None}


def test_seed_fragments_give_the_same_files() -> None:
    ctx = context(SEED)
    expected = files(ctx)  # no fragments: made on the fly
    assert files(with_fragments(ctx)) == expected
    assert files(with_fragments(ctx, without_own_text)) == expected


def bank(*answers: str, days: tuple[int, ...] = (1, 2, 3, 4, 5, 6)) -> str:
    """Questions pinned to December days (by default one a day: all in 2026-W49)."""
    parts = [HEAD.replace("{extra}", "base_url: https://digest.example.org/static/")]
    for n, (answer, day) in enumerate(zip(answers, days, strict=False), start=1):
        body = "\n".join("      " + line if line else "" for line in answer.split("\n"))
        parts.append(
            f"  - id: q{n}\n    question: 'Вопрос {n}?'\n    grades: [junior]\n"
            f"    publish_at: 2026-12-{day:02d} 10:00\n    answer: |\n{body}\n"
        )
    return "".join(parts)


def links(prefix: str, count: int) -> str:
    """A paragraph of ``count`` links long enough to wrap (numbers change where lines break)."""
    return " ".join(
        f"Слово [ссылка номер {i}](https://example.org/{prefix}/{i}) ещё" for i in range(count)
    )


def test_footnotes_renumbered_per_message(
    write_source: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = "[общая](https://example.org/shared) и [вторая](https://example.org/second)"
    source = write_source(
        bank(
            # 9 links: numbers 1-9, the same as in the answer alone.
            links("a", 7) + " " + shared,
            # Shares two URLs (8 and 9 here, 1 and 2 alone), then new ones whose numbers grow
            # to two digits (10-14: those lines may wrap differently, so from the tree).
            shared + "\n\n" + links("b", 5),
            # Only new URLs: 15-18 instead of 1-4 (from the tree), one in a table.
            links("c", 3) + "\n\n| a | b |\n|---|---|\n| [x](https://example.org/t) | y |",
            # Known URLs only: 8, 9, 1 instead of 1, 2, 3 (same digits: renumbered text).
            shared + " [снова](https://example.org/a/0)",
            "Без ссылок.",
        )
    )
    ctx = context(source)
    expected = files(ctx)
    text = expected["digest/2026-W49.txt"].decode()
    assert "[18] https://example.org/t" in text and "ссылка номер 4 [5]" in text
    assert "общая [8] и вторая [9] снова [1]" in text
    fast = with_fragments(ctx)
    from_tree: list[object] = []
    answer = TextWriter.answer

    def counted(self: TextWriter, root: Element) -> str:
        from_tree.append(root)
        return answer(self, root)

    monkeypatch.setattr(TextWriter, "answer", counted)
    assert files(fast) == expected
    assert len(from_tree) == 2  # the second and third answers
    assert files(with_fragments(ctx, without_own_text)) == expected


def test_stand_in_characters_in_content(write_source: Callable[[str], Path]) -> None:
    """Private-use characters like the footnote stand-ins reach the text as they are."""
    source = write_source(
        bank(
            "[раз](https://example.org/1) \ue001 и &#57346; и [\ue003](https://example.org/3)",
            "[два](https://example.org/2) [\ue001]",
        )
    )
    ctx = context(source)
    expected = files(ctx)
    text = expected["digest/2026-W49.txt"].decode()
    assert "\ue001 и \ue002" in text and "\ue003 [2]" in text and "два [3] [\ue001]" in text
    assert files(with_fragments(ctx)) == expected


def with_image(write_source: Callable[[str], Path], *answers: str, days: tuple[int, ...]) -> Path:
    source = write_source(bank(*answers, days=days))
    (source.parent / "img").mkdir(exist_ok=True)
    (source.parent / "img" / "a b.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return source


def test_a_fragment_that_missed_a_bank_image_is_made_again(
    write_source: Callable[[str], Path],
) -> None:
    """A fragment is made with its question's own images. Had it looked up a source that is
    another question's local image, the digest makes it again with the whole bank's."""
    ctx = context(with_image(write_source, "Текст.", "![схема](img/a%20b.png)", days=(1, 2)))
    expected = files(ctx)

    def missed(frag: dict[str, Any]) -> dict[str, Any]:
        return frag | {"title_html": "УСТАРЕЛО", "misses": ["img/a%20b.png"]}

    assert files(with_fragments(ctx, missed)) == expected
    # A miss of a source no question has is the written path either way: the fragment stands.
    stale = files(with_fragments(ctx, lambda f: missed(f) | {"misses": ["img/none.png"]}))
    assert "УСТАРЕЛО".encode() in stale["digest/2026-W49.html"]


def test_raw_images_are_published_like_markdown_images(
    write_source: Callable[[str], Path],
) -> None:
    raw = '<p><img src="img/a%20b.png" alt="сырая"> <img src="https://cdn.example/x.png"></p>'
    ctx = context(with_image(write_source, raw, "![схема](img/a%20b.png)", days=(1, 2)))
    html = files(ctx)["digest/2026-W49.html"].decode()
    assert html.count("img/a%20b.png") == 2  # not fetched offline: a link instead
    assert re.search(
        r'<a href="https://cdn.example/x.png"[^>]*>https://cdn.example/x.png</a>', html
    )
    assert 'alt="сырая"' in html
    assert files(with_fragments(ctx)) == files(ctx)


def test_fragment_is_plain_data_and_independent_of_the_week() -> None:
    ctx = context(SEED)
    made = compute_fragments(ctx, {"digest": TARGETS["digest"]})["digest"]
    question = ctx.bank.questions[0]
    assert made[question.id] == digest.fragment(question, ctx)
    moved = replace(ctx, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert static_key("digest", TARGETS["digest"], moved) == static_key(
        "digest", TARGETS["digest"], ctx
    )
    other = replace(
        ctx,
        bank=replace(
            ctx.bank,
            settings=replace(
                ctx.bank.settings,
                newsletter=replace(ctx.bank.settings.newsletter, base_url="https://x.org/"),
            ),
        ),
    )
    assert static_key("digest", TARGETS["digest"], other) != static_key(
        "digest", TARGETS["digest"], ctx
    )


# --- whole weeks from the memo -----------------------------------------------------------------


@pytest.fixture
def rendered_weeks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Weeks whose HTML is rendered (not known from the memo), in order. A known week made
    again for its bytes (what a build does when the previous output lacks it) is not counted."""
    weeks: list[str] = []
    html, remade = Digest.html, Digest.remade
    remaking: list[str] = []

    def counted(self: Digest, week: str, *args: Any) -> str:
        if not remaking:
            weeks.append(week)
        return html(self, week, *args)

    def uncounted(self: Digest, week: str, questions: Any) -> list[OutputFile]:
        remaking.append(week)
        try:
            return list(remade(self, week, questions))
        finally:
            remaking.pop()

    monkeypatch.setattr(Digest, "html", counted)
    monkeypatch.setattr(Digest, "remade", uncounted)
    return weeks


def test_unchanged_weeks_come_from_the_memo(rendered_weeks: list[str]) -> None:
    ctx = context(SEED)
    memo = Memo()
    first = files(ctx, memo)
    assert len(rendered_weeks) == 5
    later = replace(ctx, now=NOW + timedelta(days=3))
    again = files(later, memo)
    assert len(rendered_weeks) == 5  # nothing rendered again
    assert again == files(later)  # the same as made from scratch at that time
    assert first == again  # the build's time is in no file


def test_an_edit_renders_its_week_only(
    write_source: Callable[[str], Path], rendered_weeks: list[str]
) -> None:
    days = (1, 2, 8, 9)  # two weeks: 2026-W49 and 2026-W50
    memo = Memo()
    answers = ["Первый.", "Второй.", "Третий.", "Четвёртый."]
    files(context(write_source(bank(*answers, days=days))), memo)
    rendered_weeks.clear()
    answers[2] = "Третий, исправленный."
    edited = context(write_source(bank(*answers, days=days)))
    made = files(edited, memo)
    assert rendered_weeks == ["2026-W50"]
    assert made == files(edited)


def test_templates_and_settings_are_part_of_the_key(
    write_source: Callable[[str], Path], rendered_weeks: list[str], tmp_path: Path
) -> None:
    source = write_source(bank("Ответ."))
    memo = Memo()
    ctx = context(source)
    files(ctx, memo)
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES / "digest", templates / "digest")
    text = templates / "digest" / "email.txt"
    text.write_text(text.read_text(encoding="utf-8") + "Подпись.\n", encoding="utf-8")
    edited = replace(ctx, options=replace(ctx.options, templates=templates))
    rendered_weeks.clear()
    assert files(edited, memo)["digest/2026-W49.txt"].endswith("Подпись.\n".encode())
    assert rendered_weeks == ["2026-W49"]
    retitled = context(write_source(bank("Ответ.").replace("Тестовый", "Новый")))
    rendered_weeks.clear()
    made = files(retitled, memo)
    assert rendered_weeks == ["2026-W49"]
    assert made == files(retitled)


def week_keys(ctx: RenderContext) -> dict[str, str]:
    """The memo key of every week (as :func:`digest.render` makes them)."""
    made = WeekKeys(
        ctx,
        Urls(
            ctx.bank.settings.newsletter.base_url,
            ctx.bank.content_dir,
            (img for q in ctx.bank.questions for img in q.images),
        ),
        {q.id: at for q, at in ctx.schedule.items},
    )
    return {week: made.week_key(week, qs) for week, qs in ctx.schedule.weeks().items()}


def test_raw_image_week_follows_the_bank_images(write_source: Callable[[str], Path]) -> None:
    """A week with raw HTML that may hold an image has the bank's local images in its key
    (its images could resolve through them); other weeks do not."""
    raw = '<p><img src="https://cdn.example/x.png" alt="сырая"></p>'
    before = week_keys(context(with_image(write_source, raw, "Текст.", "Ещё.", days=(1, 8, 15))))
    after = week_keys(
        context(with_image(write_source, raw, "Текст.", "![схема](img/a%20b.png)", days=(1, 8, 15)))
    )
    assert before["2026-W49"] != after["2026-W49"]  # raw <img: the bank's images count
    assert before["2026-W50"] == after["2026-W50"]  # plain, unchanged
    assert before["2026-W51"] != after["2026-W51"]  # its own question changed
