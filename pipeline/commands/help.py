"""What ``pipeline --help`` and ``pipeline COMMAND --help`` tell an editor: what each command
is for and examples to copy.

The texts are kept apart from the argument definitions in :mod:`pipeline.cli` so they read as
one page. They are written for ``argparse.RawDescriptionHelpFormatter``: line breaks and
indentation are printed as they are here. ``import-telegram`` and ``send`` keep theirs beside
their options (:mod:`pipeline.importer.cli`, :mod:`pipeline.deliver.cli`).
"""

from __future__ import annotations

DESCRIPTION = """\
Turn the question bank (questions.yaml here, else content/questions.yaml; or --source) into
everything the channel publishes: the Anki deck, the Telegram posts with their posting desk and
calendar, and the weekly email digest, all in dist/ beside the bank."""

EPILOG = """\
examples:
  pipeline init my-bank            start a new bank in my-bank/ (then: cd my-bank)
  pipeline validate                check the bank and list every problem
  pipeline build                   build the deck, the posts and the digest into dist/
  pipeline serve --open            preview every output of the question being written
  pipeline new --grade middle      add a question skeleton to fill in
  pipeline stats                   count the questions per grade and per tag
  pipeline send dist/digest/2026-W49.eml --to reader@example.org --dry-run
  pipeline COMMAND --help          one command's options, with examples

Exit codes: 0 done; 1 problems in the content, each shown as file:line:col: what is wrong;
2 a wrong option or a file that cannot be read or written."""

#: Examples (and what to know) shown at the end of each command's ``--help``.
EPILOGS = {
    "init": """\
examples:
  pipeline init my-bank                   a new bank in my-bank/, then: cd my-bank
  pipeline init --templates               here, with the default templates to restyle""",
    "build": """\
examples:
  pipeline build                          everything into dist/ beside the bank
  pipeline build -v                       also say which templates folders were used
  pipeline build --strict                 stop on warnings too (cut posts, lost words)
  pipeline build --week 2026-W49          only that week's digest email
  pipeline build --until 2026-12-31       deck and digest: questions published by then
  pipeline build --offline --no-cache     fetch nothing; render every question again

A failed build writes nothing: dist/ keeps the last good build. Commit questions.lock.json
(beside the bank) after building: it keeps the deck's history and the schedule.""",
    "validate": """\
examples:
  pipeline validate
  pipeline validate --source drafts/questions.yaml

Every problem is listed at once as file:line:col: key: what is wrong, then a summary such as
"questions.yaml: 42 questions, 0 errors, 3 warnings". Nothing is written.""",
    "stats": """\
examples:
  pipeline stats
  pipeline stats --source drafts/questions.yaml""",
    "new": """\
examples:
  pipeline new                            id new-question-N, grade junior
  pipeline new --id knn-scaling --grade middle --grade senior

The skeleton goes after the last question, laid out like the others; the command prints its
line. Fill in its question and answer: validate and build flag the TODO left in them.""",
    "serve": """\
examples:
  pipeline serve                          preview on http://127.0.0.1:8000/
  pipeline serve --open --port 8765       open it in the browser, on another port

Save the bank (or a template, CSS or image) and the page follows; Ctrl-C stops it.""",
    "schema": """\
examples:
  pipeline schema
  pipeline schema --output schema/questions.schema.json

The first line of questions.yaml points editors (VS Code, JetBrains) at that file,
so they complete keys and underline mistakes as you type.""",
}
