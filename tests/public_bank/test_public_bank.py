"""A real public bank, written by people for people: alexeygrigorev/data-science-interviews.

``tests/public_bank/convert.py`` turns that repository's ``theory.md`` and ``technical.md``
(CC BY 4.0; copies committed in ``tests/fixtures/public/data-science-interviews/`` with their
images and ``LICENSE-AND-ATTRIBUTION.md``) into our source format. These tests check that the
committed ``questions.yaml`` is exactly what the script makes of the committed copies, and that
the bank validates and builds into outputs the real readers accept: Anki's backend imports every
note, TDLib parses every post, Python's email parser reads every digest.

They check acceptance, not fidelity: how faithfully lists, math and raw HTML come through is
for other tests. Builds run at the suite's pinned time (``tests.conftest.NOW``), never the clock.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.build.run import BuildReport, check
from tests.support.banks import ROOT, build_into, run_cli

PUBLIC = ROOT / "tests" / "fixtures" / "public" / "data-science-interviews"
CONVERT = ROOT / "tests" / "public_bank" / "convert.py"
#: What the script reports for the committed copies (update with them).
CONVERTED, SKIPPED = 192, 14
DECK = "anki/data-science-interviews.apkg"


def committed_ids() -> list[str]:
    data = yaml.safe_load((PUBLIC / "questions.yaml").read_text(encoding="utf-8"))
    return [q["id"] for q in data["questions"]]


def copy_bank(dest: Path) -> Path:
    """The fixture folder copied to ``dest``: a build writes its lock file next to the source."""
    shutil.copytree(PUBLIC, dest, ignore=shutil.ignore_patterns("questions.lock.json"))
    return dest / "questions.yaml"


# --- the fixture is what the script makes -----------------------------------------------------


def test_converter_reproduces_the_committed_bank_byte_for_byte(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(PUBLIC, content, ignore=shutil.ignore_patterns("questions*"))
    out = content / "questions.yaml"
    # Default inputs: the committed copies of theory.md and technical.md.
    result = subprocess.run(
        [sys.executable, str(CONVERT), "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == (PUBLIC / "questions.yaml").read_bytes(), (
        "the committed questions.yaml differs from what tests/public_bank/convert.py writes; "
        "run the script again"
    )
    assert f"converted {CONVERTED} questions" in result.stdout
    assert f"skipped {SKIPPED} without an answer" in result.stdout


def test_converter_refuses_to_write_without_the_images(tmp_path: Path) -> None:
    out = tmp_path / "questions.yaml"
    result = subprocess.run(
        [sys.executable, str(CONVERT), "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "missing image" in result.stderr and "img/sql_4_example.png" in result.stderr
    assert not out.exists()


def test_every_image_the_markdown_refers_to_is_committed() -> None:
    sources = "\n".join(
        (PUBLIC / name).read_text(encoding="utf-8") for name in ("theory.md", "technical.md")
    )
    # Markdown images ![alt](img/a.png) and raw HTML <img src="img/a.png" />.
    referenced = set(re.findall(r"""(?:\]\(|src=["'])(img/[^)"'\s]+)""", sources))
    assert len(referenced) == 19, sorted(referenced)
    for name in sorted(referenced):
        image = PUBLIC / name
        assert image.is_file(), image
        assert image.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), f"{image} is not a PNG"


def test_attribution_names_source_commit_and_licence() -> None:
    text = (PUBLIC / "LICENSE-AND-ATTRIBUTION.md").read_text(encoding="utf-8")
    for needed in (
        "https://github.com/alexeygrigorev/data-science-interviews",
        "Alexey Grigorev",
        "CC BY 4.0",
        "https://creativecommons.org/licenses/by/4.0/",
        "tests/public_bank/convert.py",
    ):
        assert needed in text, needed


# --- the bank validates -----------------------------------------------------------------------


def test_public_bank_validates_on_the_command_line(tmp_path: Path) -> None:
    source = copy_bank(tmp_path / "content")
    result = run_cli("validate", "--source", str(source))
    assert result.returncode == 0, result.stderr
    assert f"{CONVERTED} questions, 0 errors, " in result.stdout


def test_public_bank_validates_with_every_question() -> None:
    bank, _warnings = check(PUBLIC / "questions.yaml")  # validating writes nothing
    assert [q.id for q in bank.questions] == committed_ids()
    assert len(bank.questions) == CONVERTED
    assert {q.primary_grade for q in bank.questions} == {"junior", "middle", "senior"}


# --- the build's outputs, read by the real readers --------------------------------------------


@dataclass(frozen=True)
class Built:
    report: BuildReport
    source: Path
    dist: Path
    ids: list[str]
    manifest: list[dict[str, Any]]

    def outputs(self, kind: str) -> list[dict[str, Any]]:
        found = [entry for entry in self.manifest if entry["kind"] == kind]
        assert found, f"the build wrote no {kind}"
        return found

    def covered(self, kind: str) -> set[str]:
        return {qid for entry in self.outputs(kind) for qid in entry.get("ids", ())}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The public bank built once for this module (at the suite's pinned time)."""
    root = tmp_path_factory.mktemp("public-bank")
    source = copy_bank(root / "content")
    dist = root / "dist"
    report = build_into(source, dist)  # raises PipelineError if the build refuses the bank
    manifest = json.loads((dist / "manifest.json").read_text(encoding="utf-8"))["outputs"]
    return Built(report, source, dist, committed_ids(), manifest)


@pytest.mark.slow
def test_build_writes_every_output_for_every_question(built: Built) -> None:
    assert built.report.questions == len(built.ids) == CONVERTED
    for kind in ("anki-deck", "telegram-post-html", "telegram-post-text", "digest-eml"):
        assert built.covered(kind) == set(built.ids), kind


@pytest.mark.slow
def test_anki_backend_imports_every_note(built: Built, tmp_path: Path) -> None:
    from tests.support.anki_backend import dump, import_package, new_collection

    col = new_collection(tmp_path / "anki")
    try:
        log = import_package(col, built.dist / DECK)
        assert (log.new, log.updated, log.conflicting, log.missing_notetype) == (
            len(built.ids),
            0,
            0,
            0,
        )
        data = dump(col)
    finally:
        col.close()
    notes = {note["fields"]["Id"]: note for note in data["notes"]}
    assert sorted(notes) == sorted(built.ids)
    assert len(data["cards"]) == len(built.ids)
    empty = [
        qid for qid, n in notes.items() if not (n["fields"]["Question"] and n["fields"]["Answer"])
    ]
    assert empty == [], "notes with an empty question or answer"


@pytest.mark.slow
def test_tdlib_parses_every_telegram_post(built: Built) -> None:
    from tests.support.tdlib import parse_html, parse_markdown

    problems: list[str] = []
    for entry in built.outputs("telegram-post-html"):
        result = parse_html((built.dist / entry["path"]).read_text(encoding="utf-8"))
        if result.get("@type") != "formattedText":
            problems.append(f"{entry['path']}: TDLib refused the HTML: {result.get('message')}")
            continue
        size = len(result["text"].encode("utf-16-le")) // 2
        if size > 4096:
            problems.append(f"{entry['path']}: {size} UTF-16 units > 4096")
        if len(result["entities"]) > 100:
            problems.append(f"{entry['path']}: {len(result['entities'])} entities > 100")
    for entry in built.outputs("telegram-post-text"):
        result = parse_markdown((built.dist / entry["path"]).read_text(encoding="utf-8"))
        if result.get("@type") != "formattedText":
            problems.append(f"{entry['path']}: TDLib refused the Markdown: {result.get('message')}")
    assert problems == []


@pytest.mark.slow
def test_every_digest_parses_with_text_and_html_parts(built: Built) -> None:
    problems: list[str] = []
    for entry in built.outputs("digest-eml"):
        data = (built.dist / entry["path"]).read_bytes()
        message = BytesParser(policy=policy.default).parsebytes(data)
        assert isinstance(message, EmailMessage)
        if message.defects:
            problems.append(f"{entry['path']}: MIME defects {message.defects!r}")
        for subtype in ("plain", "html"):
            part = message.get_body(preferencelist=(subtype,))
            if part is None or part.get_content_type() != f"text/{subtype}":
                problems.append(f"{entry['path']}: no text/{subtype} part")
            elif not str(part.get_content()).strip():
                problems.append(f"{entry['path']}: empty text/{subtype} part")
    assert problems == []


@pytest.mark.slow
def test_nothing_the_authors_wrote_is_lost_in_any_output(built: Built) -> None:
    """The build's own loss check (words, list items, images per output) finds nothing; the
    only warnings are the remote formula images this offline build did not fetch and the one
    post too long for its photo's caption."""
    kinds = Counter(
        "remote image not fetched"
        if "not fetched: --offline" in w.message
        else "caption too long"
        if "too long for a photo caption" in w.message
        else w.message
        for w in built.report.warnings
    )
    assert set(kinds) == {"remote image not fetched", "caption too long"}, kinds


@pytest.mark.slow
def test_hard_answers_read_whole(built: Built) -> None:
    """Golden-style spot checks of answers that lost text before: a list right after a line,
    lists nested by 3 spaces with <sub>, a list of another kind glued to a numbered one."""
    folder = built.dist / "telegram"
    posts = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.html")}

    def post(qid: str) -> str:
        [name] = [n for n in posts if n.endswith(f"-{qid}.html")]
        return posts[name]

    weights = post("how-we-can-initialize-the-weights-of-a-neural-network")
    assert "1. Initializing weights with zeroes." in weights
    assert "• a) If weights are initialized with very high values" in weights
    assumptions = post("what-are-the-main-assumptions-of-linear-regression")
    assert "(yᵢ = B0 + B1*x1ᵢ + ... + errorᵢ):\n    1. No correlation between errors" in (
        assumptions
    )
    backprop = post("what-is-backpropagation-how-does-it-work-why-do-we-need-it")
    assert "We need backpropogation because,\n\n• Calculate the error" in backprop
    assert "\n• Model is ready to make a prediction" in backprop


#: Answers that lost text before, or hold what is hardest to carry: their every output is
#: kept as a golden file (``UPDATE_GOLDEN=1`` rewrites them; the diff is the review).
HARD = (
    "how-we-can-initialize-the-weights-of-a-neural-network",  # lists after text, of two kinds
    "what-are-the-main-assumptions-of-linear-regression",  # nested by 3 spaces, <sub>
    "which-regularization-techniques-do-you-know",  # list after text, formula images
    "count",  # a coding task: code, a list with no blank line before it
    "pmi",  # local raw-HTML images after the text: continuation posts
)
GOLDEN = ROOT / "tests" / "golden" / "public"


@pytest.mark.slow
@pytest.mark.parametrize("qid", HARD)
def test_hard_answers_in_every_output_match_their_golden_files(
    built: Built, qid: str, tmp_path: Path
) -> None:
    from pipeline.targets.digest import target as digest
    from tests.support.anki_backend import dump, import_package, new_collection
    from tests.support.digest import context

    col = new_collection(tmp_path / "anki")
    try:
        import_package(col, built.dist / DECK)
        [note] = [n for n in dump(col)["notes"] if n["fields"]["Id"] == qid]
    finally:
        col.close()
    ctx = context(built.source)
    [question] = [q for q in ctx.bank.questions if q.id == qid]
    made = digest.fragment(question, ctx)
    posts = sorted(
        (built.dist / "telegram").glob(f"*-{qid}*.html"),
        key=lambda p: int(p.suffixes[0][1:]) if len(p.suffixes) > 1 else 1,
    )
    sections = [
        ("anki: question", note["fields"]["Question"]),
        ("anki: answer", note["fields"]["Answer"]),
        *(
            (f"telegram: {p.name}", p.read_text(encoding="utf-8"))
            for post in posts
            for p in (post, post.with_suffix(".txt"))
        ),
        ("digest: html", "\n".join([made["title_html"], *(s[1] for s in made["segments"])])),
        ("digest: text", f"{made['title_text']}\n\n{made['text']}"),
    ]
    text = "".join(f"===== {name}\n{body}\n" for name, body in sections)
    path = GOLDEN / f"{qid}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, f"{qid}: set UPDATE_GOLDEN=1, review the diff"
