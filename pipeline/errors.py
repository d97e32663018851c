"""Located problems and the one exception the library raises for content problems.

Every problem carries the file, line and column of the offending value and the key path inside
the document, so the editor sees ``content/questions.yaml:42:5: questions[3].grades[1]: ...``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path


@dataclass(frozen=True, slots=True, order=True)
class Pos:
    """A place in a source file; line and column are 1-based, as editors show them."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong (or worth a warning) in the source or in what it renders to."""

    pos: Pos | None
    path: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.pos}: " if self.pos else ""
        what = f"{self.path}: " if self.path else ""
        tag = "warning: " if self.severity is Severity.WARNING else ""
        return f"{where}{tag}{what}{self.message}"


class PipelineError(Exception):
    """Content problems that stop a build; the CLI prints them and exits 1, no traceback."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems, key=_problem_order)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[type[PipelineError], tuple[list[Problem]]]:
        # Raised in a worker process, it must arrive in the parent with its problems.
        return (PipelineError, (self.problems,))


class UsageError(Exception):
    """A wrong command-line request (missing file, bad flag value): exit 2."""


def _problem_order(problem: Problem) -> tuple[str, int, int]:
    if problem.pos is None:
        return ("", 0, 0)
    return (problem.pos.file, problem.pos.line, problem.pos.col)


def fail(pos: Pos | None, path: str, message: str) -> PipelineError:
    """Shorthand for a build-stopping error with a single problem."""
    return PipelineError([Problem(pos, path, message)])


def template_problem(exc: Exception, folder: Path, searched: str = "") -> Problem:
    """A Jinja template of ``folder`` that failed to load or render, as a located error: a
    syntax error at its line, a missing template where it was looked for (``searched``:
    ``BuildOptions.template_search``), anything else at the folder. One wording for every
    output whose templates the editor may edit."""
    from jinja2 import TemplateNotFound, TemplateSyntaxError  # only when a template failed

    if isinstance(exc, TemplateSyntaxError):
        where = exc.filename or str(folder / (exc.name or "?"))
        return Problem(Pos(where, exc.lineno or 1, 1), "", f"template error: {exc.message}")
    if isinstance(exc, TemplateNotFound):
        looked = f" ({searched})" if searched else ""
        return Problem(Pos(str(folder / str(exc.name)), 1, 1), "", f"template not found{looked}")
    return Problem(Pos(str(folder), 1, 1), "", f"template error: {exc}")
