"""``pipeline init [DIR]``: start a content repository of one's own, ready to build.

It writes a bank that builds cleanly (two example questions, every setting with a comment),
the JSON Schema the bank's first line points editors' IDEs at, a ``.gitignore`` for what
builds make, a pre-commit configuration running ``pipeline validate`` on every commit, and a
short README of the commands; ``--templates`` adds a copy of the packaged templates to
restyle. Like ``mkdocs new`` or ``pelican-quickstart``, it refuses a folder that already holds
files (only a fresh ``.git`` is allowed), unless ``--force``; even then no existing file is
replaced: those are kept and reported. Files are created exclusively, and if any cannot be
written, those already written are removed again: nothing is half-made.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from pipeline.build.contract import packaged_templates
from pipeline.build.out_folder import first_missing
from pipeline.commands.schema import schema_json
from pipeline.errors import UsageError

SOURCE = "questions.yaml"
SCHEMA = "questions.schema.json"
#: What a folder may hold and still count as empty: a repository just made with ``git init``.
ALLOWED = frozenset({".git"})

#: The pre-commit hook, as the repository's ``.pre-commit-hooks.yaml`` declares it (a test
#: keeps the two equal). A content repository runs the installed ``pipeline`` (``language:
#: system``): it needs no URL of this repository and checks with the version that builds.
HOOK = {
    "id": "validate-questions",
    "name": "validate question bank",
    "entry": "pipeline validate --source",
    "files": r"(^|/)questions\.yaml$",
    "pass_filenames": "true",
}

BANK = f"""\
# yaml-language-server: $schema={SCHEMA}
#
# The question bank: the single source of the Anki deck, the Telegram posts and the email
# digest. Check it with `pipeline validate`, build it with `pipeline build` (README.md).
# Every setting below is optional; a setting left out takes the default named beside it.

channel:
  name: Вопросы с собеседований         # shown in the deck, the posting desk and the digest
  url: https://t.me/your_channel        # linked from the digest and the posting desk

deck:
  slug: interview-questions             # file name: dist/anki/interview-questions.apkg

schedule:
  timezone: Europe/Moscow               # IANA name of the channel's time zone
  slots: [mon 10:00, thu 18:30]         # weekly posting times; questions fill them in order

newsletter:
  from: Вопросы с собеседований <digest@example.org>   # the digest's sender
  # base_url: https://example.org/media/   # where images are published, for the digest

questions:
  - id: overfitting                     # a lowercase slug; unique; never reuse one
    header: 🧠                          # optional emoji above the post
    question: Что такое переобучение и как его заметить?
    answer: |
      Модель **переобучена**, когда она запоминает обучающую выборку вместо общих
      закономерностей: ошибка на обучении низкая, а на новых данных высокая.

      Как заметить:

      - сравнить ошибку на обучающей и на отложенной выборке;
      - посмотреть на кривые обучения.
    grades: [junior]                    # any of junior, middle, senior
    tags: [basics]

  - id: l1-vs-l2
    question: Чем L1-регуляризация отличается от L2?
    answer: |
      L1 добавляет к функции потерь сумму модулей весов, а L2 — сумму их квадратов.
      Поэтому L1 зануляет часть весов и отбирает признаки, а L2 уменьшает все веса понемногу.

      ```python
      from sklearn.linear_model import Lasso, Ridge
      ```
    grades: [junior, middle]
    tags: [regularization]
    quiz:                               # optional: a Telegram quiz poll after the post
      question: Какая регуляризация зануляет часть весов?
      options: [L1, L2]
      correct: 1                        # counting from 1
      explanation: Модули весов дают разреженное решение.
"""

GITIGNORE = """\
# made by `pipeline build`; rebuilt from questions.yaml at any time
dist/
.cache/
"""

PRE_COMMIT = f"""\
# pre-commit (https://pre-commit.com): run `pre-commit install` once, then every commit that
# changes questions.yaml is validated first. It runs the `pipeline` installed on your PATH.
repos:
  - repo: local
    hooks:
      - id: {HOOK["id"]}
        name: {HOOK["name"]}
        entry: {HOOK["entry"]}
        language: system
        files: {HOOK["files"]}
        pass_filenames: {HOOK["pass_filenames"]}
"""

README = """\
# {name}

The channel's interview questions: `questions.yaml` is the one source of the Anki deck, the
Telegram posts and the weekly email digest.

```sh
pipeline validate              # check questions.yaml: every problem with its line
pipeline new --grade middle    # append a question skeleton with a fresh id, to fill in
pipeline build                 # build dist/: the deck, the posts with their desk, the digest
pipeline stats                 # questions per grade and per tag
```

Commit `questions.yaml` and `questions.lock.json` (the build writes the latter: it keeps
subscribers' Anki progress across updates and each question's posting slot); `dist/` and
`.cache/` are rebuilt at any time and not committed.

- **Editor support.** The first line of `questions.yaml` points VS Code (YAML extension),
  JetBrains IDEs and other yaml-language-server clients at `questions.schema.json`: keys are
  completed and mistakes underlined as you type. After upgrading the pipeline, refresh it:
  `pipeline schema --output questions.schema.json`.
- **Checks on commit.** `pip install pre-commit`, then `pre-commit install`.
- **Your own design.** A `templates/` folder here (`anki/`, `telegram/`, `digest/`) replaces
  the pipeline's templates of the same folder; `pipeline init --templates` copies them here
  to start from.
"""


def init_project(
    folder: Path, *, templates: bool = False, force: bool = False
) -> tuple[list[str], list[str]]:
    """Write a new content repository into ``folder``; return the paths written and those
    kept because they were there already (``--force``), relative to ``folder``."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, not a folder")
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if not force and set(present) - ALLOWED:
        more = f" and {len(present) - 3} more" if len(present) > 3 else ""
        shown = ", ".join(present[:3]) + more
        raise UsageError(
            f"{folder}/ is not empty ({shown}); choose a new or empty folder, "
            "or add --force to add the files that are missing (none is replaced)"
        )
    files = {
        SOURCE: BANK,
        SCHEMA: schema_json(),
        ".gitignore": GITIGNORE,
        ".pre-commit-config.yaml": PRE_COMMIT,
        "README.md": README.format(name=folder.resolve().name or "Interview questions"),
    }
    written: list[str] = []
    kept: list[str] = []
    with _undone_on_failure(folder, written):
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (written if _create(folder / name, text.encode("utf-8")) else kept).append(name)
        if templates:
            kept += _copy_templates(folder / "templates", written)
    return written, kept


def _create(path: Path, data: bytes) -> bool:
    """Write a new file; False (and nothing written) when one is there already."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except FileExistsError:
        return False
    try:
        with open(fd, "wb") as handle:
            handle.write(data)
    except BaseException:
        path.unlink(missing_ok=True)  # made here: never left half written
        raise
    return True


def _copy_templates(target: Path, written: list[str]) -> list[str]:
    """Copy each packaged templates folder that ``target`` does not have yet; each one copied
    goes into ``written`` (as ``templates/anki``) before it is made. Returns those kept."""
    kept = []
    for folder in sorted(packaged_templates().iterdir()):
        if not folder.is_dir() or folder.name.startswith((".", "__")):
            continue
        name = f"{target.name}/{folder.name}"
        if (target / folder.name).exists():
            kept.append(name)
            continue
        written.append(name)
        shutil.copytree(folder, target / folder.name, ignore=shutil.ignore_patterns(".*", "__*"))
    return kept


@contextmanager
def _undone_on_failure(folder: Path, written: list[str]) -> Iterator[None]:
    """On any failure, remove what was written (and the folders this made, ``folder``'s
    missing parents too)."""
    made = first_missing(folder)
    try:
        yield
    except BaseException:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        else:
            for name in written:
                path = folder / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            with suppress(OSError):
                (folder / "templates").rmdir()  # made for the copies, and empty again
        raise
