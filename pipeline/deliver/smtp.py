"""``pipeline send``'s library: one built ``.eml`` delivered over SMTP with :mod:`smtplib`.

:func:`send_eml` sends the file as built (adding a ``To:`` header when it has none);
credentials come from the caller (``SMTP_USER`` and ``SMTP_PASSWORD`` in
:mod:`pipeline.deliver.cli`) and are never printed. Failures raise :class:`SendError`, whose
``code`` is the command's exit status (see :data:`EXIT_CODES`). Nothing here prints.
"""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path

from pipeline.errors import UsageError
from pipeline.source.read import FileTooLarge, read_regular_file

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
