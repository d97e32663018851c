"""Stage 1, load: bytes on disk -> a YAML node tree with positions.

Only this module touches PyYAML. It composes nodes (it never constructs Python objects), so
typing is decided by :mod:`pipeline.validate` from the text the editor wrote: ``no`` stays the
word "no", ``2024-01-01`` stays a string. Problems that make the file unreadable (encoding,
syntax, tabs, emptiness, alias bombs) stop here with one located message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipeline.errors import Pos, fail

try:  # libyaml is about ten times faster; it keeps line/column marks too
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

_TAGS = {
    ScalarNode: "tag:yaml.org,2002:str",
    SequenceNode: "tag:yaml.org,2002:seq",
    MappingNode: "tag:yaml.org,2002:map",
}


class _Loader(_SafeLoader):
    """Composes without YAML 1.1 tag resolution: validation types every scalar itself (as
    YAML 1.2 does), so the resolver's regexes would be wasted on every value."""

    def resolve(self, kind: type[Node], value: str | None, implicit: tuple[bool, bool]) -> str:
        return _TAGS[kind]


#: Larger sources are refused before parsing. The seed's questions average ~1.8 KB of YAML, so
#: 100,000 questions make ~180 MB; beyond 512 MiB a bank should be split.
MAX_SOURCE_BYTES = 512 * 1024 * 1024
#: Aliases may repeat a node, but the expanded document may not exceed this many nodes more
#: than it has distinct nodes: a "billion laughs" file stops here instead of eating memory.
ALIAS_EXPANSION_BUDGET = 100_000


@dataclass(frozen=True, slots=True)
class Document:
    """A composed YAML file: the root node and the means to turn marks into positions."""

    path: Path
    display: str  # the path as the editor should read it in messages
    text: str
    root: Node
    lines: tuple[str, ...] = ()

    def pos(self, node: Node) -> Pos:
        mark = node.start_mark
        return Pos(self.display, mark.line + 1, mark.column + 1)

    def top(self, key: str) -> Node | None:
        """The value of a top-level key (None when absent or the root is not a mapping)."""
        if not isinstance(self.root, MappingNode):
            return None
        return next(
            (v for k, v in self.root.value if isinstance(k, ScalarNode) and k.value == key), None
        )

    def line(self, number: int) -> str:
        """Source line ``number`` (1-based), without its newline; '' past the end."""
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""


def display_path(path: Path) -> str:
    """The path relative to the working directory when it lies below it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_source(path: Path) -> Document:
    """Read and compose ``path``; raise :class:`PipelineError` with a located message."""
    display, text = read_source(path)
    root = compose(text, display)
    doc = Document(path, display, text, root, tuple(text.splitlines()))
    if has_anchor(text):  # without an anchor there can be no alias to expand
        check_aliases(doc)
    return doc


def read_source(path: Path) -> tuple[str, str]:
    """(display path, text) of a source file that is small enough, UTF-8 and not empty."""
    display = display_path(path)
    raw = path.read_bytes()
    if len(raw) > MAX_SOURCE_BYTES:
        raise fail(
            Pos(display, 1, 1),
            "",
            f"the file is {len(raw):,} bytes; the limit is {MAX_SOURCE_BYTES:,}: split the bank",
        )
    text = _decode(raw, display)
    if not text.strip() or _only_comments(text):
        raise fail(Pos(display, 1, 1), "", _EMPTY)
    return display, text


_EMPTY = "the file is empty: expected a mapping with a 'questions:' list"


def compose(text: str, display: str) -> Node:
    """The YAML node tree of ``text`` (positions count from its start), or a located error."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, display, text) from None
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, display, text) from None
    except yaml.YAMLError as exc:  # unmarked errors are rare
        raise fail(Pos(display, 1, 1), "", f"YAML error: {exc}") from None
    if root is None:
        raise fail(Pos(display, 1, 1), "", _EMPTY)
    return root


def has_anchor(text: str) -> bool:
    """Whether ``text`` may hold a YAML anchor (``&name`` where YAML allows one: at the start
    or after a space, ``[``, ``{`` or ``,``), and so aliases to it. A false match only costs a
    walk. (A loop over the ``&`` found: a regular expression scans every character.)"""
    at = text.find("&")
    while at >= 0:
        before = text[at - 1] if at else " "
        after = text[at + 1 : at + 2]
        if (
            (before.isspace() or before in "[{,")
            and after
            and not after.isspace()
            and after not in "[]{},"
        ):
            return True
        at = text.find("&", at + 1)
    return False


def _decode(raw: bytes, display: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        raise fail(
            Pos(display, line, col),
            "",
            f"invalid UTF-8 (byte 0x{raw[exc.start]:02x}): save the file as UTF-8",
        ) from None
    return text.removeprefix("\ufeff")


def _reader_error(exc: yaml.reader.ReaderError, display: str, text: str) -> Exception:
    """A character YAML refuses (NUL, DEL, C1 controls...), at its line and column.

    The reader stops at the first such character, so its first occurrence is the place (the
    reported offset counts bytes or characters depending on the loader).
    """
    char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
    offset = max(text.find(char), 0)
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    code = f"U+{ord(char):04X}" if len(char) == 1 else repr(char)
    return fail(
        Pos(display, line, col),
        "",
        f"the character {code} is not allowed in a YAML file; remove it, or write it as an "
        f'escape such as "\\x{ord(char):02x}" inside double quotes'
        if len(char) == 1 and ord(char) < 0x100
        else f"the character {code} is not allowed in a YAML file; remove it",
    )


_CONTENT_LINE = re.compile(r"^[^\S\n]*[^\s#]", re.M)


def _only_comments(text: str) -> bool:
    return _CONTENT_LINE.search(text) is None


_TAB_MESSAGE = "a tab character; YAML indentation must use spaces"


def _syntax_error(exc: yaml.MarkedYAMLError, display: str, text: str) -> Exception:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "syntax error"
    message = f"YAML syntax error: {problem}"
    if "'\\t'" in problem or "\\t" in problem or "tab character" in problem:
        message = f"YAML syntax error: {_TAB_MESSAGE}"
    elif _tab_indented(text, line):
        # libyaml often reports a tab-indented line as a confusing structure error.
        message = f"YAML syntax error: {problem} (the line is indented with {_TAB_MESSAGE})"
    if exc.context and exc.context_mark and exc.context_mark is not mark:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    return fail(Pos(display, line, col), "", message)


def _tab_indented(text: str, line: int) -> bool:
    lines = text.splitlines()
    near = lines[max(0, line - 2) : line]
    return any(re.match(r"^ *\t", candidate) for candidate in near)


def check_aliases(doc: Document) -> None:
    """Refuse documents whose aliases would expand beyond the budget (or refer to themselves).

    The composed graph shares one node per anchor; walking it as a reader would (expanding
    every alias) costs as much as the expanded document, so the walk itself is bounded.
    """
    distinct: set[int] = set()
    expanded = 0
    # (node, leaving, outermost repeated node above it: where the expansion is blamed)
    stack: list[tuple[Node, bool, Node | None]] = [(doc.root, False, None)]
    on_path: set[int] = set()
    while stack:
        node, leaving, blame = stack.pop()
        if leaving:
            on_path.discard(id(node))
            continue
        if id(node) in on_path:
            raise fail(doc.pos(node), "", "an alias refers to the node that contains it")
        if blame is None and id(node) in distinct:
            blame = node  # an alias: the first repeat of an anchored node
        expanded += 1
        distinct.add(id(node))
        if expanded - len(distinct) > ALIAS_EXPANSION_BUDGET:
            raise fail(
                doc.pos(blame or node),
                "",
                "aliases expand this document beyond "
                f"{ALIAS_EXPANSION_BUDGET:,} extra nodes; write the values out instead",
            )
        if isinstance(node, ScalarNode):
            continue
        on_path.add(id(node))
        stack.append((node, True, blame))
        if isinstance(node, SequenceNode):
            stack.extend((child, False, blame) for child in reversed(node.value))
        elif isinstance(node, MappingNode):
            for key, value in reversed(node.value):
                stack.append((value, False, blame))
                stack.append((key, False, blame))
