"""Stage 1, load: bytes on disk -> a YAML node tree with positions.

Only this module touches PyYAML. It composes nodes (it never constructs Python objects), so
typing is decided by :mod:`pipeline.source.validate` from the text the editor wrote: ``no``
stays the word "no", ``2024-01-01`` stays a string. Problems that make the file unreadable
(not a regular file, too large, encoding, syntax, tabs, emptiness, alias bombs, explicit
tags) stop here with one located message.
"""

from __future__ import annotations

import os
import re
import stat
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipeline.errors import Pos, UsageError, fail
from pipeline.markup import sanitize

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
#: libyaml refuses deeper nesting itself ("exceeded maximum nesting depth"); PyYAML's pure
#: Python loader (a build without libyaml) would hit the interpreter's recursion limit first,
#: which :func:`compose` reports as the same located problem.
MAX_YAML_DEPTH = 1_000
#: Aliases may repeat a node, but the expanded document may not exceed this many nodes more
#: than it has distinct nodes: a "billion laughs" file stops here instead of eating memory.
ALIAS_EXPANSION_BUDGET = 100_000


#: What ends a line for :meth:`str.splitlines` (a line number counts these).
_LINE_END = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def line_starts(text: str) -> array[int]:
    """Where each line of ``text`` starts (the lines :meth:`str.splitlines` gives)."""
    starts = array("q", [0])
    starts.extend(m.end() for m in _LINE_END.finditer(text))
    if len(starts) > 1 and starts[-1] == len(text):
        starts.pop()  # the text ends with a line break: no line after it
    return starts


def line_of(text: str, starts: array[int], number: int) -> str:
    """Line ``number`` (1-based) of ``text`` without its line break; '' past the end."""
    if not 0 < number <= len(starts) or not text:
        return ""
    start = starts[number - 1]
    end = _LINE_END.search(text, start)
    return text[start : end.start() if end else len(text)]


@dataclass(frozen=True, slots=True)
class Document:
    """A composed YAML file: the root node and the means to turn marks into positions."""

    path: Path
    display: str  # the path as the editor should read it in messages
    text: str
    root: Node
    #: Where each line starts, found on the first :meth:`line` (a list of a file's lines
    #: would hold a second copy of it: 30 MB at 10,000 questions).
    _starts: array[int] = field(default_factory=lambda: array("q"), repr=False, compare=False)

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
        if not self._starts:
            self._starts.extend(line_starts(self.text))
        return line_of(self.text, self._starts, number)


def display_path(path: Path) -> str:
    """The path relative to the working directory when it lies below it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # elsewhere, or a loop of links: as given
        return str(path)


def load_source(path: Path) -> Document:
    """Read and compose ``path``; raise :class:`PipelineError` with a located message."""
    return document_of(path, *read_source(path))


def document_of(path: Path, display: str, text: str) -> Document:
    """Compose ``text`` as :func:`load_source` composes the file it read it from."""
    root = compose(text, display)
    doc = Document(path, display, text, root)
    if has_anchor(text):  # without an anchor there can be no alias to expand
        check_aliases(doc)
    return doc


def read_source(path: Path) -> tuple[str, str]:
    """(display path, text) of a source file that is small enough, UTF-8 and not empty.

    A FIFO, a device or a folder is refused (:class:`UsageError`, exit 2) before it is read;
    a file over :data:`MAX_SOURCE_BYTES` is refused (exit 1) without reading it.
    """
    display = display_path(path)
    try:
        raw = read_regular_file(path, MAX_SOURCE_BYTES, display)
    except FileTooLarge as exc:
        raise fail(
            Pos(display, 1, 1),
            "",
            f"the file is {exc.size_text} bytes; the limit is {MAX_SOURCE_BYTES:,}: split the bank",
        ) from None
    text = _decode(raw, display)
    if not text.strip() or _only_comments(text):
        raise fail(Pos(display, 1, 1), "", _EMPTY)
    return display, text


_EMPTY = "the file is empty: expected a mapping with a 'questions:' list"


class FileTooLarge(Exception):
    """A regular file over the caller's byte limit; it was not read (or not beyond the limit)."""

    def __init__(self, size: int, exact: bool) -> None:
        super().__init__(size)
        self.size = size
        self.exact = exact  # False: it grew while being read; ``size`` is what was read

    @property
    def size_text(self) -> str:
        return f"{self.size:,}" if self.exact else f"more than {self.size - 1:,}"


def file_kind(mode: int) -> str | None:
    """What a non-regular file is, for a message ('a FIFO (named pipe)'); None for a regular
    file."""
    if stat.S_ISREG(mode):
        return None
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def check_regular_file(path: Path, limit: int, display: str | None = None) -> int:
    """The size of the regular file at ``path``, looked at without opening it.

    Opening is what hangs (a FIFO without a writer) or has effects (some devices), and reading
    a device never ends (``/dev/zero``), so both are refused from ``stat`` alone. Raises
    :class:`UsageError` for anything but a regular file, :class:`FileTooLarge` over ``limit``
    and OSError (missing, no permission) as it comes.
    """
    info = os.stat(path)
    _refuse_irregular(info.st_mode, display or str(path))
    if info.st_size > limit:
        raise FileTooLarge(info.st_size, exact=True)
    return info.st_size


def read_regular_file(
    path: Path, limit: int, display: str | None = None, *, follow: bool = True
) -> bytes:
    """The bytes of the regular file at ``path``, never more than ``limit`` of them read.

    Checked as :func:`check_regular_file`, then opened without blocking and checked again on
    the open descriptor (the path may have been replaced in between); a file that grows past
    ``limit`` while being read raises :class:`FileTooLarge` too. ``follow=False``: a path that
    has become a symbolic link is not opened (its target was checked, not the link's).
    """
    where = display or str(path)
    check_regular_file(path, limit, where)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    with open(fd, "rb", buffering=0) as handle:
        info = os.fstat(fd)
        _refuse_irregular(info.st_mode, where)
        if info.st_size > limit:
            raise FileTooLarge(info.st_size, exact=True)
        # One read for the size stat gave (plus one byte to see the end), then more only if the
        # file grew since (or, like /proc files, reports no size): memory stays bounded by
        # ``limit`` whatever happens to the file.
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = handle.read(min(max(info.st_size + 1 - total, 1 << 20), limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    if total > limit:
        raise FileTooLarge(total, exact=False)
    return b"".join(chunks)


class NotRegularFile(UsageError):
    """A FIFO, a device, a folder… where a file was expected (``kind`` says which)."""

    def __init__(self, display: str, kind: str) -> None:
        super().__init__(f"{display}: {kind}, not a regular file")
        self.kind = kind


def _refuse_irregular(mode: int, display: str) -> None:
    kind = file_kind(mode)
    if kind is not None:
        raise NotRegularFile(display, kind)


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
    except RecursionError:  # only without libyaml, which stops at MAX_YAML_DEPTH itself
        raise fail(
            Pos(display, 1, 1),
            "",
            f"YAML syntax error: exceeded maximum nesting depth ({MAX_YAML_DEPTH:,} levels)",
        ) from None
    if root is None:
        raise fail(Pos(display, 1, 1), "", _EMPTY)
    if has_tag(text):  # without a '!' where a tag may stand there can be no tag to refuse
        check_tags(root, display, text)
    if "\\" in text or "\x85" in text:  # only escapes ("\a", "\0") write control characters
        _clean_scalars(root)
    return root


def _clean_scalars(root: Node) -> None:
    """Every text of the source loses its control characters here, once (see
    :data:`pipeline.markup.sanitize.CONTROLS`): settings, ids, questions, answers alike."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            node.value = sanitize.clean_controls(node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(item for pair in node.value for item in pair)


#: The tags our resolver gives every node (see :class:`_Loader`); any other tag was written.
_RESOLVED = frozenset(_TAGS.values())


def has_tag(text: str) -> bool:
    """Whether ``text`` may hold an explicit YAML tag: a ``!`` followed by a non-space where a
    node may start (first on its line, or after ``:``, ``-``, ``?``, ``[``, ``{``, ``,`` or an
    anchor). ``a != b`` in an answer's code is not such a place; a false match only costs a
    walk. (A loop over the ``!`` found: a regular expression would try every character.)"""
    at = text.find("!")
    while at >= 0:
        after = text[at + 1 : at + 2]
        if after and not after.isspace():
            before = text[text.rfind("\n", 0, at) + 1 : at].rstrip(" \t")
            if not before or before[-1] in ":-?[{," or before.split()[-1].startswith("&"):
                return True
        at = text.find("!", at + 1)
    return False


def check_tags(root: Node, display: str, text: str) -> None:
    """Refuse explicit tags (``!!binary``, ``!!python/object:...``, ``!foo``, ``!!int``).

    The loader composes and never constructs, so a tag cannot run code here; but a value
    tagged ``!!binary`` or ``!custom`` would silently be read as its plain text, while an
    editor's tools (and the schema) read it as something else. Every value is text, a list or
    a mapping; a tag is always a mistake, refused at its place. ``!!str``, ``!!seq`` and
    ``!!map`` say what the node is anyway and cannot be told apart once composed.
    """
    stack: list[Node] = [root]
    seen: set[int] = set()  # an alias repeats its anchor's node: look at it once
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.tag not in _RESOLVED:
            # The node starts at its anchor when it has one; the tag is the first '!' from there.
            line, col = node.start_mark.line, node.start_mark.column
            tag_col = line_of(text, line_starts(text), line + 1).find("!", col)
            raise fail(
                Pos(display, line + 1, (tag_col if tag_col >= 0 else col) + 1),
                "",
                f"the YAML tag {_shown_tag(node.tag)} is not allowed: values are plain text, "
                "lists and mappings; remove the tag (quote the value if it is text)",
            )
        if isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, MappingNode):
            for key, value in reversed(node.value):
                stack.extend((value, key))


def _shown_tag(tag: str) -> str:
    """A tag as the editor wrote it: ``!!binary`` rather than ``tag:yaml.org,2002:binary``."""
    short = tag.removeprefix("tag:yaml.org,2002:")
    return f"!!{short}" if short != tag else tag if tag.startswith("!") else f"!<{tag}>"


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
    starts = line_starts(text)
    near = (line_of(text, starts, n) for n in range(max(1, line - 1), line + 1))
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
