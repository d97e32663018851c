"""``--out`` and ``--merge`` against folders and files the pipeline does not own.

The build replaces its whole output folder, so it must never take a folder it did not write
(a web app's, holding a ``manifest.json`` of its own): only a folder whose manifest carries
the build's marker and lists every file in it is replaced. Symbolic links are followed to the
real folder or file: the lock, the staging folder and the swap act there, and the link stays a
link. Refused output folders are a usage error (exit 2, one line); nothing is written.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import hostile
from tests.support.banks import ROOT, TEMPLATES, TESTS, build_into, run_cli

#: Each case runs the real command in a subprocess: the full suite only (make test).
pytestmark = pytest.mark.slow

EXPORT = TESTS / "fixtures" / "telegram_export" / "result.json"
#: Appended to every refusal of a folder that holds files the build did not write.
REPLACES = "; the build replaces the whole folder, so move {} away or choose an empty or new --out"


def write_bank(tmp_path: Path, version: str = "v1") -> Path:
    """A three-question source in tmp/content (JSON is YAML); ``version`` changes the text."""
    questions = [
        {
            "id": f"q-{i}",
            "question": f"Вопрос {i} ({version}): что такое ROC-AUC?",
            "answer": f"Ответ {i} ({version}).",
            "grades": ["junior"],
        }
        for i in range(3)
    ]
    source = tmp_path / "content" / "questions.yaml"
    source.parent.mkdir(exist_ok=True)
    data = {"schedule": {"start": "2026-12-01"}, "questions": questions}
    source.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return source


def cli_build(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pipeline build`` run in tmp_path, as a user there would."""
    return run_cli("build", "--templates", str(TEMPLATES), *args, cwd=tmp_path)


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: file bytes, a link's target, "dir" for a folder."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = path.read_bytes()
    return found


def web_app(folder: Path) -> None:
    """A web app's folder: its own manifest.json (a PWA manifest), pages, a document."""
    (folder / "sub").mkdir(parents=True)
    (folder / "manifest.json").write_text('{"name": "App", "start_url": "/"}\n')
    (folder / "index.html").write_text("<!doctype html><title>App</title>\n")
    (folder / "sub" / "app.js").write_text("console.log('app');\n")
    (folder / "report.docx").write_bytes(b"PK\x03\x04 a Word document")


# --- only a folder the build wrote is replaced ----------------------------------------------


def test_out_never_deletes_a_folder_the_build_did_not_write(tmp_path: Path) -> None:
    write_bank(tmp_path)
    web = tmp_path / "web"
    web_app(web)
    before = snapshot(web)
    refused = cli_build(tmp_path, "--out", "web")
    assert refused.returncode == 2
    assert refused.stderr == (
        "pipeline: error: --out: web/ is not a build output (its manifest.json was not written "
        "by this pipeline) and holds 4 files the build did not write ('index.html', "
        "'manifest.json', 'report.docx' and 1 more)" + REPLACES.format("them") + "\n"
    )
    assert refused.stdout == ""
    assert snapshot(web) == before
    # Nothing was started beside it either: no lock, no staging folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content", "web"]


def test_out_replaces_a_folder_an_earlier_build_wrote(tmp_path: Path) -> None:
    write_bank(tmp_path, "v1")
    assert cli_build(tmp_path, "--out", "dist").returncode == 0
    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["generator"], manifest["format"]) == ("ds-interview-pipeline", 1)
    write_bank(tmp_path, "v2")
    done = cli_build(tmp_path, "--out", "dist")
    assert done.returncode == 0, done.stderr
    assert hostile.manifest_problems(tmp_path / "dist") == []
    assert "(v2)" in (tmp_path / "dist" / "telegram" / "001-q-0.txt").read_text(encoding="utf-8")


def test_out_refuses_an_earlier_build_holding_a_file_it_did_not_write(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build_into(write_bank(tmp_path, "v1"), dist)
    (dist / "notes.txt").write_text("my notes, not the build's")
    before = snapshot(dist)
    write_bank(tmp_path, "v2")
    refused = cli_build(tmp_path, "--out", "dist")
    assert refused.returncode == 2
    assert refused.stderr == (
        "pipeline: error: --out: dist/ holds 1 file the build did not write ('notes.txt'), "
        "beside an earlier build" + REPLACES.format("it") + "\n"
    )
    assert snapshot(dist) == before


def test_out_names_a_nested_file_it_did_not_write_and_ignores_data_free_debris(
    tmp_path: Path,
) -> None:
    """In an earlier build, links, empty folders and renamed outputs lose nothing when
    replaced; a file of someone else's, however deep, stops the build."""
    source = write_bank(tmp_path)
    dist = tmp_path / "dist"
    build_into(source, dist)
    (dist / "anki" / "link").symlink_to(source)  # removing a link never touches its target
    (dist / "empty").mkdir()
    post = dist / "telegram" / "001-q-0.txt"
    post.rename(post.with_name("renamed.txt"))  # the build's bytes under another name
    (dist / "telegram" / "deep" / "er").mkdir(parents=True)
    (dist / "telegram" / "deep" / "er" / "draft.md").write_text("draft")
    before = snapshot(dist)
    refused = cli_build(tmp_path, "--out", "dist")
    assert refused.returncode == 2
    assert refused.stderr == (
        "pipeline: error: --out: dist/ holds 1 file the build did not write "
        "('telegram/deep/er/draft.md'), beside an earlier build" + REPLACES.format("it") + "\n"
    )
    assert snapshot(dist) == before
    (dist / "telegram" / "deep" / "er" / "draft.md").unlink()
    done = cli_build(tmp_path, "--out", "dist")
    assert done.returncode == 0, done.stderr
    assert hostile.manifest_problems(dist) == []
    assert source.read_text(encoding="utf-8").startswith('{"schedule"')  # the link's target


def test_out_takes_a_build_from_before_the_marker_only_when_its_files_match(
    tmp_path: Path,
) -> None:
    """An earlier version's dist/ (manifest without the marker) is still replaced after an
    upgrade, proven by every file's sha256; an edited file in it is refused."""
    source = write_bank(tmp_path)
    dist = tmp_path / "dist"
    build_into(source, dist)
    manifest = json.loads((dist / "manifest.json").read_text(encoding="utf-8"))
    old = {"outputs": manifest["outputs"]}
    (dist / "manifest.json").write_text(json.dumps(old, indent=2), encoding="utf-8")
    post = dist / "telegram" / "001-q-0.txt"
    post.write_text("edited by hand", encoding="utf-8")
    refused = cli_build(tmp_path, "--out", "dist", "--no-cache")
    assert refused.returncode == 2
    assert refused.stderr == (
        "pipeline: error: --out: dist/ holds 1 file the build did not write "
        "('telegram/001-q-0.txt'), beside an earlier build" + REPLACES.format("it") + "\n"
    )
    assert post.read_text(encoding="utf-8") == "edited by hand"
    post.unlink()  # a listed file that is gone is fine: the build remakes it
    done = cli_build(tmp_path, "--out", "dist", "--no-cache")
    assert done.returncode == 0, done.stderr
    assert hostile.manifest_problems(dist) == []


@pytest.mark.parametrize(
    "kept",
    [None, [], ["README.md"], ["README.md", ".gitkeep"]],
    ids=["missing", "empty", "fresh-checkout", "fresh-checkout-gitkeep"],
)
def test_out_fills_a_missing_empty_or_freshly_checked_out_folder(
    tmp_path: Path, kept: list[str] | None
) -> None:
    write_bank(tmp_path)
    dist = tmp_path / "dist"
    if kept is not None:
        dist.mkdir()
        for name in kept:
            (dist / name).write_text("")
    done = cli_build(tmp_path, "--out", "dist")
    assert done.returncode == 0, done.stderr
    assert hostile.manifest_problems(dist) == []


# --- refused output folders: exit 2, one line, nothing written ------------------------------


@pytest.mark.parametrize(
    ("cwd", "out", "message"),
    [
        (".", "content", "the output folder content/ contains the source content/questions.yaml"),
        (".", "notes.txt", "notes.txt is a file, not a folder"),
        (".", "/", "refusing to use / as the output folder: it is the file system root"),
        ("work", ".", "refusing to use ./ as the output folder: it is the current folder"),
        ("work/sub", "..", "refusing to use ../ as the output folder: it holds the current folder"),
    ],
    ids=["source-folder", "a-file", "root", "current-folder", "repo-root-above"],
)
def test_refused_out_is_a_usage_error(tmp_path: Path, cwd: str, out: str, message: str) -> None:
    source = write_bank(tmp_path)
    (tmp_path / "notes.txt").write_text("keep")
    (tmp_path / "work" / "sub").mkdir(parents=True)
    before = snapshot(tmp_path)
    refused = run_cli(
        "build",
        "--templates",
        str(TEMPLATES),
        "--source",
        os.path.relpath(source, tmp_path / cwd),
        "--out",
        out,
        cwd=tmp_path / cwd,
    )
    assert (refused.returncode, refused.stderr) == (2, f"pipeline: error: --out: {message}\n")
    assert snapshot(tmp_path) == before


# --- symbolic links: followed to the real folder or file ------------------------------------


@pytest.mark.parametrize("real_exists", [True, False], ids=["to-a-build", "to-nothing-yet"])
def test_symlinked_out_updates_the_real_folder_and_stays_a_link(
    tmp_path: Path, real_exists: bool
) -> None:
    (tmp_path / "dist").symlink_to("real", target_is_directory=True)
    if real_exists:
        build_into(write_bank(tmp_path, "v1"), tmp_path / "real")
    write_bank(tmp_path, "v2")
    done = cli_build(tmp_path, "--out", "dist")
    assert done.returncode == 0, done.stderr
    assert os.readlink(tmp_path / "dist") == "real"
    real = tmp_path / "real"
    assert real.is_dir() and not real.is_symlink()
    assert "(v2)" in (real / "telegram" / "001-q-0.txt").read_text(encoding="utf-8")
    assert hostile.manifest_problems(real) == []
    # No lock file, staging folder or stray link is left beside it; the cache and its lock
    # file are beside the source.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content", "dist", "real"]
    assert (tmp_path / "content" / ".cache" / "pipeline" / "build.lock").is_file()


HOLD_BUILD = """
import sys
from pathlib import Path
import pipeline.build.write as w
from tests.support.banks import build_into

add = w.Staging.add
count = 0
def held(self, f):
    global count
    count += 1
    if count == 5:  # mid-write, under the lock: wait for the test to go on
        print("writing", flush=True)
        sys.stdin.readline()
    return add(self, f)
w.Staging.add = held
build_into(Path(sys.argv[1]), Path(sys.argv[2]), cache=None)
"""


def test_two_builds_through_a_symlink_alias_take_one_lock(tmp_path: Path) -> None:
    source = write_bank(tmp_path)
    (tmp_path / "alias").symlink_to("dist", target_is_directory=True)
    first = subprocess.Popen(
        [sys.executable, "-c", HOLD_BUILD, str(source), str(tmp_path / "dist")],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert first.stdout is not None and first.stdin is not None
    try:
        assert first.stdout.readline() == "writing\n"
        second = cli_build(tmp_path, "--out", "alias", "--no-cache")
    finally:
        _, err = first.communicate("go\n", timeout=120)
    assert first.returncode == 0, err
    # Neither has a cache: the lock is the folder holding the real output folder.
    assert (second.returncode, second.stderr) == (
        1,
        f"another build is writing alias/ or a folder beside it in {tmp_path.resolve()}/; "
        "wait for it to finish\n"
        "1 problem; nothing was written\n",
    )
    assert hostile.manifest_problems(tmp_path / "dist") == []
    assert os.readlink(tmp_path / "alias") == "dist"


SMALL_BANK = """\
questions:
  - id: knn
    question: Что такое kNN?
    answer: Метод ближайших соседей.
    grades: [junior]
"""


@pytest.mark.parametrize("linked", [False, True], ids=["plain-file", "symlink"])
def test_merge_writes_through_a_link_and_keeps_the_file_private(
    tmp_path: Path, linked: bool
) -> None:
    real = tmp_path / "private" / "questions.yaml"
    real.parent.mkdir()
    real.write_text(SMALL_BANK, encoding="utf-8")
    real.chmod(0o600)
    bank = tmp_path / "content" / "questions.yaml"
    bank.parent.mkdir()
    if linked:
        bank.symlink_to(Path("..") / "private" / "questions.yaml")
    else:
        bank = real
    done = run_cli("import-telegram", str(EXPORT), "--merge", str(bank))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{bank}: appended ")
    if linked:
        assert os.readlink(bank) == "../private/questions.yaml"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    text = real.read_text(encoding="utf-8")
    assert text.startswith(SMALL_BANK) and len(text) > len(SMALL_BANK)
    # No temporary file is left beside the link or the file.
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["private", "questions.yaml", "content", *(["questions.yaml"] if linked else [])]
    )


def test_a_loop_of_links_as_out_or_an_impossible_build_time_is_one_line(tmp_path: Path) -> None:
    """Exit 2 with one line, no traceback: ``--out`` a link to itself; SOURCE_DATE_EPOCH
    past every calendar."""
    source = tmp_path / "content" / "questions.yaml"
    source.parent.mkdir()
    shutil.copy(ROOT / "content" / "questions.yaml", source)
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    looped = run_cli("build", "--source", str(source), "--out", str(loop))
    assert looped.returncode == 2 and "Traceback" not in looped.stderr
    assert looped.stderr.count("\n") == 1 and "loop" in looped.stderr.lower()
    late = run_cli(
        "build",
        "--source",
        str(source),
        "--out",
        str(tmp_path / "dist"),
        env={"SOURCE_DATE_EPOCH": "999999999999999"},
    )
    assert late.returncode == 2 and "Traceback" not in late.stderr
    assert late.stderr == (
        "pipeline: error: SOURCE_DATE_EPOCH=999999999999999 is not a time this pipeline can use\n"
    )


@pytest.mark.parametrize("added", ["telegram/mine.txt", "notes/deep/mine.txt", "mine.txt"])
def test_out_skips_the_walk_only_while_no_folder_changed(tmp_path: Path, added: str) -> None:
    """With the cache, a rebuild trusts its last output without walking every file only while
    each folder it wrote is the same folder, unmodified: a file added anywhere is found."""
    write_bank(tmp_path, "v1")
    assert cli_build(tmp_path, "--out", "dist").returncode == 0
    write_bank(tmp_path, "v2")
    assert cli_build(tmp_path, "--out", "dist").returncode == 0  # the fast path, unchanged
    (tmp_path / "dist" / added).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "dist" / added).write_text("mine")
    write_bank(tmp_path, "v3")
    refused = cli_build(tmp_path, "--out", "dist")
    assert refused.returncode == 2, refused.stderr
    assert repr(added) in refused.stderr
    assert (tmp_path / "dist" / added).read_text() == "mine"
