"""The email package's own way of writing the digest's ``.eml``: the reference twins.

:mod:`pipeline.targets.digest.message` writes messages and subject lines directly, for speed;
what it writes must equal, byte for byte, what :class:`~email.message.EmailMessage` and the
header policy make of the same letter. These are those slow writers.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage

from pipeline.source.mailbox import sender_address
from pipeline.targets.digest.message import (
    POLICY,
    Letter,
    content_hash,
    date_value,
    message_id,
)


def build_message_with_email(letter: Letter) -> bytes:
    """:func:`~pipeline.targets.digest.message.build_message` through the email package."""
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


def subject_with_email(subject: str) -> bytes:
    """The ``Subject:`` line as the email package folds it under the message's policy
    (what :func:`~pipeline.targets.digest.message.subject_header` writes directly)."""
    return POLICY.fold_binary("Subject", POLICY.header_store_parse("Subject", subject)[1])
