"""Hostile content in every field: each output, read by its real reader, is safe and whole.

Property: whatever Markdown a question holds (see :mod:`tests.hostile`), the build either
stops with located errors that name the question, or it succeeds and

* every Telegram post is accepted by TDLib within Telegram's limits (and its Markdown twin too);
  polls are within ``sendPoll``'s limits; the desk and the calendar parse with nothing active;
* the deck imports into Anki's backend with every note, and no field holds anything active;
* every digest ``.html`` and ``.eml`` parses (the email parser, ``policy.default``) with nothing
  active beyond the template's own ``<style>``;
* template-looking text (``{{ x }}``, ``{% raw %}``, ``{# c #}``) arrives literally everywhere.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import icalendar
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis.errors import InvalidArgument

from pipeline.errors import PipelineError
from pipeline.targets.telegram import text as tt
from tests.support import hostile
from tests.support.anki_backend import card_html, import_package, new_collection
from tests.support.banks import build_into
from tests.support.examples import examples
from tests.support.tdlib import check_post, parse_html

CLEAN = [
    {
        "id": "clean",
        "question": "Что такое ROC-AUC?",
        "answer": "Площадь под кривой.\n\n```python\nx = 1\n```",
        "grades": ["junior"],
        "quiz": {"options": ["a", "b"], "correct": 1},
    }
]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, int]]:
    """Active elements the trusted templates write themselves, measured on a clean bank."""
    folder = tmp_path_factory.mktemp("clean")
    build_into(hostile.write_bank(folder, CLEAN, settings=hostile.CLEAN_SETTINGS), folder / "dist")
    dist = folder / "dist"
    digest = next((dist / "digest").glob("*.html")).read_text(encoding="utf-8")
    desk = (dist / "telegram" / "index.html").read_text(encoding="utf-8")
    return {"digest": hostile.template_tags(digest), "desk": hostile.template_tags(desk)}


def outcome(folder: Path, questions: list[dict[str, Any]], **kw: Any) -> Path | None:
    """Build; None when the build stopped with located errors naming questions (checked)."""
    source = hostile.write_bank(folder, questions, **kw)
    try:
        build_into(source, folder / "dist")
    except PipelineError as exc:
        for problem in exc.problems:
            assert problem.pos is not None, f"an error without a place: {problem}"
            assert problem.pos.file.endswith("questions.yaml"), str(problem)
            assert problem.path.startswith("questions["), f"no question named: {problem}"
        _event(f"refused: {exc.problems[0].message[:40]}")
        return None
    _event("built")
    return folder / "dist"


def _event(name: str) -> None:
    """Count outcomes in hypothesis' statistics (``--hypothesis-show-statistics``)."""
    with contextlib.suppress(InvalidArgument):  # outside a property: nothing to count
        event(name)


def manifest(dist: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((dist / "manifest.json").read_text())["outputs"]
    return entries


def telegram_problems(dist: Path, baseline: dict[str, dict[str, int]]) -> list[str]:
    problems: list[str] = []
    entries = manifest(dist)
    for entry in entries:
        path = dist / entry["path"]
        if entry["kind"] == "telegram-post-html":
            html = path.read_text(encoding="utf-8")
            markdown = path.with_suffix(".txt").read_text(encoding="utf-8")
            found = check_post(html, markdown, url_for_text=tt.url_for_text)
            problems += [f"{entry['path']}: {p}" for p in found]
        elif entry["kind"] == "telegram-poll":
            poll = json.loads(path.read_text(encoding="utf-8"))
            sizes = [tt.utf16_len(o["text"]) for o in poll["options"]]
            if not 0 < tt.utf16_len(poll["question"]) <= 300:
                problems.append(f"{entry['path']}: poll question length")
            if not (2 <= len(sizes) <= 12 and all(0 < n <= 100 for n in sizes)):
                problems.append(f"{entry['path']}: poll options {sizes}")
            explanation = poll.get("explanation", "")
            if tt.utf16_len(explanation) > 200 or explanation.count("\n") > 2:
                problems.append(f"{entry['path']}: poll explanation")
    desk = (dist / "telegram" / "index.html").read_text(encoding="utf-8")
    problems += [f"desk: {p}" for p in hostile.active_parts(desk, baseline["desk"])]
    calendar = icalendar.Calendar.from_ical((dist / "telegram" / "schedule.ics").read_bytes())
    events = [c for c in calendar.walk() if c.name == "VEVENT"]
    posts = {e["ids"][0] for e in entries if e["kind"] == "telegram-post-html"}
    if len(events) != len(posts):
        problems.append(f"calendar: {len(events)} events for {len(posts)} posts")
    return problems


def telegram_texts(dist: Path) -> dict[str, str]:
    """Question id -> the text of all its posts as Telegram shows it (TDLib), and the twins."""
    texts: dict[str, str] = {}
    for entry in manifest(dist):
        if entry["kind"] == "telegram-post-html":
            path = dist / entry["path"]
            shown = parse_html(path.read_text(encoding="utf-8")).get("text", "")
            twin = path.with_suffix(".txt").read_text(encoding="utf-8")
            texts[entry["ids"][0]] = texts.get(entry["ids"][0], "") + shown + "\n" + twin
    return texts


def anki_problems(dist: Path, folder: Path, ids: list[str]) -> list[str]:
    problems: list[str] = []
    col = new_collection(folder / "anki")
    try:
        log = import_package(col, next((dist / "anki").glob("*.apkg")))
        if (log.new, log.conflicting, log.missing_notetype) != (len(ids), 0, 0):
            problems.append(f"import log {log}")
        for nid in col.find_notes(""):
            note = col.get_note(nid)
            fields = dict(note.items())
            for name, value in fields.items():
                problems += [f"{fields['Id']}.{name}: {p}" for p in hostile.active_parts(value)]
            _front, back = card_html(col, note.guid)
            for name, text in (("Question", fields["Question"]), ("card", back)):
                problems += [
                    f"{fields['Id']}.{name}: {part!r} did not arrive"
                    for part in hostile.JINJA_PARTS
                    if part not in text
                ]
    finally:
        col.close()
    return problems


def digest_problems(dist: Path, baseline: dict[str, dict[str, int]]) -> list[str]:
    problems: list[str] = []
    for path in sorted((dist / "digest").glob("*.html")):
        html = path.read_text(encoding="utf-8")
        problems += [f"{path.name}: {p}" for p in hostile.active_parts(html, baseline["digest"])]
        text = path.with_suffix(".txt").read_text(encoding="utf-8")
        eml = path.with_suffix(".eml").read_bytes()
        problems += [
            f"{path.name[:-5]}.eml: {p}" for p in hostile.eml_problems(eml, baseline["digest"])
        ]
        plain, eml_html = hostile.eml_parts(hostile.parse_eml(eml))
        for where, shown in (
            ("html", hostile.visible_text(html)),
            ("txt", text),
            ("eml text", plain),
            ("eml html", hostile.visible_text(eml_html)),
        ):
            problems += [
                f"{path.name} {where}: {part!r} did not arrive"
                for part in hostile.JINJA_PARTS
                if part not in shown
            ]
    return problems


def all_problems(
    folder: Path, questions: list[dict[str, Any]], baseline: dict[str, dict[str, int]], **kw: Any
) -> list[str]:
    dist = outcome(folder, questions, **kw)
    if dist is None:
        return []
    problems = hostile.manifest_problems(dist)
    problems += telegram_problems(dist, baseline)
    for qid, text in telegram_texts(dist).items():
        problems += [
            f"telegram {qid}: {part!r} did not arrive"
            for part in hostile.JINJA_PARTS
            if part not in text
        ]
    problems += anki_problems(dist, folder, [q["id"] for q in questions])
    problems += digest_problems(dist, baseline)
    return problems


#: Each example is a whole build plus an Anki import: shrinking a failure can take many
#: minutes, so CI reports the failing example as generated (it names the problem exactly).
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


@pytest.fixture
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hostile-") as name:
        yield Path(name)


def fresh(root: Path) -> Path:
    """A new folder per hypothesis example (the function-scoped fixture is shared)."""
    folder = Path(tempfile.mkdtemp(dir=root))
    return folder


@pytest.mark.slow
@settings(
    max_examples=examples(60),
    deadline=None,
    phases=NO_SHRINK,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(questions=hostile.bank())
def test_hostile_bank_builds_safely_or_stops_with_located_errors(
    questions: list[dict[str, Any]], baseline: dict[str, dict[str, int]], scratch: Path
) -> None:
    assert all_problems(fresh(scratch), questions, baseline) == []


@pytest.mark.slow
@settings(
    max_examples=examples(15),
    deadline=None,
    phases=NO_SHRINK,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(questions=hostile.bank(max_questions=2))
def test_crlf_source_file(
    questions: list[dict[str, Any]], baseline: dict[str, dict[str, int]], scratch: Path
) -> None:
    assert all_problems(fresh(scratch), questions, baseline, crlf=True) == []


def every_piece_bank() -> list[dict[str, Any]]:
    """Each hostile piece once, deterministically: the property's corpus, always covered."""
    pieces = [*hostile.RAW_HTML, *hostile.MARKDOWN_BITS, *hostile.EMOJI, *hostile.CONTROLS]
    answer = "\n\n".join(
        [
            hostile.JINJA,
            " ".join(hostile.MARKDOWN_BITS),
            *hostile.RAW_HTML,
            "```python onload=alert(1)\n<script>alert(1)</script>\n```",
            "> " + " ".join(hostile.EMOJI),
            "- " + "".join(hostile.CONTROLS),
            "~~~\nunclosed fence " + " ".join(hostile.RAW_HTML),
        ]
    )
    return [
        {
            "id": "every-piece",
            "question": f"{hostile.JINJA} " + " ".join(pieces[:40]).replace("\n", " "),
            "answer": answer,
            "grades": ["junior", "senior"],
            "tags": ["a", "b-c"],
            "header": "🏴󠁧󠁢󠁳󠁣󠁴󠁿\u202e<b>{{ x }}",
            "quiz": {
                "question": "{{ x }} <script>alert(1)</script> \u202e?",
                "options": ["{% raw %}", "<b>o</b>\u200b", "👨‍👩‍👧‍👦"],
                "correct": 3,
                "explanation": "{# c #}\n<img src=x onerror=alert(1)>",
            },
        }
    ]


def test_every_hostile_piece_at_once_builds_and_is_safe(
    baseline: dict[str, dict[str, int]], tmp_path: Path
) -> None:
    questions = every_piece_bank()
    assert outcome(tmp_path / "probe", questions) is not None, "the corpus must build"
    assert all_problems(tmp_path / "checked", questions, baseline) == []


def test_the_checks_catch_active_content() -> None:
    """The checkers themselves: each of these must be reported."""
    for bad in (
        "<script>x</script>",
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        '<img src="data:image/png;base64,AA">',
        '<p onclick="x">',
        '<div style="background:url(x)">',
        "<iframe></iframe>",
        '<meta http-equiv="refresh" content="0">',
    ):
        assert hostile.active_parts(bad), bad
    assert hostile.active_parts('<a href="https://x/">x</a><b>y</b><img src="m.png">') == []


@pytest.mark.parametrize("char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u0333"])
def test_telegram_post_and_twin_agree_on_what_tdlib_markdown_deletes(char: str) -> None:
    """TDLib's send-time Markdown deletes bidi overrides and a few combining marks; the HTML
    parser keeps them. The post drops them too, so both show the same text."""
    from pipeline import markup

    spans = tt.make_safe(tt.answer_spans(markup.parse_markdown(f"a{char}b **c{char}d**")))
    (post,) = [tt.write(part) for part in tt.split_post(spans)]
    assert check_post(post.html, post.markdown, url_for_text=tt.url_for_text) == []
    assert char not in post.html


def test_unsubscribe_url_setting_cannot_break_out_of_its_link(tmp_path: Path) -> None:
    """``newsletter.unsubscribe_url`` matches ``https?://\\S+`` yet may hold quotes and tags."""
    dist = outcome(tmp_path, CLEAN)  # hostile.SETTINGS carries the breakout attempt
    assert dist is not None
    html = next((dist / "digest").glob("*.html")).read_text(encoding="utf-8")
    assert hostile.active_parts(html, {"meta": 7, "style": 1}) == []
    hrefs = [dict(a).get("href") for tag, a in hostile.scan_html(html).tags if tag == "a"]
    assert hostile.SETTINGS["newsletter"]["unsubscribe_url"] in hrefs


@pytest.mark.parametrize("header", ["a\tb", "\xad\t\u2069", "\u202e🇷🇺", "*️⃣ __x__", "<b>{{ x }}"])
def test_hostile_header_reaches_telegram_intact(
    header: str, baseline: dict[str, dict[str, int]], tmp_path: Path
) -> None:
    """The header goes through the post template, not the Markdown tree: tabs, bidi controls
    and markers must still give a post and a twin that TDLib reads alike."""
    dist = outcome(tmp_path, [CLEAN[0] | {"header": header}])
    assert dist is not None
    assert telegram_problems(dist, baseline) == []
