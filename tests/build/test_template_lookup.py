"""Where a build takes its templates from: ``--templates``, then ``templates/`` beside the
source, then the packaged defaults; each folder (``anki/``, ``telegram/``, ``digest/``) whole
from the first that has it. ``validate`` looks in the same order, every "template not found"
names it, ``build -v`` shows it, and the cache follows the templates actually used.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.build import contract
from pipeline.build.run import check
from pipeline.errors import PipelineError, UsageError
from tests.support.banks import NOW, SEED, TEMPLATES, build_into, run_cli


def marked_copy(root: Path, folder: str, marker: str) -> None:
    """``root/folder``: the repository's templates with ``marker`` at the end of the post
    (telegram) or of the email's text part (digest)."""
    shutil.copytree(TEMPLATES / folder, root / folder)
    name = {"telegram": "post.html.j2", "digest": "email.txt"}[folder]
    path = root / folder / name
    path.write_text(path.read_text(encoding="utf-8") + f"\n{marker}\n", encoding="utf-8")


def seen(out: Path) -> tuple[str, str]:
    """The markers in the first post and in the first week's email text."""
    post = sorted((out / "telegram").glob("001-*.html"))[0].read_text(encoding="utf-8")
    mail = sorted((out / "digest").glob("*.txt"))[0].read_text(encoding="utf-8")
    marks = ("given", "beside", "packaged")
    return (
        next((m for m in marks if f"marker-{m}" in post), "none"),
        next((m for m in marks if f"marker-{m}" in mail), "none"),
    )


@pytest.fixture
def packaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Packaged defaults carrying markers of their own (the real ones are the repository's)."""
    root = tmp_path / "packaged"
    shutil.copytree(TEMPLATES / "anki", root / "anki")
    for folder in ("telegram", "digest"):
        marked_copy(root, folder, "marker-packaged")
    monkeypatch.setattr(contract, "packaged_templates", lambda: root)
    return root


def test_each_folder_comes_whole_from_the_first_root_that_has_it(
    tmp_path: Path, packaged: Path
) -> None:
    source = tmp_path / "content" / "questions.yaml"
    source.parent.mkdir()
    shutil.copy(SEED, source)
    given, beside = tmp_path / "given", source.parent / "templates"
    marked_copy(given, "telegram", "marker-given")
    for folder in ("telegram", "digest"):
        marked_copy(beside, folder, "marker-beside")
    out, cache = tmp_path / "dist", tmp_path / "cache"

    def built(templates: Path | None) -> tuple[str, str]:
        report = build_into(source, out, templates=templates, cache=cache)
        assert not report.unchanged  # the templates changed: so did the input key
        return seen(out)

    # One cache for every build: the fragments' keys follow the folders actually used.
    assert built(given) == ("given", "beside")  # given/ has no digest/: the next root's
    assert built(None) == ("beside", "beside")
    shutil.rmtree(beside / "telegram")  # beside the source: only digest/ (and no anki/)
    assert built(None) == ("packaged", "beside")
    shutil.rmtree(beside)
    assert built(None) == ("packaged", "packaged")
    # A cold build with the same templates makes the same files.
    fresh = build_into(source, tmp_path / "fresh", templates=None)
    cached = build_into(source, out, templates=None, cache=cache)
    assert {f.path: f.sha256 for f in fresh.files} == {f.path: f.sha256 for f in cached.files}


def test_a_missing_template_names_where_it_was_looked_for(tmp_path: Path, packaged: Path) -> None:
    source = tmp_path / "content" / "questions.yaml"
    source.parent.mkdir()
    shutil.copy(SEED, source)
    beside = source.parent / "templates"
    (beside / "anki").mkdir(parents=True)  # a design started, its files not there yet
    order = f"{beside}/anki/, {packaged}/anki/"
    expected = (
        f"{beside}/anki/front.html:1:1: template not found: the Anki deck needs front.html, "
        "back.html, card.css, description.html and removed.html in "
        f"{beside}/anki/ (the folder is taken whole from the first that exists of: {order})"
    )
    for run in (
        lambda: build_into(source, tmp_path / "dist", templates=None),
        lambda: check(source, now=NOW),
    ):
        with pytest.raises(PipelineError) as caught:
            run()
        assert [str(p) for p in caught.value.problems] == [expected]
    shutil.rmtree(beside / "anki")
    (beside / "telegram").mkdir()
    shutil.copy(TEMPLATES / "telegram" / "desk.html.j2", beside / "telegram")
    given = tmp_path / "given"
    given.mkdir()
    with pytest.raises(PipelineError) as caught:
        check(source, given, now=NOW)
    order = f"{given}/telegram/, {beside}/telegram/, {packaged}/telegram/"
    assert [str(p) for p in caught.value.problems] == [
        f"{beside}/telegram/post.html.j2:1:1: template not found "
        f"(the folder is taken whole from the first that exists of: {order})"
    ]


def test_validate_looks_in_the_build_s_order(tmp_path: Path) -> None:
    source = tmp_path / "content" / "questions.yaml"
    source.parent.mkdir()
    shutil.copy(SEED, source)
    beside = source.parent / "templates"
    shutil.copytree(TEMPLATES / "telegram", beside / "telegram")
    (beside / "telegram" / "post.html.j2").write_text("{% if %}\n", encoding="utf-8")
    with pytest.raises(PipelineError) as caught:
        check(source, now=NOW)
    [problem] = caught.value.problems
    assert problem.pos is not None and problem.pos.file == str(beside / "telegram/post.html.j2")
    bank, warnings = check(source, TEMPLATES, now=NOW)  # --templates comes first
    assert (len(bank.questions), warnings) == (9, ())


def test_a_templates_option_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "questions.yaml"
    shutil.copy(SEED, source)
    with pytest.raises(UsageError, match=r"--templates .*nope: no such folder"):
        build_into(source, tmp_path / "dist", templates=tmp_path / "nope")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["questions.yaml"]
    for command in ("build", "validate"):
        done = run_cli(command, "--templates", "nope", cwd=tmp_path)
        assert (done.returncode, done.stderr) == (
            2,
            "pipeline: error: --templates nope: no such folder\n",
        )


def test_build_verbose_shows_the_order_and_each_folder_s_origin(tmp_path: Path) -> None:
    shutil.copy(SEED, tmp_path / "questions.yaml")
    shutil.copytree(TEMPLATES / "digest", tmp_path / "templates" / "digest")
    done = run_cli("build", "-v", "--no-cache", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "templates: each folder is taken whole from the first of these that has it:",
        "  1. templates/ (beside the source)",
        f"  2. {TEMPLATES}/ (the pipeline's defaults)",
        f"  anki/ from {TEMPLATES}/anki/",
        "  digest/ from templates/digest/",
        f"  telegram/ from {TEMPLATES}/telegram/",
    ]
