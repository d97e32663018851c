"""Hand-written YAML for imported questions: the file an editor would have typed.

PyYAML's dumper quotes Cyrillic, folds long lines and orders keys alphabetically; an editor
writes plain scalars, ``|`` blocks for multi-line answers and keys in the documented order.
Every scalar is emitted in the plainest style that reads back *exactly* (checked by composing
it with the same loader :mod:`pipeline.source` uses); when none does (trailing spaces, line
separators, a leading space on the first line, control characters) it falls back to a
double-quoted scalar with escapes, which can hold any text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from pipeline.source.spec import core_type

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

#: Plain scalars an editor's tools (YAML 1.1) would read as booleans, though ours would not.
_YAML11_WORDS = frozenset({"y", "n", "yes", "no", "on", "off"})
_PLAIN_START = re.compile(r"""^[^\s\-?:,\[\]{}#&*!|>'"%@`]|^[-?:][^\s,\[\]{}]""")
#: Characters YAML cannot hold unescaped, or reads as line breaks (NEL, LS, PS), or strips.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")


def _compose_value(text: str) -> ScalarNode | None:
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    if not isinstance(root, MappingNode) or len(root.value) != 1:
        return None
    node = root.value[0][1]
    return node if isinstance(node, ScalarNode) else None


def _reads_as_text(candidate: str, value: str) -> bool:
    node = _compose_value(f"k: {candidate}\n")
    return node is not None and node.value == value and core_type(node) == "str"


def plain_ok(value: str, *, flow: bool = False) -> bool:
    """Can ``value`` be written without quotes (and read back as the same text)?"""
    if not value or "\n" in value or value != value.strip() or _UNSAFE.search(value):
        return False
    if (
        not _PLAIN_START.match(value)
        or ": " in value
        or " #" in value
        or value.endswith(":")
        or "\t" in value
    ):
        return False
    if flow and any(c in value for c in ",[]{}"):
        return False
    if value.lower() in _YAML11_WORDS:
        return False
    return _reads_as_text(value, value)


def single_quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def double_quoted(value: str) -> str:
    """A double-quoted scalar on one line; holds any text."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif _UNSAFE.match(ch) or ch == "\x85":
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def inline_scalar(value: str, *, flow: bool = False) -> str:
    """The plainest one-line form of ``value``: plain, else single-, else double-quoted."""
    if plain_ok(value, flow=flow):
        return value
    if "\n" not in value and not _UNSAFE.search(value) and "\x85" not in value:
        quoted = single_quoted(value)
        if _reads_as_text(quoted, value):
            return quoted
    return double_quoted(value)


def block_scalar(value: str, indent: str) -> str | None:
    """``|`` (or ``|-``) followed by the indented lines, or None when a block cannot hold
    ``value`` exactly (or only with trailing spaces an editor's save would strip)."""
    if _UNSAFE.search(value) or "\x85" in value or "\r" in value or "\t" in value:
        return None
    body = value[:-1] if value.endswith("\n") else value
    chomp = "" if value.endswith("\n") else "-"
    if body.endswith("\n") or not body.strip() or body.startswith((" ", "\n")):
        return None
    lines = body.split("\n")
    if any(line != line.rstrip() for line in lines):
        return None
    text = f"|{chomp}\n" + "\n".join(f"{indent}{line}" if line else "" for line in lines)
    check = f"|{chomp}\n" + "\n".join(f"  {line}" if line else "" for line in lines) + "\n"
    return text if _reads_as_text(check, value) else None


def text_value(value: str, indent: str) -> str:
    """A field value: a block scalar for multi-line text, else the plainest one-line form."""
    if "\n" in value:
        block = block_scalar(value, indent)
        if block is not None:
            return block
        return double_quoted(value)
    return inline_scalar(value)


def flow_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(inline_scalar(v, flow=True) for v in values) + "]"


@dataclass(frozen=True, slots=True)
class Entry:
    """One question as the emitter writes it (keys in the documented order)."""

    id: str
    header: str | None
    question: str
    answer: str
    grades: tuple[str, ...]
    tags: tuple[str, ...]
    publish_at: str | None
    comments: tuple[str, ...] = ()  # written above 'grades' (why a placeholder is there)


def question_yaml(entry: Entry, dash_indent: int = 2, key_indent: int = 2) -> str:
    """One list item of ``questions:``; ``dash_indent`` spaces before the dash, keys
    ``key_indent`` further in (2 in our files)."""
    pad = " " * dash_indent
    keys = pad + " " * key_indent
    inner = keys + "  "
    lines = [f"{pad}-{' ' * (key_indent - 1)}id: {inline_scalar(entry.id)}"]
    if entry.header is not None:
        lines.append(f"{keys}header: {inline_scalar(entry.header)}")
    lines.append(f"{keys}question: {text_value(entry.question, inner)}")
    lines.append(f"{keys}answer: {text_value(entry.answer, inner)}")
    lines.extend(f"{keys}# {comment}" for comment in entry.comments)
    lines.append(f"{keys}grades: {flow_list(entry.grades)}")
    if entry.tags:
        lines.append(f"{keys}tags: {flow_list(entry.tags)}")
    if entry.publish_at is not None:
        lines.append(f"{keys}publish_at: {inline_scalar(entry.publish_at)}")
    return "\n".join(lines) + "\n"


def read_back(text: str) -> list[dict[str, object]]:
    """The questions of an emitted file as our loader sees them (for checks and tests)."""
    root = yaml.compose(text, Loader=_Loader)
    assert isinstance(root, MappingNode)
    items = next(v for k, v in root.value if k.value == "questions")
    assert isinstance(items, SequenceNode)
    out: list[dict[str, object]] = []
    for item in items.value:
        assert isinstance(item, MappingNode)
        entry: dict[str, object] = {}
        for k, v in item.value:
            if isinstance(v, SequenceNode):
                entry[k.value] = tuple(x.value for x in v.value)
            else:
                entry[k.value] = v.value
        out.append(entry)
    return out
