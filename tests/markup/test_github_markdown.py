"""GitHub's Markdown habits reach every reader whole: the card (Anki's backend imports the
deck), the post (TDLib parses it), its pasted twin, the digest's HTML and text parts.

Each case is one answer as people write it and, per output, what a reader must see. The
build's own loss check (:mod:`pipeline.build.losses`) must find nothing lost either.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from pipeline.build import losses
from pipeline.targets.telegram.text import visible_text
from tests.support.anki_backend import dump, import_package, new_collection
from tests.support.banks import build_into
from tests.support.tdlib import parse_html

HEAD = """\
deck: {title: Тест, slug: test}
schedule: {timezone: Europe/Moscow, start: 2026-12-01, slots: [mon 10:00]}
newsletter:
  title: Тест
  from: Тест <digest@example.org>
  base_url: https://digest.example.org/static/
questions:
  - id: q1
    grades: [junior]
"""


def yaml_block(key: str, text: str) -> str:
    body = "\n".join("      " + line if line else "" for line in text.split("\n"))
    return f"    {key}: |\n{body}\n"


def png() -> bytes:
    """A 1×1 PNG (a real image: the build checks the bytes of what it packs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    raw = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def outputs(tmp_path: Path, answer: str, question: str = "Вопрос?") -> dict[str, Any]:
    """Build a one-question bank; what each reader gets of it."""
    content = tmp_path / "content"
    (content / "img").mkdir(parents=True)
    (content / "img" / "x.png").write_bytes(png())
    source = content / "questions.yaml"
    source.write_text(HEAD + yaml_block("question", question) + yaml_block("answer", answer))
    out = tmp_path / "dist"
    report = build_into(source, out)
    col = new_collection(tmp_path / "anki")
    import_package(col, out / "anki" / "test.apkg")
    [note] = dump(col)["notes"]
    posts = sorted((out / "telegram").glob("001-q1*.html"))
    for post in posts:
        parsed = parse_html(post.read_text(encoding="utf-8"))
        assert parsed.get("@type") == "formattedText", parsed  # TDLib accepts it
    [week] = sorted((out / "digest").glob("*.html"))
    return {
        "report": report,
        "anki": note["fields"]["Question"] + "\n" + note["fields"]["Answer"],
        "telegram": "\n".join(visible_text(p.read_text(encoding="utf-8")) for p in posts),
        "twin": "\n".join(p.with_suffix(".txt").read_text(encoding="utf-8") for p in posts),
        "digest_html": unescape(week.read_text(encoding="utf-8")),
        "digest_text": week.with_suffix(".txt").read_text(encoding="utf-8"),
        "files": sorted(p.name for p in (out / "telegram").iterdir()),
        "out": out,
    }


#: (case, answer, {output: snippets a reader of it must see}); "*" applies to every output.
CASES: list[tuple[str, str, dict[str, list[str]]]] = [
    (
        "a list right after a line of text",
        "Encodings:\n- one-hot\n- target",
        {
            "anki": ["<p>Encodings:</p><ul><li>one-hot</li><li>target</li></ul>"],
            "telegram": ["Encodings:\n\n• one-hot\n• target"],
            "twin": ["Encodings:\n\n• one-hot\n• target"],
            "digest_text": ["Encodings:\n\n• one-hot\n• target"],
            "digest_html": ["<li", ">one-hot</li>"],
        },
    ),
    (
        "lists nested by 2 spaces, 1) numbering",
        "1) первый\n2) второй\n  - вложенный\n  - ещё\n3) третий",
        {
            "anki": ["<li>второй<ul><li>вложенный</li><li>ещё</li></ul></li><li>третий</li>"],
            "telegram": ["2. второй\n    • вложенный\n    • ещё\n3. третий"],
            "digest_text": ["2. второй\n   • вложенный\n   • ещё\n3. третий"],
        },
    ),
    (
        "task lists",
        "- [ ] сделать\n- [x] готово",
        {"*": ["☐ сделать", "☑ готово"]},
    ),
    (
        "GitHub math and a math fence",
        "Формула $`a+b`$ и текст.\n\n```math\n\\frac{a}{b}\n```",
        {
            "anki": ["Формула \\(a+b\\) и текст.", "\\[\\frac{a}{b}\\]"],
            "telegram": ["Формула a+b и текст.", "\\frac{a}{b}"],
            "twin": ["Формула `a+b` и текст.", "\\frac{a}{b}"],
            "digest_text": ["Формула a+b и текст.", "a/b"],
        },
    ),
    (
        "an indented block holding fence lines, a fence in a quote and in a list",
        "Код:\n\n    spark.read()\n    ```\n    +---+\n    ```\n\n> ```python\n> x = 1\n> ```\n\n"
        "- шаг\n\n  ```python\n  y = 2\n  ```\n\n~~~\nz = 3\n~~~",
        {
            "*": ["spark.read()", "+---+", "z = 3"],
            "anki": ["<pre><code>spark.read()\n```\n+---+\n```</code></pre>", "<blockquote><pre>"],
            "telegram": ["x = 1", "y = 2"],
            "twin": ["x = 1", "y = 2"],
            "digest_text": ["x = 1", "y = 2"],
        },
    ),
    (
        "strike, bare URLs, hard breaks, footnotes, entities",
        "~~старое~~ https://example.org/a\\\nстрока  \nещё[^1] &copy;\n\n[^1]: Сноска.",
        {
            "*": ["старое", "https://example.org/a", "строка", "ещё", "Сноска.", "©"],
            "anki": ["<del>старое</del>", 'href="https://example.org/a"', "<br>строка<br>"],
            "telegram": ["строка\nещё¹ ©"],
        },
    ),
    (
        "details, sub and sup",
        "<details><summary>Ответ</summary>\n\nСкрытый текст.\n\n</details>\n\n"
        "y<sub>i</sub> и x<sup>2</sup> и a<sub>max</sub> и b<sup>n+1</sup>",
        {
            "*": ["Ответ", "Скрытый текст."],
            "anki": ["<details open", "y<sub>i</sub>", "x<sup>2</sup>"],
            "telegram": ["yᵢ и x² и aₘₐₓ и bⁿ⁺¹"],
            "twin": ["yᵢ и x² и aₘₐₓ и bⁿ⁺¹"],
            "digest_text": ["yᵢ и x² и aₘₐₓ и bⁿ⁺¹"],
        },
    ),
    (
        "Markdown inside HTML containers, a fence inside raw HTML",
        "<div>\nСписок:\n\n* один\n* два\n</div>\n\n"
        "<div>\nПример:\n\n    val x = 1\n    val y = 2\n</div>\n\n"
        "<table><tr><td>\n\n```\ndf.show()\n```\n\n</td></tr></table>",
        {
            "*": ["val x = 1", "df.show()"],
            "anki": ["<li>один</li><li>два</li>", "<pre><code>val x = 1\nval y = 2</code></pre>"],
            "telegram": ["• один\n• два", "val x = 1\nval y = 2"],
            "digest_text": ["• один\n• два", "    val x = 1\n    val y = 2"],
        },
    ),
    (
        "a remote image not fetched, its URL with spaces; indented stars after text",
        'Решение: <img src="https://example.com/math?x=a = b">.\n\n'
        "Два пути:\n    * первый\n    * второй",
        {
            "*": ["Два пути:", "первый", "второй"],
            "anki": ['<a href="https://example.com/math?x=a = b">'],
            "telegram": ["Решение: https://example.com/math?x=a%20=%20b."],
        },
    ),
    (
        "raw HTML images are images",
        'Схема: <img src="img/x.png" width="120" alt="схема"> и текст после.',
        {
            "*": ["Схема:", "и текст после."],
            "anki": ['width="120"', 'alt="схема"'],
            "digest_html": ['src="https://digest.example.org/static/img/x.png"', 'width="120"'],
        },
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("answer", "seen"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_reader_gets_what_was_written(
    tmp_path: Path, answer: str, seen: dict[str, list[str]]
) -> None:
    got = outputs(tmp_path, answer)
    for output in ("anki", "telegram", "twin", "digest_html", "digest_text"):
        for snippet in [*seen.get("*", []), *seen.get(output, [])]:
            assert snippet in got[output], (output, snippet, got[output])
    lost = [
        w for w in got["report"].warnings if "does not show" in w.message or " of the " in w.message
    ]
    assert lost == []


@pytest.mark.slow
def test_a_question_with_blocks_keeps_them_in_the_digest_text(tmp_path: Path) -> None:
    examples = "- [1, 2, 3, 4], 5 ⇒ True\n- [3, 4, 6], 6 ⇒ False"
    question = f"Верните True, если сумма есть.\n\nПримеры:\n{examples}"
    got = outputs(tmp_path, "Перебор.", question=question)
    assert (
        "сумма есть.\n\nПримеры:\n\n• [1, 2, 3, 4], 5 ⇒ True\n• [3, 4, 6], 6 ⇒ False"
        in (got["digest_text"])
    )
    assert (
        "сумма есть.\n\nПримеры:\n\n• [1, 2, 3, 4], 5 ⇒ True\n• [3, 4, 6], 6 ⇒ False"
        in (got["telegram"])
    )
    assert "<p>Примеры:</p><ul><li>[1, 2, 3, 4], 5 ⇒ True</li>" in got["anki"]


@pytest.mark.slow
def test_a_numbered_question_keeps_its_number(tmp_path: Path) -> None:
    got = outputs(tmp_path, "Ответ.", question="10. Функции активации")
    for output in ("anki", "telegram", "twin", "digest_text"):
        assert "10" in got[output] and "Функции активации" in got[output], output
    assert "10. Функции активации" in got["digest_text"]


@pytest.mark.slow
def test_images_after_the_text_never_make_an_empty_post(tmp_path: Path) -> None:
    """Two images without alt text after a long answer: each is a photo whose caption says
    what it continues; no message file is empty."""
    answer = ("Длинный ответ. " * 80).strip() + '\n\n![](img/x.png)\n\n<img src="img/x.png">'
    got = outputs(tmp_path, answer)
    posts = sorted((got["out"] / "telegram").glob("001-q1*.html"))
    assert [p.name for p in posts] == ["001-q1.2.html", "001-q1.3.html", "001-q1.html"]
    for post in posts:
        assert post.read_text(encoding="utf-8").strip()
        assert post.with_suffix(".txt").read_text(encoding="utf-8").strip()
    assert (got["out"] / "telegram" / "001-q1.2.html").read_text() == "<b>Вопрос?</b> (2/3)"
    assert "001-q1-1.png" in got["files"] and "001-q1-2.png" in got["files"]


@pytest.mark.slow
def test_a_long_answer_continues_with_a_line_saying_what_it_continues(tmp_path: Path) -> None:
    answer = "\n\n".join(f"Абзац {n}: " + "слово " * 120 for n in range(12))
    got = outputs(tmp_path, answer)
    posts = sorted(
        (got["out"] / "telegram").glob("001-q1*.html"),
        key=lambda p: int(p.suffixes[0][1:]) if len(p.suffixes) > 1 else 1,
    )
    assert len(posts) >= 3
    for n, post in enumerate(posts[1:], start=2):
        text = post.read_text(encoding="utf-8")
        assert text.startswith(f"<b>Вопрос?</b> ({n}/{len(posts)})\n\n"), text[:80]
        parsed = parse_html(text)
        assert len(parsed["text"].encode("utf-16-le")) // 2 <= 4096


def test_the_loss_check_names_the_output_and_the_first_missing_words() -> None:
    """The check itself, on fragments that drop a sentence and a list item."""
    from pipeline.source.model import Question

    q = Question.__new__(Question)
    object.__setattr__(q, "question", "Что такое энтропия?")
    object.__setattr__(q, "answer", "Мера неопределённости.\n\n- первый\n- второй")
    object.__setattr__(q, "images", ())
    object.__setattr__(q, "index", 3)
    card = ("<p>Что такое энтропия?</p>", "<ul><li>первый</li></ul>")
    found = losses.check(q, {"anki": (card, (), (), "", "")}, None)
    messages = [f[2] for f in found]
    assert messages == [
        "the Anki card does not show 3 word(s) of the source; first: "
        "мера, неопределённости, второй",
        "the Anki card shows 1 of the source's 2 list items",
    ]
    assert all(f[1] == "questions[3].answer" and f[3] == "warning" for f in found)


def test_a_build_reports_a_loss_at_the_question(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_source: Callable[[str], Path]
) -> None:
    """Wired into the build: a writer that drops words makes a located warning."""
    from pipeline.targets.anki import fields as anki_fields

    real = anki_fields.FieldWriter.html

    def dropping(self: Any, root: Any, images: Any, used: Any) -> str:
        return real(self, root, images, used).replace("неопределённости", "")

    monkeypatch.setattr(anki_fields.FieldWriter, "html", dropping)
    source = write_source(
        HEAD + yaml_block("question", "Энтропия?") + yaml_block("answer", "Мера неопределённости.")
    )
    report = build_into(source, tmp_path / "dist")
    [warning] = [w for w in report.warnings if "does not show" in w.message]
    assert warning.message.startswith("the Anki card does not show 1 word(s)")
    assert warning.pos is not None and warning.pos.line == 12  # the answer's first line


@pytest.mark.slow
def test_an_obsidian_embed_is_a_warning_not_a_silent_loss(tmp_path: Path) -> None:
    got = outputs(tmp_path, "Схема: ![[diagram.png]] и `![[в коде]]`.")
    [warning] = [w for w in got["report"].warnings if "Obsidian" in w.message]
    assert warning.message == (
        "'![[diagram.png]]' is Obsidian's embed, not Markdown: no output shows the image; "
        "write ![alt](path) instead"
    )
    assert warning.path == "questions[0].answer"
