"""The weekly email digest: golden files, the HTML rules email clients need, sizes, the .eml."""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from pipeline.errors import Severity
from pipeline.source.lockfile import lock_path
from pipeline.targets.digest.compose import HTML_BUDGET
from pipeline.targets.digest.message import encoded_size
from tests.support.banks import SEED, TESTS, build_into, run_cli
from tests.support.digest import (
    bank_yaml,
    check_email_html,
    errors_of,
    files_of,
    long_week,
    render_digest,
)

GOLDEN = TESTS / "golden" / "digest"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def parse_eml(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture
def one(write_source: Callable[[str], Path]) -> Callable[..., tuple[str, str, EmailMessage]]:
    """Render a one-question bank; return (html, text, parsed eml) of its only week."""

    def make(answer: str, extra: str = "", **options: object) -> tuple[str, str, EmailMessage]:
        rendered = render_digest(write_source(bank_yaml(answer, extra=extra)), **options)
        assert not errors_of(rendered), errors_of(rendered)
        files = files_of(rendered)
        assert sorted(files) == [
            "digest/2026-W49.eml",
            "digest/2026-W49.html",
            "digest/2026-W49.txt",
        ]
        return (
            files["digest/2026-W49.html"].decode(),
            files["digest/2026-W49.txt"].decode(),
            parse_eml(files["digest/2026-W49.eml"]),
        )

    return make


# --- golden files ----------------------------------------------------------------------------


def test_seed_matches_golden_files() -> None:
    rendered = render_digest(SEED)
    assert not rendered.warnings
    files = {path.removeprefix("digest/"): data for path, data in files_of(rendered).items()}
    if UPDATE:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        GOLDEN.mkdir(parents=True)
        for name, data in files.items():
            (GOLDEN / name).write_bytes(data)
    expected = {p.name: p.read_bytes() for p in sorted(GOLDEN.iterdir())}
    assert sorted(files) == sorted(expected), "set UPDATE_GOLDEN=1 to accept new outputs"
    for name, data in files.items():
        assert data == expected[name], (
            f"{name} differs from tests/golden/digest/ (UPDATE_GOLDEN=1 to accept)"
        )


def test_same_source_same_bytes() -> None:
    assert files_of(render_digest(SEED)) == files_of(render_digest(SEED))


def test_weeks_follow_the_schedule() -> None:
    files = files_of(render_digest(SEED))
    weeks = sorted({Path(p).stem for p in files})
    assert weeks == ["2026-W49", "2026-W50", "2026-W51", "2026-W52", "2026-W53"]
    html = files["digest/2026-W50.html"].decode()
    assert "Чем логистическая регрессия отличается от линейной?" in html
    assert "Для чего используют batch normalization?" in html
    assert "Как изменится ROC-AUC" not in html  # that one is in W49


def test_week_and_until_options() -> None:
    only = files_of(render_digest(SEED, week="2026-W51"))
    assert sorted(only) == [f"digest/2026-W51.{ext}" for ext in ("eml", "html", "txt")]
    from datetime import date

    early = files_of(render_digest(SEED, until=date(2026, 12, 8)))
    assert sorted({Path(p).stem for p in early}) == ["2026-W49", "2026-W50"]
    # W50 is cut after Monday 7 December: only the Monday question remains.
    assert "batch normalization" not in early["digest/2026-W50.html"].decode()


@pytest.mark.parametrize(
    ("week", "message"),
    [
        ("2026-49", "--week: expected an ISO week like 2026-W49; got '2026-49'"),
        ("2026-W60", "--week: expected an ISO week like 2026-W49; got '2026-W60'"),
        (
            "2027-W10",
            "--week: no questions are scheduled in 2027-W10 "
            "(weeks with questions: 2026-W49 … 2026-W53)",
        ),
    ],
)
def test_bad_week_is_a_clear_error(week: str, message: str) -> None:
    rendered = render_digest(SEED, week=week)
    assert errors_of(rendered) == [message]
    assert rendered.files == []


# --- the HTML rules --------------------------------------------------------------------------


def test_seed_html_keeps_the_email_rules() -> None:
    for path, data in files_of(render_digest(SEED)).items():
        if path.endswith(".html"):
            check_email_html(data.decode())


def test_code_block_gets_its_own_cell(one: Callable[..., tuple[str, str, EmailMessage]]) -> None:
    html, text, _ = one("Код:\n\n```python\ndef f():\n\treturn 1  # x\n```\n\nГотово.")
    check_email_html(html)
    cell = re.search(
        r'<td class="code-cell"[^>]*><pre class="code"[^>]*>(.*?)</pre></td>', html, re.S
    )
    assert cell, "a top-level code block sits alone in its own table cell"
    assert "    " in cell.group(1) and "\t" not in cell.group(1)  # tab -> 4 spaces
    assert 'class="k"' in cell.group(1) and "color: #008000" in cell.group(1)  # Pygments, inlined
    assert "        return 1  # x" in text  # the text part indents code by four spaces


def test_formulas_are_readable_text(one: Callable[..., tuple[str, str, EmailMessage]]) -> None:
    html, text, _ = one(r"Сигмоида $\sigma(z) = \frac{1}{1 + e^{-z}}$ и $$\sum_{i=1}^{n} x_i^2$$")
    assert "σ(z) = 1/(1 + e^(-z))" in html and "σ(z) = 1/(1 + e^(-z))" in text
    assert "∑ᵢ₌₁ⁿ xᵢ²" in html and "∑ᵢ₌₁ⁿ xᵢ²" in text
    assert "\\frac" not in html and "$" not in text


def test_raw_html_cannot_act(one: Callable[..., tuple[str, str, EmailMessage]]) -> None:
    html, text, _message = one(
        "Текст <script>alert(1)</script> и "
        '<img src="https://cdn.example/x.png" onerror="alert(2)">.\n\n'
        '<a href="javascript:alert(3)">ссылка</a> <b onclick="alert(4)">жирный</b>\n\n'
        '<iframe src="https://evil.example/"></iframe>\n\n'
        '<div style="display:flex;position:fixed">flex</div>\n\n'
        '<svg onload="alert(5)"><circle r="5"/></svg>\n\n'
        '<img src="data:image/png;base64,AAAA" alt="данные">\n\n'
        "<style>body { display: grid }</style>"
    )
    check_email_html(html)
    lowered = html.lower()
    for needle in (
        "<script",
        "alert(",
        "onerror",
        "onclick",
        "javascript:",
        "<iframe",
        "position:fixed",
        "<svg",
        "data:image",
        "display: grid",
        "display:flex",
    ):
        assert needle not in lowered, needle
    assert "<b>жирный</b>" in html  # harmless formatting stays
    assert "alert(" not in text and "<" not in text.split("Текст")[1].split("\n")[0]


def test_links_and_images_are_absolute(write_source: Callable[[str], Path]) -> None:
    source = write_source(
        bank_yaml(
            "![Схема](img/tree.png) ![Внешняя](https://cdn.example/a.png)"
            "\n\n[Раздел](docs/page.html), [якорь](#x), [сайт](https://example.org/a?b=1&c=2),"
            " <https://example.org/auto>",
            extra="base_url: https://digest.example.org/static/",
        )
    )
    (source.parent / "img").mkdir()
    (source.parent / "img" / "tree.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    files = files_of(render_digest(source))
    html, text = files["digest/2026-W49.html"].decode(), files["digest/2026-W49.txt"].decode()
    check_email_html(html)
    assert 'src="https://digest.example.org/static/img/tree.png"' in html
    # A remote image this build could not fetch (tests are offline): its alt text, linked.
    assert re.search(r'<a href="https://cdn.example/a.png"[^>]*>Внешняя</a>', html)
    assert 'href="https://digest.example.org/static/docs/page.html"' in html
    assert 'href="https://example.org/a?b=1&amp;c=2"' in html
    assert "якорь" in html and 'href="#x"' not in html
    # The text part: links and images as numbered footnotes, one number per URL.
    assert "[Схема] [1]" in text and "Раздел [3]" in text
    assert "[1] https://digest.example.org/static/img/tree.png" in text
    assert "[3] https://digest.example.org/static/docs/page.html" in text
    assert "[4] https://example.org/a?b=1&c=2" in text
    assert "https://example.org/auto" in text and "[5]" not in text  # autolink: the URL itself


def test_without_base_url_images_become_alt_text(write_source: Callable[[str], Path]) -> None:
    source = write_source(bank_yaml("![Схема дерева](tree.png) и [раздел](page.html)"))
    (source.parent / "tree.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    files = files_of(render_digest(source))
    html = files["digest/2026-W49.html"].decode()
    check_email_html(html)
    assert "<img" not in html and "Схема дерева" in html
    assert "page.html" not in html and "раздел" in html


@pytest.mark.parametrize(
    ("service", "placeholder"),
    [
        ("listmonk", "{{ UnsubscribeURL }}"),
        ("mailchimp", "*|UNSUB|*"),
        ("buttondown", "{{ unsubscribe_url }}"),
    ],
)
def test_unsubscribe_placeholder_arrives_verbatim(
    one: Callable[..., tuple[str, str, EmailMessage]], service: str, placeholder: str
) -> None:
    html, text, message = one("Ответ.", extra=f"unsubscribe: {service}")
    assert f'href="{placeholder}"' in html
    assert f"Отписаться от рассылки: {placeholder}" in text
    assert "List-Unsubscribe" not in message  # no URL configured: no header


def test_list_unsubscribe_header_is_one_click_and_unencoded(
    one: Callable[..., tuple[str, str, EmailMessage]],
) -> None:
    url = (
        "https://lists.example.org/unsubscribe/very/long/path/"
        "that-makes-the-header-longer-than-seventy-eight-characters?list=ds-digest"
    )
    html, text, message = one("Ответ.", extra=f"unsubscribe_url: {url}")
    assert message["List-Unsubscribe"] == f"<{url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f'href="{url}"' in html and url in text


def test_eml_structure() -> None:
    data = files_of(render_digest(SEED))["digest/2026-W52.eml"]
    message = parse_eml(data)
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    for part in (plain, html):
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "base64"
    # The subject says the week's dates; the ISO code names only the files.
    assert (
        message["Subject"]
        == "Дайджест вопросов с собеседований по Data Science: 21–27 декабря 2026"
    )
    assert message["From"].addresses[0].addr_spec == "digest@example.org"
    # Date: the week's last post (its digest is due then), not the build time.
    assert message["Date"].datetime.isoformat() == "2026-12-24T18:30:00+03:00"
    assert re.fullmatch(r"<digest-2026-W52\.[0-9a-f]{16}@example\.org>", message["Message-ID"])
    assert "diagonal_sum</span>" in html.get_content()
    assert "def diagonal_sum" in plain.get_content()
    lines = data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF throughout
    body_lines = [line for line in lines if re.fullmatch(rb"[A-Za-z0-9+/=]{60,}", line)]
    assert body_lines and max(len(line) for line in body_lines) <= 76
    assert base64.b64decode(b"".join(body_lines))  # really base64


def test_message_id_follows_content(one: Callable[..., tuple[str, str, EmailMessage]]) -> None:
    first = one("Первый ответ.")[2]["Message-ID"]
    assert one("Первый ответ.")[2]["Message-ID"] == first
    assert one("Другой ответ.")[2]["Message-ID"] != first


def test_content_is_data_not_template(write_source: Callable[[str], Path]) -> None:
    source = write_source(
        bank_yaml(
            "Шаблон {{ 7 * 7 }} и {% if x %}y{% endif %} и <b>жирный</b>",
            question="Верно ли, что a < b & {{ x }}?",
        )
    )
    files = files_of(render_digest(source))
    html, text = files["digest/2026-W49.html"].decode(), files["digest/2026-W49.txt"].decode()
    assert "{{ 7 * 7 }}" in html and "{% if x %}y{% endif %}" in html and ">49<" not in html
    assert "{{ 7 * 7 }}" in text
    assert "Верно ли, что a &lt; b &amp; {{ x }}?" in html
    assert "Верно ли, что a < b & {{ x }}?" in text


def test_tables_lists_quotes_in_text_part(
    one: Callable[..., tuple[str, str, EmailMessage]],
) -> None:
    html, text, _ = one(
        "| Метрика | Значение |\n|---|---:|\n| AUC | 0.91 |\n\n"
        "> Цитата\n> в две строки\n\n1. раз\n2. два\n    - вложенный\n\n---"
    )
    check_email_html(html)
    assert '<table class="data"' in html and "text-align: right" in html
    assert "Метрика | Значение" in text and "AUC | 0.91" in text
    assert "> Цитата в две строки" in text
    assert "1. раз\n2. два\n   • вложенный" in text
    assert "* * *" in text


# --- size budget -----------------------------------------------------------------------------


def test_oversized_week_is_split_into_numbered_parts(write_source: Callable[[str], Path]) -> None:
    rendered = render_digest(write_source(long_week(40)))
    files = files_of(rendered)
    names = sorted({Path(p).stem for p in files}, key=lambda name: int(name.split("-")[-1]))
    assert len(names) > 1 and names == [f"2026-W49-{n}" for n in range(1, len(names) + 1)]
    [warning] = rendered.warnings
    assert warning.severity is Severity.WARNING
    assert f"split into {len(names)} emails (2026-W49-1, " in warning.message
    assert warning.path == "questions[0]" and warning.pos and warning.pos.line > 1
    seen: list[str] = []
    for n, name in enumerate(names, start=1):
        html = files[f"digest/{name}.html"].decode()
        check_email_html(html)
        assert encoded_size(html.encode()) <= HTML_BUDGET
        assert f"часть {n} из {len(names)}" in html
        subject = parse_eml(files[f"digest/{name}.eml"])["Subject"]
        assert subject.endswith(f": 30 ноября – 6 декабря 2026 ({n}/{len(names)})")
        seen += re.findall(r"Длинный вопрос номер (\d+)\?</h2>", html)
    # Every question once, in publishing order (day first, then the hour).
    assert seen == [str(n) for n in sorted(range(40), key=lambda n: (n % 6, n // 6))]


def test_an_answer_too_big_for_any_email_is_an_error(write_source: Callable[[str], Path]) -> None:
    huge = ("Очень длинный абзац без конца и края. " * 60 + "\n\n") * 26
    source = write_source(bank_yaml("Короткий ответ.", huge))
    source.write_text(
        source.read_text().replace(
            "grades: [junior]\n    answer: |\n      Очень",
            "grades: [junior]\n    publish_at: 2026-12-02 09:00\n    answer: |\n      Очень",
        )
    )
    rendered = render_digest(source)
    [error] = errors_of(rendered)
    assert re.fullmatch(
        r".*questions\.yaml:\d+:\d+: questions\[1\]\.answer: too long for one "
        r"email: \d+\.\d KiB of encoded HTML, the limit is 90\.0 KiB; shorten "
        r"the answer or split the question",
        error,
    ), error


# --- the whole build -------------------------------------------------------------------------


def test_build_writes_the_digest_with_its_kinds(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    shutil.copy(SEED, content / SEED.name)
    shutil.copy(lock_path(SEED), content / lock_path(SEED).name)
    report = build_into(content / SEED.name, tmp_path / "dist")
    kinds = {f.path: f.kind for f in report.files if f.path.startswith("digest/")}
    assert kinds["digest/2026-W49.html"] == "digest-html"
    assert kinds["digest/2026-W49.txt"] == "digest-text"
    assert kinds["digest/2026-W49.eml"] == "digest-eml"
    assert (tmp_path / "dist" / "digest" / "2026-W53.eml").is_file()


def test_cli_build_week(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    shutil.copy(SEED, content / SEED.name)
    result = run_cli(
        "build",
        "--source",
        str(content / SEED.name),
        "--out",
        str(tmp_path / "dist"),
        "--week",
        "2027-W01",
    )
    assert result.returncode == 1
    assert "--week: no questions are scheduled in 2027-W01" in result.stderr


@pytest.mark.parametrize("service", ["listmonk", "buttondown", "mailchimp"])
def test_content_is_not_run_as_the_newsletter_services_template(
    write_source,
    tmp_path: Path,
    service: str,  # type: ignore[no-untyped-def]
) -> None:
    from tests.support.banks import build_into

    source = write_source(f"""
        newsletter:
          unsubscribe: {service}
        schedule:
          start: 2026-12-01
        questions:
          - id: templates
            question: "Что выведет {{{{ 7*7 }}}}?"
            answer: "Шаблон {{{{ Subscriber.Email }}}}, тег {{% if x %}} и `*|EMAIL|*`,
              [ссылка](https://example.org/a?q={{{{x}}}}&m=*|M|*)."
            grades: [junior]
    """)
    report = build_into(source, tmp_path / "dist")
    html_file = next(f for f in report.files if f.kind == "digest-html")
    text_file = next(f for f in report.files if f.kind == "digest-text")
    page, text = html_file.data.decode(), text_file.data.decode()
    placeholder = {
        "listmonk": "{{ UnsubscribeURL }}",
        "buttondown": "{{ unsubscribe_url }}",
        "mailchimp": "*|UNSUB|*",
    }[service]
    # The service's own placeholder is the only template syntax left in the message...
    for body in (page, text):
        rest = body.replace(placeholder, "")
        assert "{{" not in rest and "{%" not in rest and "*|" not in rest
    assert placeholder in page
    # ...and the reader still sees the literal text.
    assert html.unescape(page).count("{{ Subscriber.Email }}") == 1
    assert "*|EMAIL|*" in html.unescape(page)
    assert text.replace("\u2060", "").count("{% if x %}") == 1
    # A URL keeps working: its openers are percent-encoded, not split by a word joiner.
    assert "https://example.org/a?q=%7B%7Bx}}&m=*%7CM|*" in text
    assert not re.search(r"https?://\S*\u2060", text)
