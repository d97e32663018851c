"""The digest as an email message, and ``pipeline send``: one ``.eml`` over SMTP.

:func:`build_message` makes the ``.eml`` bytes: ``multipart/alternative`` with the plain text
first and the HTML last (clients show the last part they can), both UTF-8 in base64 (8bit needs
the server's 8BITMIME; quoted-printable triples Cyrillic), and a deterministic ``Message-ID``.
It is serialised with ``policy.SMTP.clone(max_line_length=998)``: with the default 78 Python
RFC-2047-encodes a long ``List-Unsubscribe`` value, which breaks one-click unsubscribe.

:func:`send_eml` delivers a file with :mod:`smtplib`; credentials come from ``SMTP_USER`` and
``SMTP_PASSWORD`` and are never printed. Failures raise :class:`SendError` whose ``code`` is the
command's exit status (see :data:`EXIT_CODES`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email._encoded_words import encode as _encoded_word  # type: ignore[import-not-found]
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, unquote
from functools import lru_cache
from pathlib import Path

from pipeline.errors import UsageError
from pipeline.source.read import FileTooLarge, read_regular_file

#: How the message is written: SMTP line ends, long header lines kept whole (see above).
POLICY = policy.SMTP.clone(max_line_length=998)

#: Exit status of ``pipeline send`` for each kind of failure (0 = sent).
EXIT_CODES = {
    "usage": 2,  # bad arguments, unreadable or invalid .eml, credentials half set
    "connect": 3,  # connection refused, host unknown, timeout, connection dropped
    "auth": 4,  # authentication failed, required but no credentials, or not offered
    "recipient": 5,  # the server rejected a recipient
    "smtp": 6,  # any other refusal: sender, message data, TLS handshake
}
DEFAULT_PORTS = {"plain": 25, "starttls": 587, "ssl": 465}
TIMEOUT_SECONDS = 30


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
    byte what :func:`build_message_with_email` makes: every header is still folded by the
    email package itself (cached per distinct value), and the bodies are base64 in 76-character
    CRLF lines exactly as its content manager writes them (a test compares the two).
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
    last one with non-ASCII characters become one encoded word (made by the package's own,
    private, encoder), the ASCII words around it stay as they are. Anything else goes to the
    package; a test compares the two.
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
                    _encoded_word(" ".join(words[first : last + 1]), charset="utf-8"),
                    *words[last + 1 :],
                ]
            )
            line += "\r\n"
        if len(line) < _FAST_SUBJECT:
            return line.encode("ascii")
    folded = _folded("Subject", subject)
    if _GLUED.search(folded) and len(subject.encode("utf-8", "surrogatepass")) < 600:
        # The email package glues an encoded word to the next word after a no-break space
        # ("…wqA==?=Data", which RFC 2047 forbids): the whole subject as one encoded word.
        return f"Subject: {_encoded_word(subject, charset='utf-8')}\r\n".encode("ascii")
    return folded


#: An encoded word directly followed by a word character.
_GLUED = re.compile(rb"=\?[^?]+\?[bqBQ]\?[^?]*\?=\w")


#: Subjects (and their lines) shorter than this never come near the 998-character line limit.
_FAST_SUBJECT = 900
#: Words of printable ASCII or non-ASCII (no surrogates) separated by single spaces.
_PLAIN_SUBJECT = re.compile(
    r"[!-~\u0080-\ud7ff\ue000-\U0010ffff]+(?: [!-~\u0080-\ud7ff\ue000-\U0010ffff]+)*"
)


def build_message_with_email(letter: Letter) -> bytes:
    """:func:`build_message` through the email package: the reference it must equal."""
    # Bodies are encoded under the message's policy: base64 lines must stay at 76 characters,
    # so only serialisation uses the long-line POLICY.
    msg = EmailMessage(policy=policy.SMTP)
    msg["Subject"] = letter.subject
    msg["From"] = str(sender_address(letter.sender))
    msg["Date"] = date_value(letter.date)
    msg["Message-ID"] = message_id(letter)
    msg["MIME-Version"] = "1.0"
    msg["Content-Language"] = letter.language
    if letter.unsubscribe_url:
        # RFC 8058 one-click: mail providers POST to this URL; it must stay unencoded.
        msg["List-Unsubscribe"] = f"<{letter.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(letter.text, subtype="plain", charset="utf-8", cte="base64")
    msg.add_alternative(letter.html, subtype="html", charset="utf-8", cte="base64")
    for part in msg.iter_parts():
        del part["MIME-Version"]  # belongs to the top level only
    # Python picks a random boundary; "_" never occurs in base64, so this one cannot collide.
    msg.set_boundary(f"=_{content_hash(letter)}")
    return msg.as_bytes(policy=POLICY)


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


#: RFC 5322 ``dot-atom``: the part before "@" as the digest writes it (ASCII, never quoted:
#: ``pipeline send`` and SMTP servers read the address back from the header as it is).
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
#: One label of a host name in ASCII: letters, digits and inner hyphens, at most 63.
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
#: Characters no header may carry: controls (tab included) and Unicode line breaks.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@lru_cache(maxsize=64)
def sender_address(sender: str) -> Address:
    """``newsletter.from`` (``Name <user@domain>`` or ``user@domain``) as an address.

    The name may be any text on one line, a comma or Cyrillic included: the email package
    writes it quoted or as an RFC 2047 encoded word, so it never reads as two addresses. A
    name already in double quotes is taken without them. The domain may be Cyrillic: it is
    written IDNA-encoded (``пример.рф`` -> ``xn--e1afmkfd.xn--p1ai``), which every mail
    server reads. The part before "@" must be ASCII: other characters there need SMTPUTF8,
    which a digest sent through newsletter services cannot count on. Raises ValueError
    saying what is wrong (validation reports it at ``newsletter.from``).
    """
    text = sender.strip()
    name, bracket, rest = text.rpartition("<")
    if bracket:
        if not rest.endswith(">"):
            raise ValueError("the address must end with '>'")
        address, name = rest[:-1], name.strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = unquote(name)
    else:
        address = text
    if _CONTROL.search(name):
        raise ValueError("the name may not hold control characters or line breaks")
    user, at, domain = address.rpartition("@")
    if not at or not user or not domain:
        raise ValueError("expected an address like a@example.org")
    if not _DOT_ATOM.fullmatch(user):
        raise ValueError(
            f"the part before '@' may hold only ASCII letters, digits, dots and "
            f"!#$%&'*+-/=?^_`{{|}}~; got {user!r}"
        )
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_domain = ""
    labels = ascii_domain.split(".")
    if len(ascii_domain) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{domain!r} is not a domain name like example.org or пример.рф")
    return Address(display_name=name, username=user, domain=ascii_domain)


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


# --- sending ---------------------------------------------------------------------------------


class SendError(Exception):
    """Sending failed; ``code`` is the exit status, the message a single line."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = EXIT_CODES[kind]


@dataclass(frozen=True, slots=True)
class Server:
    host: str
    port: int
    security: str  # plain | starttls | ssl


def parse_server(text: str | None, security: str) -> Server:
    """``HOST[:PORT]`` (default localhost, port by security: 25, 587 or 465)."""
    text = (text or "localhost").strip()
    if text.startswith("["):  # [IPv6]:port
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    if not host or (port and not port.isdigit()) or (port and not 0 < int(port) < 65536):
        raise SendError(
            "usage", f"--smtp: expected HOST:PORT like smtp.example.org:587; got {text!r}"
        )
    return Server(host, int(port) if port else DEFAULT_PORTS[security], security)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What was sent: for the one-line report."""

    subject: str
    sender: str
    recipients: tuple[str, ...]
    size: int


#: A built digest is far smaller (its HTML part is kept to 90 KiB, images are links), and most
#: SMTP servers refuse messages over 10 to 25 MB: a larger file is not a digest to send.
MAX_EML_BYTES = 10 * 1024 * 1024


def read_eml(path: Path) -> tuple[bytes, EmailMessage]:
    """The file's bytes and its parsed message; SendError('usage') if it is not an email."""
    try:
        raw = read_regular_file(path, MAX_EML_BYTES)  # bounded, whatever the file became
    except FileTooLarge as exc:
        raise SendError(
            "usage", f"{path}: {exc.size:,} bytes; a built .eml is at most {MAX_EML_BYTES:,}"
        ) from None
    except UsageError as exc:
        raise SendError("usage", str(exc)) from None
    except OSError as exc:
        raise SendError("usage", f"{path}: {exc.strerror or exc}") from None
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    if not from_address(message):
        raise SendError("usage", f"{path}: not an email message (no From: header)")
    return raw, message


def from_address(message: EmailMessage) -> str:
    """The address of the message's one sender, or "" when its From: names none or several.

    Read by the email package's header parser, which takes a quoted or encoded name whole:
    ``parseaddr`` of the decoded header would cut ``Иванов, Пётр <a@b.c>`` at the comma.
    """
    header = message.get("From")
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    spec = addresses[0].addr_spec if len(addresses) == 1 else ""
    return spec if spec != "<>" else ""


def send_eml(
    path: Path,
    recipients: list[str],
    server: Server,
    *,
    dry_run: bool = False,
    user: str | None = None,
    password: str | None = None,
) -> Outcome:
    """Deliver the ``.eml`` at ``path`` to ``recipients``; raise :class:`SendError` on failure.

    The file is sent as built, with a ``To:`` header added when it has none (digest files are
    built once for every subscriber, so they carry no recipient).
    """
    raw, message = read_eml(path)
    for address in recipients:
        if not _plain_address(address):
            raise SendError(
                "usage", f"--to: expected an address like reader@example.org; got {address!r}"
            )
    if (user is None) != (password is None):
        raise SendError("usage", "set both SMTP_USER and SMTP_PASSWORD, or neither")
    sender = from_address(message)
    if not message.get("To"):
        raw = f"To: {', '.join(recipients)}\r\n".encode("ascii") + raw
    outcome = Outcome(str(message.get("Subject", "")), sender, tuple(recipients), len(raw))
    if dry_run:
        return outcome
    where = f"{server.host}:{server.port}"
    try:
        smtp = _connect(server)
    except ConnectionRefusedError:
        raise SendError("connect", f"cannot connect to {where}: connection refused") from None
    except socket.gaierror:
        raise SendError("connect", f"cannot connect to {where}: unknown host") from None
    except TimeoutError:
        raise SendError("connect", f"cannot connect to {where}: timed out") from None
    except ssl.SSLError as exc:
        raise SendError("smtp", f"TLS with {where} failed: {exc.reason or exc}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError("connect", f"cannot connect to {where}: {_reason(exc)}") from None
    try:
        with smtp:
            if server.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if user is not None and password is not None:
                _login(smtp, user, password)
            refused = smtp.sendmail(sender, recipients, raw)
    except smtplib.SMTPAuthenticationError as exc:
        raise SendError(
            "auth",
            f"authentication failed at {where}: {_reply(exc)} (check SMTP_USER and SMTP_PASSWORD)",
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        kind = "auth" if user is not None and "AUTH" in str(exc) else "smtp"
        raise SendError(kind, f"{where} does not support this: {exc}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendError("recipient", _refused(exc.recipients)) from None
    except smtplib.SMTPSenderRefused as exc:
        if exc.smtp_code == 530 and user is None:  # "authentication required"
            raise SendError(
                "auth",
                f"{where} requires authentication: {_reply(exc)} (set SMTP_USER and SMTP_PASSWORD)",
            ) from None
        raise SendError("smtp", f"sender {sender} rejected: {_reply(exc)}") from None
    except smtplib.SMTPDataError as exc:
        raise SendError("smtp", f"message rejected: {_reply(exc)}") from None
    except smtplib.SMTPResponseException as exc:
        raise SendError("smtp", f"{where} refused: {_reply(exc)}") from None
    except ssl.SSLError as exc:
        raise SendError("smtp", f"TLS with {where} failed: {exc.reason or exc}") from None
    except (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError) as exc:
        raise SendError("connect", f"connection to {where} lost: {_reason(exc)}") from None
    except smtplib.SMTPException as exc:
        raise SendError("smtp", f"{where}: {_reason(exc)}") from None
    if refused:  # some recipients got it, others were refused: still a failure to report
        raise SendError("recipient", _refused(refused) + "; sent to the others")
    return outcome


def _connect(server: Server) -> smtplib.SMTP:
    if server.security == "ssl":
        return smtplib.SMTP_SSL(
            server.host, server.port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
        )
    return smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """``smtp.login``, except that non-ASCII credentials go as UTF-8 AUTH PLAIN (RFC 4616).

    smtplib encodes credentials as ASCII and would crash on a Cyrillic password.
    """
    if (user + password).isascii():
        smtp.login(user, password)
        return
    smtp.ehlo_or_helo_if_needed()
    if "plain" not in smtp.esmtp_features.get("auth", "").lower().split():
        raise smtplib.SMTPNotSupportedError(
            "the server offers no AUTH PLAIN, which non-ASCII credentials need"
        )
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
    code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
    if code not in (235, 503):
        raise smtplib.SMTPAuthenticationError(code, reply)


def _plain_address(address: str) -> bool:
    parsed = getaddresses([address])
    return (
        len(parsed) == 1
        and parsed[0][1] == address
        and "@" in address
        and address.isascii()
        and not any(c.isspace() or c in '<>,"' for c in address)
    )


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"{exc.smtp_code} {' '.join(text.split())}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def _refused(refused: dict[str, tuple[int, bytes]]) -> str:
    parts = [
        f"{rcpt} ({code} {' '.join(msg.decode('utf-8', 'replace').split())})"
        for rcpt, (code, msg) in sorted(refused.items())
    ]
    return "recipient rejected: " + ", ".join(parts)
