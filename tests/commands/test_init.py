"""``pipeline init``: a content repository of one's own that builds, and the default source.

The bank it writes is built here with the packaged templates (no ``--templates``): it must
validate and build without a single warning, under ``--strict``. The installed wheel doing the
same from another folder is ``tests/commands/test_init_installed.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml

from pipeline.build.contract import packaged_templates
from pipeline.build.run import check
from pipeline.commands import init
from pipeline.commands.init import init_project
from pipeline.commands.schema import schema_json
from pipeline.errors import UsageError
from tests.support.banks import NOW, ROOT, build_into, run_cli

FILES = [
    ".gitignore",
    ".pre-commit-config.yaml",
    "README.md",
    "questions.schema.json",
    "questions.yaml",
]


def listing(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_init_writes_a_bank_that_builds_without_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "bank"
    written, kept = init_project(folder)
    assert (sorted(written), kept) == (FILES, [])
    assert sorted(listing(folder)) == FILES
    source = folder / "questions.yaml"
    first = source.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=questions.schema.json"
    assert (folder / "questions.schema.json").read_text(encoding="utf-8") == schema_json()
    schema = jsonschema.Draft202012Validator(json.loads(schema_json()))
    assert list(schema.iter_errors(yaml.safe_load(source.read_text(encoding="utf-8")))) == []
    assert (folder / ".gitignore").read_text(encoding="utf-8").splitlines()[1:] == [
        "dist/",
        ".cache/",
    ]
    # The packaged templates, found from the source's folder: it has none of its own.
    bank, warnings = check(source, now=NOW)
    assert ([q.id for q in bank.questions], warnings) == (["overfitting", "l1-vs-l2"], ())
    report = build_into(source, folder / "dist", templates=None, strict=True)
    assert report.warnings == ()
    kinds = sorted({f.kind for f in report.files})
    assert kinds == sorted(
        {
            "anki-deck",
            "calendar",
            "digest-eml",
            "digest-html",
            "digest-text",
            "readme",
            "telegram-desk",
            "telegram-poll",
            "telegram-post-html",
            "telegram-post-text",
        }
    )


def test_the_pre_commit_hook_is_the_repository_s_own(tmp_path: Path) -> None:
    """The content repository's local hook runs what .pre-commit-hooks.yaml declares."""
    init_project(tmp_path)
    config = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    [repo] = config["repos"]
    [hook] = repo["hooks"]
    [declared] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    shared = ("id", "name", "entry", "files", "pass_filenames")
    assert repo["repo"] == "local" and hook["language"] == "system"
    assert {k: hook[k] for k in shared} == {k: declared[k] for k in shared}


def test_init_refuses_a_folder_with_files_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    (tmp_path / "questions.yaml").write_text("questions: []\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"is not empty \(notes.txt, questions.yaml\)"):
        init_project(tmp_path)
    assert sorted(listing(tmp_path)) == ["notes.txt", "questions.yaml"]
    # --force adds what is missing and replaces nothing.
    written, kept = init_project(tmp_path, force=True)
    assert kept == ["questions.yaml"]
    assert sorted(written) == [f for f in FILES if f != "questions.yaml"]
    assert (tmp_path / "questions.yaml").read_text(encoding="utf-8") == "questions: []\n"
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_a_fresh_git_repository_counts_as_empty(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    written, _ = init_project(tmp_path)
    assert sorted(written) == FILES


def test_init_templates_copies_the_packaged_ones(tmp_path: Path) -> None:
    written, _ = init_project(tmp_path, templates=True)
    packaged = packaged_templates()
    folders = sorted(p.name for p in packaged.iterdir() if p.is_dir() and p.name.isalpha())
    assert folders == ["anki", "digest", "telegram"]
    assert sorted(written) == sorted([*FILES, *(f"templates/{f}" for f in folders)])
    for name in folders:
        assert listing(tmp_path / "templates" / name) == listing(packaged / name)
    # A copy of the defaults builds exactly as the defaults do.
    source = tmp_path / "questions.yaml"
    report = build_into(source, tmp_path / "dist", templates=None)
    assert report.warnings == ()
    build_into(source, tmp_path / "other", templates=packaged)
    assert listing(tmp_path / "dist") == listing(tmp_path / "other")


@pytest.mark.parametrize("existed", [False, True], ids=["new-folder", "empty-folder"])
def test_a_failed_init_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existed: bool
) -> None:
    folder = tmp_path / "a" / "bank"
    if existed:
        folder.mkdir(parents=True)
    real = init._create
    calls = []

    def full_disk(path: Path, data: bytes) -> bool:
        calls.append(path.name)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(init, "_create", full_disk)
    with pytest.raises(OSError, match="No space left"):
        init_project(folder, templates=True)
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert left == (["a", "a/bank"] if existed else [])


def test_init_on_the_command_line_then_build_with_no_flags(tmp_path: Path) -> None:
    done = run_cli("init", "bank", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.splitlines()[-1] == "next: cd bank/ && pipeline build   (see README.md there)"
    )
    bank = tmp_path / "bank"
    built = run_cli("build", cwd=bank)
    assert built.returncode == 0, built.stderr
    assert "into dist/" in built.stdout and built.stderr == ""
    names = sorted(p.name for p in bank.iterdir())
    assert names == sorted([*FILES, ".cache", "dist", "questions.lock.json"])
    manifest = json.loads((bank / "dist" / "manifest.json").read_text(encoding="utf-8"))
    assert any(e["path"] == "anki/interview-questions.apkg" for e in manifest["outputs"])
    refused = run_cli("init", "bank", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith("pipeline: error: bank/ is not empty (.cache, .gitignore")
    assert refused.stderr.count("\n") == 1


def test_the_default_source_is_questions_yaml_then_content(tmp_path: Path) -> None:
    nothing = run_cli("validate", cwd=tmp_path)
    assert nothing.returncode == 2
    assert nothing.stderr == (
        "pipeline: error: no question bank here: neither questions.yaml nor "
        f"content/questions.yaml exists in {tmp_path.resolve()}; give --source PATH, or start "
        "a bank with 'pipeline init'\n"
    )
    init_project(tmp_path / "content")
    found = run_cli("validate", cwd=tmp_path)
    assert found.stdout.startswith("content/questions.yaml: 2 questions"), found.stderr
    init_project(tmp_path / "other")
    os.replace(tmp_path / "other" / "questions.yaml", tmp_path / "questions.yaml")
    first = run_cli("validate", cwd=tmp_path)
    assert first.stdout.startswith("questions.yaml: 2 questions"), first.stderr
