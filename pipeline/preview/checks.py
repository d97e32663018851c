"""The templates the preview renders with, checked as the build checks them.

A template the build would refuse (an unknown card field, a Jinja syntax error in the post
or the email) stops the build; the preview then keeps its last good panes and shows the
located error instead (:mod:`pipeline.preview.session`). The verdict is kept per content of
the templates folder, so a rebuild after an edit of the source does not parse them again.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import TemplateError

from pipeline.build.contract import BuildOptions
from pipeline.build.keys import folder_digest
from pipeline.errors import PipelineError, Problem, template_problem
from pipeline.targets.anki.notetype import load_card_templates, template_environment
from pipeline.targets.digest.templates import TEMPLATE_DIR, load_templates
from pipeline.targets.telegram.target import FOLDER as TELEGRAM_FOLDER
from pipeline.targets.telegram.target import template_problems as telegram_problems


def template_problems(options: BuildOptions) -> list[Problem]:
    """Every problem of the deck's, the post's and the email's templates, each folder found
    as the build finds it (:meth:`~pipeline.build.contract.BuildOptions.template_folder`)."""
    folders = tuple(
        options.template_folder(name) for name in ("anki", TELEGRAM_FOLDER, TEMPLATE_DIR)
    )
    return list(_problems(folders, tuple(folder_digest(f) for f in folders)))


@lru_cache(maxsize=8)
def _problems(folders: tuple[Path, ...], digests: tuple[str, ...]) -> tuple[Problem, ...]:
    """The problems of the templates as they are (``digests``: the folders' content)."""
    anki, telegram, digest = folders
    found: list[Problem] = []
    try:
        load_card_templates(template_environment(anki), anki)
    except PipelineError as exc:
        found.extend(exc.problems)
    found.extend(telegram_problems(telegram))
    try:
        load_templates(digest)
    except TemplateError as exc:
        found.append(template_problem(exc, digest))
    return tuple(found)
