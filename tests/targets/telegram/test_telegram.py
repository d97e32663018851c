"""Telegram posts: TDLib accepts every post, the Markdown twin matches, limits hold, goldens."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import PipelineError, Severity
from pipeline.targets.telegram import text as tt
from tests.support.banks import ROOT, SEED, TESTS, build_into
from tests.support.tdlib import check_post, parse_html, parse_markdown
from tests.support.telegram import (
    assert_calendar_is_icalendars,
    calendar_bank,
    edge_source,
    entries,
    png,
)

GOLDEN = TESTS / "golden" / "telegram"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def seed_build(tmp_path: Path, **options: Any) -> Path:
    (tmp_path / "content").mkdir(parents=True, exist_ok=True)
    source = tmp_path / "content" / "questions.yaml"
    source.write_bytes(SEED.read_bytes())
    build_into(source, tmp_path / "dist", **options)
    return tmp_path / "dist" / "telegram"


def manifest_kinds(dist: Path) -> dict[str, str]:
    data = json.loads((dist / "manifest.json").read_text(encoding="utf-8"))
    return {e["path"]: e["kind"] for e in data["outputs"] if e["path"].startswith("telegram/")}


def posts_in(folder: Path) -> list[tuple[Path, Path]]:
    """(html, txt) pairs of every post in a build's telegram folder."""
    return [
        (html, html.with_suffix(".txt"))
        for html in sorted(folder.glob("*.html"))
        if html.name != "index.html"
    ]


def assert_posts_valid(folder: Path) -> None:
    """Every post: TDLib accepts it within the limits; its twin shows the same."""
    for html, txt in posts_in(folder):
        source = html.read_text(encoding="utf-8")
        if not source.strip():
            continue  # a photo without caption
        limit = tt.CAPTION_LIMIT if list(folder.glob(f"{html.stem}-*.png")) else tt.TEXT_LIMIT
        problems = check_post(
            source, txt.read_text(encoding="utf-8"), limit=limit, url_for_text=tt.url_for_text
        )
        assert problems == [], f"{html.name}: {problems}"


# --- the seed ---------------------------------------------------------------------------------


def test_seed_posts_pass_tdlib_and_twins_match(tmp_path: Path) -> None:
    folder = seed_build(tmp_path)
    assert len(posts_in(folder)) == 9
    assert_posts_valid(folder)


def test_seed_outputs_and_kinds(tmp_path: Path) -> None:
    folder = seed_build(tmp_path)
    kinds = manifest_kinds(folder.parent)
    assert kinds["telegram/001-roc-auc-log.html"] == "telegram-post-html"
    assert kinds["telegram/001-roc-auc-log.txt"] == "telegram-post-text"
    assert kinds["telegram/index.html"] == "telegram-desk"
    assert kinds["telegram/schedule.ics"] == "calendar"
    # Publishing order follows the schedule; the first slot after 2026-12-01 is Thu 18:30.
    assert sorted(p.name for p, _ in posts_in(folder))[6] == "007-matrix-diagonal-sum.html"


def test_seed_post_follows_the_channel_style(tmp_path: Path) -> None:
    folder = seed_build(tmp_path)
    post = (folder / "005-metric-vs-loss.html").read_text(encoding="utf-8")
    assert post.startswith("👨‍💼\n<b>С точки зрения бизнес-процессов")
    assert "?</b>\n\nМетрика качества" in post
    assert post.endswith("кросс-энтропия.\n\n#junior\n#middle")
    assert "• функция потерь возникает" in post


def test_seed_code_block_keeps_language_and_escapes(tmp_path: Path) -> None:
    folder = seed_build(tmp_path)
    post = (folder / "007-matrix-diagonal-sum.html").read_text(encoding="utf-8")
    assert (
        '<pre><code class="language-python">def diagonal_sum(mat: list[list[int]]) -&gt; int:'
        in post
    )
    twin = (folder / "007-matrix-diagonal-sum.txt").read_text(encoding="utf-8")
    assert "```python\ndef diagonal_sum" in twin
    result = parse_html(post)
    assert any(
        e["type"]["@type"] == "textEntityTypePreCode" and e["type"]["language"] == "python"
        for e in result["entities"]
    )


@pytest.mark.parametrize(
    "name",
    [
        "001-roc-auc-log.html",
        "001-roc-auc-log.txt",
        "004-ranking-metrics.html",
        "004-ranking-metrics.txt",
        "005-metric-vs-loss.html",
        "007-matrix-diagonal-sum.html",
        "007-matrix-diagonal-sum.txt",
        "schedule.ics",
        "index.html",
    ],
)
def test_seed_golden(tmp_path: Path, name: str) -> None:
    folder = seed_build(tmp_path)
    got = (folder / name).read_bytes()
    golden = GOLDEN / "seed" / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(got)
    assert golden.exists(), f"missing golden {golden}; run with UPDATE_GOLDEN=1"
    assert got == golden.read_bytes(), f"{name} differs from {golden} (UPDATE_GOLDEN=1)"


def test_build_is_deterministic(tmp_path: Path) -> None:
    a = seed_build(tmp_path / "a")
    b = seed_build(tmp_path / "b")
    for path in sorted(a.iterdir()):
        assert path.read_bytes() == (b / path.name).read_bytes(), path.name


def test_calendar_events(tmp_path: Path) -> None:
    from icalendar import Calendar

    folder = seed_build(tmp_path)
    cal = Calendar.from_ical((folder / "schedule.ics").read_bytes())
    events = list(cal.walk("VEVENT"))
    assert len(events) == 9
    first = events[0]
    assert str(first["uid"]) == "roc-auc-log@ds-interview.telegram"
    assert first.decoded("dtstart").isoformat() == "2026-12-03T18:30:00+03:00"
    assert str(first.decoded("dtstart").tzinfo) == "Europe/Moscow"
    assert first.decoded("dtstamp").isoformat() == "2026-11-20T12:00:00+00:00"
    assert str(first["summary"]).startswith("Как изменится ROC-AUC")
    assert "Логарифмическая функция является монотонной" in str(first["description"])
    assert list(cal.walk("VTIMEZONE"))  # time-zone aware, not floating
    assert list(first.walk("VALARM"))


def test_calendar_is_what_icalendar_writes_for_the_whole_calendar(
    tmp_path: Path, write_source: Any
) -> None:
    """Events come from the fragments with placeholders (number, slot, build time) filled in;
    the file must equal icalendar's own output for the finished events, also where a post
    number is folded across two lines."""
    words = "Ответ про градиентный бустинг и регуляризацию моделей"
    questions = "".join(
        f"  - id: {'q' * (1 + i % 37)}{i}\n"
        f"    question: Вопрос номер {i} про {'x' * (i % 11)}?\n"
        f"    answer: {words[: 5 + (i * 7) % 45]} {i}.\n"
        "    grades: [junior]\n"
        + ("    quiz:\n      options: [да, нет]\n      correct: 1\n" if i % 3 == 0 else "")
        for i in range(120)
    )
    source = write_source(calendar_bank(questions))
    build_into(source, tmp_path / "dist")
    assert_calendar_is_icalendars(tmp_path / "dist")
    # Some post numbers were split by folding (the digit-by-digit path was taken).
    got = (tmp_path / "dist" / "telegram" / "schedule.ics").read_bytes()
    desk = entries(tmp_path / "dist" / "telegram" / "index.html")
    assert any(f"{stem}.html".encode() not in got for e in desk for stem in e["stems"])


def test_calendar_of_the_edge_cases_is_what_icalendar_writes(
    tmp_path: Path, write_source: Any
) -> None:
    build_into(edge_source(write_source), tmp_path / "dist")
    assert_calendar_is_icalendars(tmp_path / "dist")


# --- what a new user will try -----------------------------------------------------------------


def test_edge_cases_pass_tdlib_and_twins_match(tmp_path: Path, write_source: Any) -> None:
    report = build_into(edge_source(write_source), tmp_path / "dist")
    folder = tmp_path / "dist" / "telegram"
    assert_posts_valid(folder)
    warnings = {(w.path, w.severity) for w in report.warnings}
    assert ("questions[3].answer", Severity.WARNING) in warnings  # many marks: split
    assert ("questions[4].answer", Severity.WARNING) in warnings  # long: split


def test_identifiers_survive_the_twin(tmp_path: Path, write_source: Any) -> None:
    build_into(edge_source(write_source), tmp_path / "dist")
    folder = tmp_path / "dist" / "telegram"
    twin = (folder / "002-code-symbols.txt").read_text(encoding="utf-8")
    shown = parse_markdown(twin)["text"]
    for word in ("__init__", "snake_case__x", "a__b__c", "self.__x = x if x < 10"):
        assert word in shown, word
    html = (folder / "002-code-symbols.html").read_text(encoding="utf-8")
    assert "<code>__init__</code>" in html
    assert "&lt;, &amp; и __" in html
    assert "indented &lt;code&gt; &amp; more" in html  # an indented block, escaped once


def test_tables_raw_html_math_links(tmp_path: Path, write_source: Any) -> None:
    build_into(edge_source(write_source), tmp_path / "dist")
    html = (tmp_path / "dist" / "telegram" / "003-table-and-raw.html").read_text(encoding="utf-8")
    assert "<pre>Модель │  AUC │ Время\n───────┼──────┼──────\nLR     │ 0.81 │    1s" in html
    assert "<blockquote>Цитата с <b>жирным</b> и <code>кодом</code> и второй строкой." in html
    assert "<b>жирный</b> <u>подчёркнутый</u>" in html
    assert "alert" not in html and "onclick" not in html
    assert '<a href="https://example.com/a__b__c">с подчёркиванием</a>' in html
    assert "1. Первый\n    • вложенный\n    • ещё\n2. Второй" in html
    assert "<b>Заголовок</b>" in html
    assert "<code>e^{i\\pi} + 1 = 0</code>" in html
    assert '<pre><code class="language-latex">\\sum_{i=1}^n x_i^2</code></pre>' in html
    twin = (tmp_path / "dist" / "telegram" / "003-table-and-raw.txt").read_text(encoding="utf-8")
    assert "с подчёркиванием (https://example.com/a%5F%5Fb%5F%5Fc) и https://example.org/x." in twin


def test_long_answer_is_split_at_paragraphs_and_strict_fails(
    tmp_path: Path, write_source: Any
) -> None:
    source = edge_source(write_source)
    build_into(source, tmp_path / "dist")
    folder = tmp_path / "dist" / "telegram"
    parts = sorted(
        folder.glob("005-long*.html"),
        key=lambda p: int(p.suffixes[0][1:]) if len(p.suffixes) > 1 else 1,
    )
    assert len(parts) >= 3
    texts = [parse_html(p.read_text(encoding="utf-8"))["text"] for p in parts]
    assert all(len(t.encode("utf-16-le")) // 2 <= 4096 for t in texts)
    # Paragraph boundaries: every part but the last ends a paragraph or a code line.
    for text in texts[:-1]:
        assert text.endswith((".", "of code")), text[-40:]
    with pytest.raises(PipelineError, match=r"split into \d+ posts \(--strict\)"):
        build_into(source, tmp_path / "strict", strict=True)


def test_code_block_is_closed_and_reopened_across_parts() -> None:
    code = "\n".join(f"x{i} = {i}  # строка" for i in range(400))
    spans = [tt.Span("Intro"), tt.Span("\n\n"), tt.Span(code, pre="python")]
    parts = tt.split_post(spans)
    assert len(parts) == 3  # the twins' fences count too: each twin is within 4096 as pasted
    for part in parts:
        written = tt.write(part)
        assert check_post(written.html, written.markdown, url_for_text=tt.url_for_text) == []
        assert tt.utf16_len(written.markdown) <= tt.TEXT_LIMIT
    assert all(part[0].pre == "python" and part[0].text.startswith("x") for part in parts[1:])
    assert "\n".join(s.text for part in parts for s in part if s.pre) == code


def test_many_entities_split_by_entity_count(tmp_path: Path, write_source: Any) -> None:
    build_into(edge_source(write_source), tmp_path / "dist")
    parts = sorted((tmp_path / "dist" / "telegram").glob("004-many-marks*.html"))
    assert len(parts) >= 4  # 360 entities at <= 100 a post
    for p in parts:
        assert len(parse_html(p.read_text(encoding="utf-8"))["entities"]) <= 100


def test_photo_post_and_image_file(tmp_path: Path, write_source: Any) -> None:
    build_into(edge_source(write_source), tmp_path / "dist")
    folder = tmp_path / "dist" / "telegram"
    assert (folder / "006-photo-1.png").read_bytes() == png()
    assert manifest_kinds(tmp_path / "dist")["telegram/006-photo-1.png"] == "telegram-image"
    desk = (folder / "index.html").read_text(encoding="utf-8")
    assert '"photos":["006-photo-1.png"]' in desk  # shown by the desk (test_telegram_desk)
    caption = parse_html((folder / "006-photo.html").read_text(encoding="utf-8"))["text"]
    assert "Смотрите схему: схема сети" in caption


def test_quiz_poll_payload(tmp_path: Path, write_source: Any) -> None:
    build_into(edge_source(write_source), tmp_path / "dist")
    poll = json.loads(
        (tmp_path / "dist" / "telegram" / "003-table-and-raw.poll.json").read_text(encoding="utf-8")
    )
    assert poll == {
        "chat_id": "@test_channel",
        "question": "Таблица, цитата и сырой HTML",
        "options": [{"text": "Один"}, {"text": "Два"}, {"text": "Три"}],
        "type": "quiz",
        "correct_option_id": 1,
        "is_anonymous": True,
        "explanation": "Потому что два.",
    }


def test_quiz_with_too_long_default_question_is_a_located_error(
    tmp_path: Path, write_source: Any
) -> None:
    source = write_source(f"""\
        questions:
          - id: q
            question: {"Очень длинный вопрос " * 20}
            answer: Ответ.
            grades: [junior]
            quiz:
              options: [да, нет]
              correct: 1
        """)
    with pytest.raises(PipelineError) as info:
        build_into(source, tmp_path / "dist")
    messages = [str(p) for p in info.value.problems]
    assert any(
        ":7:7: questions[0].quiz.question: a quiz question may have at most 300 "
        "characters; the question text has 419; add a shorter quiz.question" in m
        for m in messages
    ), messages


def test_template_with_a_tag_telegram_refuses(tmp_path: Path, write_source: Any) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "telegram" / "post.html.j2").write_text("<p>{{ question }}</p>\n{{ answer }}")
    source = write_source("""\
        questions:
          - id: q
            question: Вопрос?
            answer: Ответ.
            grades: [junior]
        """)
    with pytest.raises(
        PipelineError,
        match=r"post.html.j2:1:1: <p> is not a tag Telegram "
        r"accepts .* \(in the post of 'q'\)",
    ):
        build_into(source, tmp_path / "dist", templates=templates)


def test_template_error_in_the_post_is_located(tmp_path: Path, write_source: Any) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "telegram" / "post.html.j2").write_text("<b>{{ question }}</b> {{ nope }}")
    source = write_source("""\
        questions:
          - id: q
            question: Вопрос?
            answer: Ответ.
            grades: [junior]
        """)
    with pytest.raises(PipelineError, match=r"telegram:1:1: template error: 'nope' is undefined"):
        build_into(source, tmp_path / "dist", templates=templates)
    (templates / "telegram" / "post.html.j2").write_text("<b>{{ question }</b>")
    with pytest.raises(PipelineError, match=r"post.html.j2:1:"):
        build_into(source, tmp_path / "dist", templates=templates)


def test_template_content_is_data_not_template(tmp_path: Path, write_source: Any) -> None:
    source = write_source("""\
        questions:
          - id: q
            question: "Что выведет {{ 1 + 1 }}?"
            answer: "Ровно {% raw %} и {{ x }}."
            grades: [junior]
        """)
    build_into(source, tmp_path / "dist")
    post = (tmp_path / "dist" / "telegram" / "001-q.html").read_text(encoding="utf-8")
    assert "<b>Что выведет {{ 1 + 1 }}?</b>" in post and "Ровно {% raw %} и {{ x }}." in post


def test_fragment_does_not_depend_on_the_slot(tmp_path: Path) -> None:
    """Inserting or moving a question must not invalidate the other questions' fragments."""
    from datetime import UTC, datetime

    from pipeline.build.cache import Memo
    from pipeline.build.contract import BuildOptions, RenderContext
    from pipeline.build.fragments import static_key
    from pipeline.source.read import load_source
    from pipeline.source.schedule import plan_schedule
    from pipeline.source.validate import validate
    from pipeline.targets.registry import TARGETS
    from pipeline.targets.telegram import target as telegram
    from tests.support.banks import TEMPLATES

    bank = validate(load_source(SEED)).bank
    made = []
    for now in (datetime(2026, 11, 20, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)):
        schedule = plan_schedule(bank, {}, now)
        ctx = RenderContext(bank, schedule, {}, now, BuildOptions(templates=TEMPLATES), Memo())
        made.append(
            (
                static_key("telegram", TARGETS["telegram"], ctx),
                [telegram.fragment(q, ctx) for q in bank.questions],
            )
        )
    assert made[0] == made[1]
    assert b"\x01" in made[0][1][0]["event"]  # the number is a placeholder


def test_template_using_the_slot_gets_it(tmp_path: Path, write_source: Any) -> None:
    """A post template may show the number and time: its fragments then follow the schedule."""
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "telegram" / "post.html.j2").write_text(
        "№{{ number }} {{ publish_at.strftime('%d.%m %H:%M') }}\n"
        "<b>{{ question }}</b>\n{{ answer }}"
    )
    post = "  - id: {}\n    question: {}?\n    answer: Ответ.\n    grades: [junior]\n"
    text = "schedule:\n  start: 2026-12-01\n  slots: [tue 09:00]\nquestions:\n" + "".join(
        post.format(qid, title) for qid, title in (("a", "Первый"), ("b", "Второй"))
    )
    cache = tmp_path / "cache"
    build_into(write_source(text), tmp_path / "dist", templates=templates, cache=cache)
    folder = tmp_path / "dist" / "telegram"
    assert (folder / "001-a.html").read_text().startswith("№1 01.12 09:00\n<b>Первый?</b>")
    assert (folder / "002-b.html").read_text().startswith("№2 08.12 09:00\n<b>Второй?</b>")
    # A question pinned before them moves both: their posts follow, from the same cache.
    pinned = text + post.format("c", "Третий") + "    publish_at: 2026-11-30T10:00:00+03:00\n"
    build_into(write_source(pinned), tmp_path / "dist", templates=templates, cache=cache)
    assert (folder / "002-a.html").read_text().startswith("№2 01.12 09:00\n")
    assert (folder / "003-b.html").read_text().startswith("№3 08.12 09:00\n")


# --- unit level -------------------------------------------------------------------------------


def test_utf16_length() -> None:
    assert tt.utf16_len("👍") == 2
    assert tt.utf16_len("🇷🇺") == 4
    assert tt.utf16_len("👨‍👩‍👧‍👦") == 11
    assert tt.utf16_len("абв") == 3


def test_split_prefers_paragraphs_then_lines_then_sentences() -> None:
    para = "Слово " * 300  # 1800 units, no sentence end
    spans = [
        tt.Span(para.strip()),
        tt.Span("\n\n"),
        tt.Span(para.strip() + ". Конец"),
        tt.Span("\n"),
        tt.Span(para.strip()),
    ]
    # The blank line comes early (before half the limit): the later line break wins.
    parts = tt.split_post(spans, limit=4096)
    assert [tt.plain_text(p)[-7:] for p in parts] == [". Конец", "о Слово"]
    # A blank line in the second half beats a later line break.
    spans = [
        tt.Span(para + para.strip()),
        tt.Span("\n\n"),
        tt.Span("Коротко."),
        tt.Span("\n"),
        tt.Span(para.strip()),
    ]
    parts = tt.split_post(spans, limit=4096)
    assert [tt.plain_text(p)[-6:] for p in parts] == [" Слово", " Слово"]
    assert tt.plain_text(parts[1]).startswith("Коротко.\n")
    sentence = [tt.Span(("Первое предложение тут. " * 100).strip())]
    cut = tt.split_post(sentence, limit=1000)
    assert all(tt.plain_text(p).endswith(".") for p in cut[:-1])


def test_split_never_cuts_inside_bold_when_avoidable() -> None:
    spans = [tt.Span("a " * 100), tt.Span("жирный " * 10, frozenset({"b"})), tt.Span("b " * 100)]
    for part in tt.split_post(spans, limit=230):
        written = tt.write(part)
        assert (
            check_post(written.html, written.markdown, limit=230, url_for_text=tt.url_for_text)
            == []
        )
    bold_parts = [p for p in tt.split_post(spans, limit=230) if any(s.marks for s in p)]
    assert len(bold_parts) == 1


def test_golden_folder_has_no_strays() -> None:
    if not (GOLDEN / "seed").exists():
        pytest.skip("goldens not written yet")
    assert {p.name for p in (GOLDEN / "seed").iterdir()} <= {
        "001-roc-auc-log.html",
        "001-roc-auc-log.txt",
        "004-ranking-metrics.html",
        "004-ranking-metrics.txt",
        "005-metric-vs-loss.html",
        "007-matrix-diagonal-sum.html",
        "007-matrix-diagonal-sum.txt",
        "schedule.ics",
        "index.html",
    }
