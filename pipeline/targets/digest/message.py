"""The digest's email message: one ``.eml`` file per message, written directly.

:func:`build_message` makes the ``.eml`` bytes: ``multipart/alternative`` with the plain text
first and the HTML last (clients show the last part they can), both UTF-8 in base64 (8bit needs
the server's 8BITMIME; quoted-printable triples Cyrillic), and a deterministic ``Message-ID``.
It is serialised with ``policy.SMTP.clone(max_line_length=998)``: with the default 78 Python
RFC-2047-encodes a long ``List-Unsubscribe`` value, which breaks one-click unsubscribe.

The bytes are those the email package's :class:`~email.message.EmailMessage` would write (a
test compares them with that reference twin, ``tests/support/eml.py``). The ``From`` header
comes from :func:`pipeline.source.mailbox.sender_address`, the check validation runs on
``newsletter.from``; sending a built file is :mod:`pipeline.deliver.smtp`'s job.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.charset import BASE64, QP, Charset
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache

from pipeline.source.mailbox import sender_address

#: How the message is written: SMTP line ends, long header lines kept whole (see above).
POLICY = policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True, slots=True)
class Letter:
    """What one digest email says; :func:`build_message` turns it into bytes."""

    subject: str
    sender: str
    date: datetime
    text: str
    html: str
    ident: str  # unique part of the Message-ID, e.g. the week label
    unsubscribe_url: str | None = None
    language: str = "ru"


@dataclass(frozen=True, slots=True)
class Prepared:
    """The costly parts of a letter's message that do not depend on its date or sender."""

    subject: bytes  # the folded ``Subject:`` header line
    digest: str  # :func:`content_hash`
    text: bytes  # the bodies, UTF-8
    html: bytes


def prepare(letter: Letter) -> Prepared:
    """What :func:`write_message` needs besides the letter's envelope (kept by the digest's
    cache of unchanged weeks)."""
    return Prepared(
        subject_header(letter.subject),
        content_hash(letter),
        letter.text.encode("utf-8"),
        letter.html.encode("utf-8"),
    )


def build_message(letter: Letter) -> bytes:
    """The complete ``.eml``: deterministic for the same letter (no clock, no random).

    Written directly rather than through :class:`~email.message.EmailMessage` (which costs
    about 2 ms a message, most of it re-parsing and re-folding the same headers), yet byte for
    byte what that class makes (``build_message_with_email`` in ``tests/support/eml.py``):
    every header is still folded by the email package itself (cached per distinct value), and
    the bodies are base64 in 76-character CRLF lines exactly as its content manager writes
    them (a test compares the two).
    """
    return write_message(letter, prepare(letter))


def write_message(letter: Letter, prepared: Prepared) -> bytes:
    """The ``.eml`` of ``letter`` whose subject and bodies are ``prepared`` (only the
    letter's sender, date, ident and unsubscribe URL are read from it)."""
    boundary = f"=_{prepared.digest}".encode()
    head = [
        prepared.subject,
        _folded("From", str(sender_address(letter.sender))),
        _folded("Date", date_value(letter.date)),
        _message_id_header(letter, prepared.digest),
        _folded("MIME-Version", "1.0"),
    ]
    # Content-Language is not written: EmailMessage.set_content drops every Content-* header
    # set before it, and the output stays what it has always been.
    if letter.unsubscribe_url:
        head.append(_folded("List-Unsubscribe", f"<{letter.unsubscribe_url}>"))
        head.append(_folded("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    head.append(_multipart_header().replace(_BOUNDARY_STANDIN, boundary))
    return b"".join(
        (
            *head,
            b"\r\n--",
            boundary,
            b"\r\n",
            _part_header("plain"),
            b"\r\n",
            base64_body(prepared.text),
            b"\r\n--",
            boundary,
            b"\r\n",
            _part_header("html"),
            b"\r\n",
            base64_body(prepared.html),
            b"\r\n--",
            boundary,
            b"--\r\n",
        )
    )


def subject_header(subject: str) -> bytes:
    """The folded ``Subject:`` line (RFC 2047 words for non-ASCII text).

    Every week has its own subject, and the email package folds one in about 0.1 ms
    (it re-encodes the growing encoded word once per word). A one-line subject of plain
    words is written here directly, as the package writes it: the words from the first to the
    last one with non-ASCII characters become one encoded word (:func:`encoded_word`), the
    ASCII words around it stay as they are. Anything else goes to the package; a test
    compares the two.
    """
    if (
        len(subject) < _FAST_SUBJECT
        and _PLAIN_SUBJECT.fullmatch(subject)
        and "=?" not in subject
        and len(subject.splitlines()) == 1
    ):
        words = subject.split(" ")
        wide = [i for i, word in enumerate(words) if not word.isascii()]
        if not wide:
            line = f"Subject: {subject}\r\n"
        else:
            first, last = wide[0], wide[-1]
            line = "Subject: " + " ".join(
                [
                    *words[:first],
                    encoded_word(" ".join(words[first : last + 1])),
                    *words[last + 1 :],
                ]
            )
            line += "\r\n"
        if len(line) < _FAST_SUBJECT:
            return line.encode("ascii")
    folded = _folded("Subject", subject)
    if GLUED.search(folded) and len(subject.encode("utf-8", "surrogatepass")) < 600:
        # After a space and a no-break space the email package ends the encoded word and
        # glues the ASCII text that follows to it ("…wqA==?=Data", "…wqA==?=(1/2)"), which
        # RFC 2047 forbids: the whole subject as one encoded word.
        return f"Subject: {encoded_word(subject)}\r\n".encode("ascii")
    return folded


#: An encoded word directly followed by anything but white space (RFC 2047 wants a space
#: between an encoded word and the text next to it).
GLUED = re.compile(rb"=\?[^?]+\?[bqBQ]\?[^?]*\?=\S")

#: The email package's charset for UTF-8, made to write Q or B words (see encoded_word).
_Q_WORDS = Charset("utf-8")
_Q_WORDS.header_encoding = QP
_B_WORDS = Charset("utf-8")
_B_WORDS.header_encoding = BASE64


def encoded_word(text: str) -> str:
    """``text`` as one RFC 2047 encoded word in UTF-8, as the email package's header folder
    writes it: Q encoding unless it is at least five characters longer than B.

    Made with :class:`email.charset.Charset`, whose own choice (B when strictly shorter)
    differs from the folder's; a test compares subjects with the folder's output.
    """
    q, b = _Q_WORDS.header_encode(text), _B_WORDS.header_encode(text)
    return q if len(q) - len(b) < 5 else b


#: Subjects (and their lines) shorter than this never come near the 998-character line limit.
_FAST_SUBJECT = 900
#: Words of printable ASCII or non-ASCII (no surrogates) separated by single spaces.
_PLAIN_SUBJECT = re.compile(
    r"[!-~\u0080-\ud7ff\ue000-\U0010ffff]+(?: [!-~\u0080-\ud7ff\ue000-\U0010ffff]+)*"
)


#: A base64 line: 57 bytes of input make 76 characters (the email package's line length).
_B64_LINE = 76


def base64_body(data: bytes) -> bytes:
    """A text part's body as the email package writes it: the UTF-8 text with CRLF line
    ends, in base64 lines of 76 characters, each ending in CRLF."""
    data = b"\r\n".join(data.splitlines()) + b"\r\n"
    encoded = binascii.b2a_base64(data, newline=False)
    lines = [encoded[i : i + _B64_LINE] for i in range(0, len(encoded), _B64_LINE)]
    return b"\r\n".join(lines) + b"\r\n"


@lru_cache(maxsize=512)
def _folded(name: str, value: str) -> bytes:
    """One header line as the email package writes it under :data:`POLICY`."""
    # header_store_parse also rejects values with line breaks, as msg[name] = value does.
    return POLICY.fold_binary(name, POLICY.header_store_parse(name, value)[1])


#: Message-IDs this simple are written as they are (the email package leaves them alone too).
_SIMPLE_MESSAGE_ID = re.compile(r"<[A-Za-z0-9._-]+@[A-Za-z0-9.-]+>")


def _message_id_header(letter: Letter, digest: str) -> bytes:
    value = f"<{letter.ident}.{digest}@{_domain(letter.sender)}>"
    if len(value) < 900 and _SIMPLE_MESSAGE_ID.fullmatch(value):
        return f"Message-ID: {value}\r\n".encode()
    return _folded("Message-ID", value)


#: Stands for the boundary in the cached multipart header (same length and characters).
_BOUNDARY_STANDIN = b"=_0123456789abcdef"


@lru_cache(maxsize=1)
def _multipart_header() -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["Content-Type"] = "multipart/alternative"
    msg.set_boundary(_BOUNDARY_STANDIN.decode())
    return _folded("Content-Type", str(msg["Content-Type"]))


@lru_cache(maxsize=2)
def _part_header(subtype: str) -> bytes:
    """The headers of a base64 UTF-8 text part (they do not depend on the text)."""
    part = EmailMessage(policy=policy.SMTP)
    part.set_content("", subtype=subtype, charset="utf-8", cte="base64")
    del part["MIME-Version"]
    raw = part.as_bytes(policy=POLICY)
    return raw[: raw.index(b"\r\n\r\n") + 2]


def content_hash(letter: Letter) -> str:
    """A short hash of what the letter says (not of when it is sent)."""
    return hashlib.sha256(
        "\0".join((letter.subject, letter.text, letter.html)).encode()
    ).hexdigest()[:16]


def message_id(letter: Letter) -> str:
    """``<ident.hash@domain>``: stable for the same content, new when the content changes."""
    return f"<{letter.ident}.{content_hash(letter)}@{_domain(letter.sender)}>"


def _domain(sender: str) -> str:
    """The sender's domain as written in headers (IDNA): the Message-ID's right-hand side."""
    return sender_address(sender).domain


def date_value(when: datetime) -> str:
    """The ``Date`` header's value. RFC 5322 writes the zone as whole minutes (``+0300``);
    an offset with seconds (local mean times, such as Liberia's -0:44:30 until 1972) is
    written in UTC instead, the same instant (the email package would write no date)."""
    offset = when.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        when = when.astimezone(UTC)
    return format_datetime(when)


def encoded_size(data: bytes) -> int:
    """Bytes ``data`` takes in the message as base64 (76-character lines, CRLF)."""
    chars = 4 * ((len(data) + 2) // 3)
    return chars + 2 * ((chars + 75) // 76)


def encoded_size_of(text: str) -> int:
    """:func:`encoded_size` of a UTF-8 string (what a part of :func:`build_message` takes)."""
    return encoded_size(text.encode("utf-8"))
