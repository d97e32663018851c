"""The digest's templates (``templates/digest/``) and what their output must survive.

:func:`load_templates` gives the Jinja environment of a build with ``email.html``,
``email.txt`` and the styles css-inline puts into every element (``style.css``,
``code.css``); ``extras.css`` (mobile and dark mode only) stays in a ``<style>`` block, which
mail clients ignore beyond :data:`STYLE_BUDGET`. A template that fails becomes a located
problem (:func:`pipeline.errors.template_problem`). :func:`shield` keeps content from being
run as the newsletter service's own template when the service sends the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    select_autoescape,
)

#: The digest's folder under ``--templates``.
TEMPLATE_DIR = "digest"
#: Stylesheets inlined into every element.
INLINED_CSS = ("style.css", "code.css")
#: Mail clients ignore a ``<style>`` block beyond this size (Gmail: 16 KB).
STYLE_BUDGET = 16 * 1024

#: Unsubscribe link per newsletter service: the service replaces its placeholder when sending.
UNSUBSCRIBE_PLACEHOLDERS = {
    "listmonk": "{{ UnsubscribeURL }}",
    "mailchimp": "*|UNSUB|*",
    "buttondown": "{{ unsubscribe_url }}",
}
#: Template openers of the newsletter services (Go/Django-style braces, Mailchimp merge tags).
_SERVICE_SYNTAX = re.compile(r"\{[{%#]|\*\|")
#: In the text part: a URL (its openers are percent-encoded: a word joiner would break the
#: link, and %7B is the same URL to every server) or an opener in the text.
_TEXT_TOKEN = re.compile(r"(?P<url>(?:https?|mailto):[^\s<>]+)|\{[{%#]|\*\|")
_URL_SAFE = {"{": "%7B", "|": "%7C"}


@dataclass(frozen=True, slots=True)
class Templates:
    env: Environment
    html: Template
    text: Template
    css: str


def load_templates(folder: Path) -> Templates:
    """The digest's Jinja environment (one per build) and its templates and styles."""
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    css = "\n".join(template_source(env, name) for name in INLINED_CSS)
    return Templates(env, env.get_template("email.html"), env.get_template("email.txt"), css)


def template_source(env: Environment, name: str) -> str:
    """The text of a file in the template folder (a stylesheet)."""
    assert env.loader is not None
    return env.loader.get_source(env, name)[0]


def shield(body: str, service: str, *, html: bool) -> str:
    """Keep content from being run as the newsletter ``service``'s own template.

    listmonk, Buttondown and Mailchimp treat the message as a template when they send it:
    ``{{ x }}``, ``{% … %}`` or ``*|EMAIL|*`` in an answer would be evaluated. Outside the
    one unsubscribe placeholder, their openers become entities (HTML) or get an invisible
    word joiner (text), so the literal text reaches the reader.
    """
    placeholder = UNSUBSCRIBE_PLACEHOLDERS.get(service)
    if placeholder is None:
        return body
    pieces = body.split(placeholder)
    if html:
        return placeholder.join(
            _SERVICE_SYNTAX.sub(lambda m: "".join(f"&#{ord(c)};" for c in m.group(0)), p)
            for p in pieces
        )
    return placeholder.join(_TEXT_TOKEN.sub(_shield_text, p) for p in pieces)


def _shield_text(m: re.Match[str]) -> str:
    if m.group("url") is None:
        return m.group(0)[0] + "\u2060" + m.group(0)[1:]
    return _SERVICE_SYNTAX.sub(
        lambda o: "".join(_URL_SAFE.get(c, c) for c in o.group(0)), m.group(0)
    )
