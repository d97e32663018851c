"""Rendering the digest of a small bank and reading what came out."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from pipeline.build.cache import Memo
from pipeline.build.contract import BuildOptions, RenderContext, Rendered
from pipeline.errors import Severity
from pipeline.source.lockfile import lock_path, read_lock
from pipeline.source.read import load_source
from pipeline.source.schedule import plan_schedule
from pipeline.source.validate import validate
from pipeline.targets.digest.compose import HTML_BUDGET
from pipeline.targets.digest.message import (
    encoded_size,
)
from pipeline.targets.digest.target import render
from tests.support.banks import NOW, TEMPLATES


def render_digest(source: Path, **options: object) -> Rendered:
    """Run only the digest renderer on ``source`` (read-only: nothing is written)."""
    validated = validate(load_source(source))
    lock = read_lock(lock_path(source))
    schedule = plan_schedule(validated.bank, lock.get("schedule", {}), NOW)
    opts = BuildOptions(source=source, templates=TEMPLATES, now=NOW)
    opts = replace(opts, **options)  # type: ignore[arg-type]
    rendered = render(RenderContext(validated.bank, schedule, lock, NOW, opts, Memo()))
    rendered.files = list(rendered.files)  # files come as a generator; warnings after them
    return rendered


def files_of(rendered: Rendered) -> dict[str, bytes]:
    return {f.path: f.data for f in rendered.files}


def errors_of(rendered: Rendered) -> list[str]:
    return [str(w) for w in rendered.warnings if w.severity is Severity.ERROR]


HEAD = """\
newsletter:
  title: Тестовый дайджест
  from: Тест <digest@example.org>
  {extra}
schedule:
  timezone: Europe/Moscow
  start: 2026-12-01
  slots: [mon 10:00, thu 18:30]
questions:
"""


def bank_yaml(*answers: str, extra: str = "", question: str = "Вопрос {n}?") -> str:
    """A source with one question per answer (block scalars, indented for YAML)."""
    parts = [HEAD.replace("{extra}", extra)]
    for n, answer in enumerate(answers, start=1):
        body = "\n".join("      " + line if line else "" for line in answer.split("\n"))
        parts.append(
            f"  - id: q{n}\n    question: {question.replace('{n}', str(n))!r}\n"
            f"    grades: [junior]\n    answer: |\n{body}\n"
        )
    return "".join(parts)


def check_email_html(html: str) -> None:
    """The invariants every digest HTML must keep (REFERENCE.md §3)."""
    parsed = Elements()
    parsed.feed(html)
    tags = parsed.tags
    assert html.startswith("<!DOCTYPE html>")
    assert tags[0] == ("html", tags[0][1]) and tags[0][1]["lang"] == "ru"
    body = next(i for i, (t, _) in enumerate(tags) if t == "body")
    wrapper, preheader = tags[body + 1], tags[body + 2]
    assert wrapper[0] == "div" and wrapper[1]["lang"] == "ru" and wrapper[1]["dir"] == "ltr"
    assert "preheader" in preheader[1]["class"]
    assert style_of(preheader[1])["display"] == "none"
    assert parsed.body_text[0][0] == body + 2, "the preheader must be the first body text"
    # 600 px: width attribute plus inline max-width, inside the Outlook wrapper.
    container = next(a for t, a in tags if t == "table" and "container" in a.get("class", ""))
    assert container["width"] == "600" and style_of(container)["max-width"] == "600px"
    assert '<!--[if mso]><table role="presentation" width="600"' in html
    for tag, attrs in tags:
        style = style_of(attrs)
        if tag == "table" and "data" not in attrs.get("class", ""):
            assert attrs.get("role") == "presentation", attrs
        if "color" in style:
            assert "background-color" in style, f"<{tag} {attrs}> sets color only"
        padding = [v for k, v in style.items() if k.startswith("padding")]
        if tag not in ("td", "th") and any(re.search(r"[1-9]", v) for v in padding):
            raise AssertionError(f"padding on <{tag}>: {attrs}")
        for value in style.values():
            assert "var(" not in value and value not in ("flex", "grid", "inline-flex")
            assert not re.search(r"\d(em|rem|vw|vh)\b", value), f"non-px unit in <{tag}>"
        assert not any(k.startswith("on") for k in attrs), f"event handler on <{tag}>"
        for key in ("href", "src"):
            if key in attrs and "{{" not in attrs[key] and "*|" not in attrs[key]:
                assert re.match(r"(https?:|mailto:)", attrs[key]), f"relative {key}: {attrs}"
        assert tag not in ("script", "iframe", "object", "embed", "form", "link", "svg")
    # Everything that matters is inlined: content cells carry their fonts and colours.
    for cls in ("answer-cell", "question-cell", "header-cell"):
        cells = [a for t, a in tags if t == "td" and cls in a.get("class", "").split()]
        assert all("font-family" in style_of(a) and "color" in style_of(a) for a in cells)
    for tag, attrs in tags:
        if tag == "pre":
            s = style_of(attrs)
            assert s["white-space"] == "pre-wrap" and "monospace" in s["font-family"]
    assert len("".join(parsed.styles).encode()) < 16 * 1024
    assert not re.search(r"display\s*:\s*(inline-)?(flex|grid)|var\(", "".join(parsed.styles))
    assert "\t" not in "".join(p for p in re.findall(r"<pre[^>]*>(.*?)</pre>", html, re.S))
    assert encoded_size(html.encode()) <= HTML_BUDGET


class Elements(HTMLParser):
    """Every start tag with its attributes, and the body's text in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self.in_style = False
        self.body_text: list[tuple[int, str]] = []  # (index of the enclosing tag, text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self.in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.in_style:
            self.styles.append(data)
        elif data.strip() and any(t == "body" for t, _ in self.tags):
            self.body_text.append((len(self.tags) - 1, data.strip()))


def style_of(attrs: dict[str, str]) -> dict[str, str]:
    props = {}
    for decl in attrs.get("style", "").split(";"):
        name, sep, value = decl.partition(":")
        if sep:
            props[name.strip().lower()] = value.strip().lower()
    return props


def long_week(count: int) -> str:
    """``count`` long questions pinned into the same week (2026-W49)."""
    parts = [HEAD.replace("{extra}", "")]
    body = "\n".join("      " + line if line else "" for line in LONG_ANSWER.split("\n"))
    for n in range(count):
        at = f"2026-12-0{1 + n % 6} {8 + n // 6 % 12:02d}:{n // 72 % 60:02d}"
        parts.append(
            f"  - id: long-{n}\n    question: Длинный вопрос номер {n}?\n"
            f"    grades: [middle]\n    publish_at: {at}\n    answer: |\n{body}\n"
        )
    return "".join(parts)


LONG_ANSWER = ("Длинный ответ про градиентный бустинг и регуляризацию. " * 40 + "\n\n") * 6


def context(source: Path) -> RenderContext:
    validated = validate(load_source(source))
    lock = read_lock(lock_path(source))
    schedule = plan_schedule(validated.bank, lock.get("schedule", {}), NOW)
    options = BuildOptions(source=source, templates=TEMPLATES, now=NOW)
    return RenderContext(validated.bank, schedule, lock, NOW, options, Memo())
