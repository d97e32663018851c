"""The sender's mailbox: ``newsletter.from`` read as the address the digest's ``From`` shows.

:func:`sender_address` is both the check validation runs on the setting (so a bank whose
sender no mail server would accept is refused at ``newsletter.from``) and the reading the
digest writes its ``From`` and ``Message-ID`` headers with, so the two can never disagree.
"""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.utils import unquote
from functools import lru_cache

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
