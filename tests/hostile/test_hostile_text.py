"""Control characters written in the source reach no output: one cleaning for every text
(settings, ids, questions and answers alike, as the source is read).

YAML's ``"\\0"``, terminal escapes and C1 controls once reached the digest's text and HTML and
the email's text part (a NUL in a mail body); Telegram drops them, mail clients show boxes.
"""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path

from pipeline.markup.sanitize import CONTROLS
from tests.support.anki_backend import dump, import_package, new_collection
from tests.support.banks import build_into


def test_no_control_character_reaches_any_output(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    source = content / "questions.yaml"
    # YAML's own escapes: \0 NUL, \a bell, \e escape, \N next line (U+0085), \f form feed.
    source.write_text(
        'channel: {name: "Канал\\a", url: "https://t.me/x"}\n'
        'deck: {title: "Колода\\e"}\n'
        'newsletter: {title: "Т\\a", from: Т <d@example.org>}\n'
        "schedule: {timezone: UTC, start: 2026-12-01, slots: [mon 10:00]}\n"
        "questions:\n"
        "  - id: q\n"
        '    question: "Вопрос\\0?"\n'
        '    header: "📌\\e"\n'
        "    grades: [junior]\n"
        '    answer: "Ответ\\0 с\\a управляющими \\e[31mсимволами\\N и\\f не только.\\x7f'
        '\\n\\n- пункт\\x01\\n\\n```\\nкод\\x02\\n```"\n',
        encoding="utf-8",
    )
    out = tmp_path / "dist"
    report = build_into(source, out)
    assert not [w for w in report.warnings if "does not show" in w.message]
    written = {
        p.relative_to(out).as_posix(): p.read_bytes().decode("utf-8", "surrogatepass")
        for p in out.rglob("*")
        if p.is_file() and p.suffix in (".html", ".txt", ".eml", ".json", ".ics")
    }
    for name, text in written.items():
        found = CONTROLS.findall(text)
        assert not found, (name, found)
    [eml] = out.glob("digest/*.eml")
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    body = plain.get_content()
    assert "\x00" not in body and "Ответ с управляющими [31mсимволами и не только." in body
    col = new_collection(tmp_path / "anki")
    import_package(col, out / "anki" / "ds-interview.apkg")
    data = dump(col)
    assert "Колода" in data["decks"]  # the deck's title, without its escape character
    [note] = data["notes"]
    for field, value in note["fields"].items():
        assert not CONTROLS.findall(value), (field, value)
