"""``pipeline send``: a built digest goes to a real SMTP server (aiosmtpd) on 127.0.0.1.

Every test runs the real command in a subprocess, as a user would, and the server parses what
arrived. Failures must be one line on stderr with their own exit code (see
pipeline/deliver/smtp.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from pipeline.deliver.smtp import EXIT_CODES
from tests.support.banks import ROOT, SEED
from tests.support.digest import files_of, render_digest

# Plain-connection AUTH is what the credential tests exercise on purpose.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
    pytest.mark.slow,  # a real SMTP server and the real command per case
]

USER, PASSWORD = "editor", "s3cret-Пароль"


class Inbox:
    """An aiosmtpd handler that keeps what it receives and refuses ``nobody@…``."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 <nobody@example.org>: no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int, dict[str, Any]]]:
    """Start a server on a free port; the test may restart it with other options."""
    inbox = Inbox()
    state: dict[str, Any] = {"controller": None}

    def start(**kwargs: Any) -> int:
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        state["controller"] = controller
        return port

    state["start"] = start
    port = start()
    try:
        yield inbox, port, state
    finally:
        state["controller"].stop()


def restart(state: dict[str, Any], **kwargs: Any) -> int:
    state["controller"].stop()
    return int(state["start"](**kwargs))


@pytest.fixture(scope="module")
def eml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed's week 2026-W52 digest, built by the renderer."""
    path = tmp_path_factory.mktemp("digest") / "2026-W52.eml"
    path.write_bytes(files_of(render_digest(SEED))["digest/2026-W52.eml"])
    return path


def send(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m pipeline send ARGS`` with only the SMTP_* variables we pass."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_")}
    full = {**base, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "send", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
    )


def parse(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def test_digest_arrives_whole(smtp_server: tuple[Inbox, int, dict[str, Any]], eml: Path) -> None:
    inbox, port, _ = smtp_server
    result = send(str(eml), "--to", "reader@example.org", "--smtp", f"127.0.0.1:{port}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sent 2026-W52.eml (")
    assert result.stdout.rstrip().endswith(f"to reader@example.org via 127.0.0.1:{port}")
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "digest@example.org"
    assert envelope.rcpt_tos == ["reader@example.org"]
    assert isinstance(envelope.original_content, bytes)
    arrived = envelope.original_content
    # The file travels as built; only the To: header is added in front.
    assert arrived.rstrip(b"\r\n") == (b"To: reader@example.org\r\n" + eml.read_bytes()).rstrip(
        b"\r\n"
    )
    message = parse(arrived)
    built = parse(eml.read_bytes())
    assert message["To"] == "reader@example.org"
    assert (
        message["Subject"]
        == "Дайджест вопросов с собеседований по Data Science: 21–27 декабря 2026"
    )
    assert message["From"].addresses[0].display_name == "Библиотека собеса по Data Science"
    assert message["Message-ID"] == built["Message-ID"]
    assert message["Date"] == built["Date"]
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    text, page = plain.get_content(), html.get_content()
    assert "Как работает KNN" in text and "def diagonal_sum" in text
    assert '<html lang="ru"' in page and "Как работает KNN" in page


def test_one_click_unsubscribe_header_survives_transport(
    smtp_server: tuple[Inbox, int, dict[str, Any]], tmp_path: Path, write_source: Any
) -> None:
    inbox, port, _ = smtp_server
    url = (
        "https://lists.example.org/unsubscribe/a-rather-long-token-0123456789abcdef"
        "0123456789abcdef?list=digest"
    )
    source = write_source(
        SEED.read_text(encoding="utf-8").replace(
            "newsletter:\n", f"newsletter:\n  unsubscribe_url: {url}\n"
        )
    )
    shutil.copy(SEED.with_name("questions.lock.json"), source.with_name("questions.lock.json"))
    path = tmp_path / "w49.eml"
    path.write_bytes(files_of(render_digest(source))["digest/2026-W49.eml"])
    result = send(str(path), "--to", "reader@example.org", "--smtp", f"127.0.0.1:{port}")
    assert result.returncode == 0, result.stderr
    assert isinstance(inbox.envelopes[0].original_content, bytes)
    raw = inbox.envelopes[0].original_content
    assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in raw  # one line, not =?utf-8?…
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw


def test_login_with_credentials_from_the_environment(
    smtp_server: tuple[Inbox, int, dict[str, Any]], eml: Path
) -> None:
    inbox, _, state = smtp_server
    port = restart(state, authenticator=authenticate, auth_required=True, auth_require_tls=False)
    result = send(
        str(eml),
        "--to",
        "reader@example.org",
        "--smtp",
        f"127.0.0.1:{port}",
        env={"SMTP_USER": USER, "SMTP_PASSWORD": PASSWORD},
    )
    assert result.returncode == 0, result.stderr
    assert "without TLS" in result.stderr  # a plain connection with credentials is flagged
    assert len(inbox.envelopes) == 1
    assert PASSWORD not in result.stdout + result.stderr


def test_failed_authentication(smtp_server: tuple[Inbox, int, dict[str, Any]], eml: Path) -> None:
    inbox, _, state = smtp_server
    port = restart(state, authenticator=authenticate, auth_required=True, auth_require_tls=False)
    wrong = "wrong-Пароль-42"
    result = send(
        str(eml),
        "--to",
        "reader@example.org",
        "--smtp",
        f"127.0.0.1:{port}",
        env={"SMTP_USER": USER, "SMTP_PASSWORD": wrong},
    )
    assert result.returncode == EXIT_CODES["auth"] == 4
    [line] = [x for x in result.stderr.splitlines() if "error" in x]
    assert line.startswith(f"pipeline: error: authentication failed at 127.0.0.1:{port}: 535")
    assert line.endswith("(check SMTP_USER and SMTP_PASSWORD)")
    assert wrong not in result.stdout + result.stderr and USER not in result.stderr
    assert "Traceback" not in result.stderr
    assert inbox.envelopes == []


def test_server_requiring_login_without_credentials(
    smtp_server: tuple[Inbox, int, dict[str, Any]], eml: Path
) -> None:
    _, _, state = smtp_server
    port = restart(state, authenticator=authenticate, auth_required=True, auth_require_tls=False)
    result = send(str(eml), "--to", "reader@example.org", "--smtp", f"127.0.0.1:{port}")
    assert result.returncode == EXIT_CODES["auth"]
    assert result.stderr.startswith(
        f"pipeline: error: 127.0.0.1:{port} requires authentication: 530 "
    )
    assert result.stderr.endswith("(set SMTP_USER and SMTP_PASSWORD)\n")


def test_refused_connection(eml: Path) -> None:
    port = free_port()  # nothing listens there
    result = send(str(eml), "--to", "reader@example.org", "--smtp", f"127.0.0.1:{port}")
    assert result.returncode == EXIT_CODES["connect"] == 3
    assert result.stderr == (
        f"pipeline: error: cannot connect to 127.0.0.1:{port}: connection refused\n"
    )


def test_rejected_recipient(smtp_server: tuple[Inbox, int, dict[str, Any]], eml: Path) -> None:
    inbox, port, _ = smtp_server
    result = send(str(eml), "--to", "nobody@example.org", "--smtp", f"127.0.0.1:{port}")
    assert result.returncode == EXIT_CODES["recipient"] == 5
    assert result.stderr == (
        "pipeline: error: recipient rejected: nobody@example.org (550 "
        "5.1.1 <nobody@example.org>: no such mailbox)\n"
    )
    assert inbox.envelopes == []


def test_one_of_two_recipients_rejected(
    smtp_server: tuple[Inbox, int, dict[str, Any]], eml: Path
) -> None:
    inbox, port, _ = smtp_server
    result = send(
        str(eml),
        "--to",
        "reader@example.org",
        "--to",
        "nobody@example.org",
        "--smtp",
        f"127.0.0.1:{port}",
    )
    assert result.returncode == 5
    assert result.stderr.rstrip().endswith("; sent to the others")
    assert [e.rcpt_tos for e in inbox.envelopes] == [["reader@example.org"]]


def test_dry_run_connects_to_nothing(eml: Path) -> None:
    port = free_port()
    result = send(
        str(eml), "--to", "reader@example.org", "--smtp", f"127.0.0.1:{port}", "--dry-run"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("would send 2026-W52.eml (")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.eml", "--to", "a@example.org"], "missing.eml: No such file or directory"),
        (
            ["{eml}", "--to", "not an address"],
            "--to: expected an address like reader@example.org; got 'not an address'",
        ),
        (
            ["{eml}", "--to", "a@example.org", "--smtp", "host:port"],
            "--smtp: expected HOST:PORT like smtp.example.org:587; got 'host:port'",
        ),
        (
            ["{readme}", "--to", "a@example.org"],
            "README.md: not an email message (no From: header)",
        ),
    ],
)
def test_usage_errors(eml: Path, args: list[str], message: str) -> None:
    args = [a.format(eml=eml, readme=ROOT / "README.md") for a in args]
    result = send(*args, "--dry-run")
    assert result.returncode == EXIT_CODES["usage"] == 2
    assert result.stderr.startswith("pipeline: error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_half_set_credentials(eml: Path) -> None:
    result = send(str(eml), "--to", "a@example.org", "--dry-run", env={"SMTP_USER": USER})
    assert result.returncode == 2
    assert result.stderr == ("pipeline: error: set both SMTP_USER and SMTP_PASSWORD, or neither\n")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the client trusts it via SSL_CERT_FILE)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.mark.slow
def test_starttls_with_login(
    smtp_server: tuple[Inbox, int, dict[str, Any]], eml: Path, certificate: tuple[Path, Path]
) -> None:
    inbox, _, state = smtp_server
    port = restart(
        state,
        tls_context=_server_tls(certificate),
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    result = send(
        str(eml),
        "--to",
        "reader@example.org",
        "--smtp",
        f"127.0.0.1:{port}",
        "--starttls",
        env={"SMTP_USER": USER, "SMTP_PASSWORD": PASSWORD, "SSL_CERT_FILE": str(certificate[0])},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no plain-text credentials warning
    assert result.stdout.rstrip().endswith("(starttls)")
    assert len(inbox.envelopes) == 1


@pytest.mark.slow
def test_untrusted_certificate_is_an_smtp_error(
    smtp_server: tuple[Inbox, int, dict[str, Any]], eml: Path, certificate: tuple[Path, Path]
) -> None:
    _, _, state = smtp_server
    port = restart(state, tls_context=_server_tls(certificate), require_starttls=True)
    result = send(
        str(eml), "--to", "reader@example.org", "--smtp", f"127.0.0.1:{port}", "--starttls"
    )
    assert result.returncode == EXIT_CODES["smtp"]
    assert result.stderr.startswith(
        f"pipeline: error: TLS with 127.0.0.1:{port} failed: CERTIFICATE_VERIFY_FAILED"
    )
