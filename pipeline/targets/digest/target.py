"""The weekly email digest as a build target: ``dist/digest/<YYYY-Www>.html``, ``.txt``, ``.eml``.

One message per ISO week of the schedule that has questions (``--until`` cuts the schedule,
``--week`` picks one week). The registry's entry points are :func:`render` (every week's
files), :func:`fragment` (one question's share of any message, cached by the build; made in
:mod:`~pipeline.targets.digest.views`) and :func:`context` (what fragments read of the build
besides the question, templates, settings and code; :mod:`~pipeline.targets.digest.keys`).

The rest of the package: :mod:`~pipeline.targets.digest.weeks` (which weeks are made, known
or made by workers), :mod:`~pipeline.targets.digest.compose` (a week's messages and the size
budget), :mod:`~pipeline.targets.digest.templates`, :mod:`~pipeline.targets.digest.message`
(the ``.eml``), and the writers of the answers: :mod:`~pipeline.targets.digest.html`,
:mod:`~pipeline.targets.digest.text`, :mod:`~pipeline.targets.digest.math`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from jinja2 import TemplateError

from pipeline.build.contract import RenderContext, Rendered
from pipeline.errors import Problem, template_problem
from pipeline.source.model import Question
from pipeline.targets.digest.compose import Digest
from pipeline.targets.digest.html import Urls
from pipeline.targets.digest.keys import context
from pipeline.targets.digest.templates import TEMPLATE_DIR, load_templates
from pipeline.targets.digest.views import WEEK, fragment
from pipeline.targets.digest.weeks import Weeks

__all__ = ["context", "fragment", "render"]


def render(ctx: RenderContext) -> Rendered:
    """Every week's digest (or the ``--week`` one) as html, txt and eml files.

    Files are yielded week by week. A template that fails while rendering adds an error and
    ends the files there (the build then stops and keeps the previous output).
    """
    out = Rendered()
    folder = ctx.options.template_folder(TEMPLATE_DIR)
    try:
        templates = load_templates(folder)
    except TemplateError as exc:
        searched = ctx.options.template_search(TEMPLATE_DIR)
        out.warnings.append(template_problem(exc, folder, searched))
        return out
    weeks = ctx.schedule.until(ctx.options.until).weeks()
    if ctx.options.week:
        chosen = _choose_week(ctx.options.week, weeks)
        if isinstance(chosen, Problem):
            out.warnings.append(chosen)
            return out
        weeks = {ctx.options.week: chosen}
    settings = ctx.bank.settings
    urls = Urls(
        settings.newsletter.base_url,
        ctx.bank.content_dir,
        (img for q in ctx.bank.questions for img in q.images),
    )
    slots = {q.id: at for q, at in ctx.schedule.items}
    digest = Digest(ctx, templates, urls, slots)
    out.files = Weeks(digest).files(weeks, out)
    return out


def _choose_week(
    week: str, weeks: Mapping[str, tuple[Question, ...]]
) -> tuple[Question, ...] | Problem:
    m = WEEK.match(week)
    valid = False
    if m:
        try:
            date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
            valid = True
        except ValueError:
            pass
    if not valid:
        return Problem(None, "--week", f"expected an ISO week like 2026-W49; got {week!r}")
    if week not in weeks:
        ordered = sorted(weeks)
        known = f"{ordered[0]} … {ordered[-1]}" if ordered else "none"
        return Problem(
            None, "--week", f"no questions are scheduled in {week} (weeks with questions: {known})"
        )
    return weeks[week]
