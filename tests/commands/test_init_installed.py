"""Install once, ``pipeline init``, build from anywhere: the wheel as an editor gets it.

The wheel is built from a copy of what packaging reads (the working tree gets no ``build/``
folder) and installed into a fresh virtual environment outside the repository; its
dependencies come from PyPI as usual, through pip's own cache. Then, with ``HOME`` and
``XDG_CACHE_HOME`` pointing at empty folders, ``pipeline init`` makes a bank in an empty
folder, ``pipeline build`` builds it there and again from another working folder with
``--source``. Anki's backend imports the deck and TDLib parses every post, and nothing is
written outside the bank's folder: the working folders, the bank's parent and ``HOME`` are
listed before and after.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from pipeline.targets.telegram import text as tt
from tests.support.banks import PINNED_EPOCH, ROOT

pytestmark = pytest.mark.slow

#: What setuptools reads to build the wheel.
PACKAGING = ("pyproject.toml", "setup.py", "README.md")


def run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def tree(folder: Path, skip: tuple[str, ...] = ()) -> list[str]:
    """Every path under ``folder`` (hidden ones too), but those under a ``skip`` prefix."""
    paths = (p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    return sorted(p for p in paths if not p.startswith(skip))


def installed(tmp_path: Path) -> Path:
    """Build the wheel, check it carries the templates, install it: the venv's bin folder."""
    src, wheels, venv = tmp_path / "src", tmp_path / "wheels", tmp_path / "venv"
    src.mkdir()
    for name in PACKAGING:
        shutil.copy(ROOT / name, src / name)
    junk = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("pipeline", "templates"):
        shutil.copytree(ROOT / folder, src / folder, ignore=junk)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, src], tmp_path)
    [wheel] = wheels.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = [p.relative_to(ROOT / "templates") for p in (ROOT / "templates").rglob("*.*")]
    assert templates and {f"pipeline/_templates/{p.as_posix()}" for p in templates} <= names
    run([sys.executable, "-m", "venv", venv], tmp_path)
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel], tmp_path)
    return venv / "bin"


def test_an_installed_pipeline_inits_and_builds_a_bank_from_anywhere(tmp_path: Path) -> None:
    bin_dir = installed(tmp_path)
    space, home = tmp_path / "space", tmp_path / "home"
    bank, elsewhere = space / "bank", space / "elsewhere"
    for folder in (bank, elsewhere, home, home / ".cache"):
        folder.mkdir(parents=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env |= {
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "SOURCE_DATE_EPOCH": PINNED_EPOCH,
    }
    pipeline = bin_dir / "pipeline"
    before = (tree(space), tree(home))

    run([pipeline, "init"], bank, env)
    first = run([pipeline, "build", "-v"], bank, env)
    site = tmp_path / "venv" / "lib"
    assert f"from {site}" in first and "/_templates/anki/" in first, first  # the packaged ones
    assert "0 warnings" in first
    made = {p: (bank / "dist" / p).read_bytes() for p in tree(bank / "dist") if "." in p}
    # From another working folder: the output, the cache and the lock beside the bank again.
    shutil.rmtree(bank / "dist")
    shutil.rmtree(bank / ".cache")
    second = run([pipeline, "build", "--source", "../bank/questions.yaml"], elsewhere, env)
    assert "into ../bank/dist/" in second
    assert {p: (bank / "dist" / p).read_bytes() for p in made} == made
    assert run([pipeline, "validate", "--source", "questions.yaml"], bank, env).startswith(
        "questions.yaml: 2 questions"
    )

    assert tree(home) == before[1]
    new = {"bank/dist", "bank/.cache", "bank/questions.lock.json"}
    assert tree(space, skip=tuple(new)) == sorted(
        [*before[0], *(f"bank/{name}" for name in INIT_FILES)]
    )
    assert_readers_accept(bank / "dist", tmp_path / "anki")


INIT_FILES = (
    ".gitignore",
    ".pre-commit-config.yaml",
    "README.md",
    "questions.schema.json",
    "questions.yaml",
)


def assert_readers_accept(dist: Path, collection: Path) -> None:
    """Anki's backend imports the deck whole; TDLib accepts every post and its twin."""
    from tests.support.anki_backend import dump, import_package, new_collection
    from tests.support.tdlib import check_post

    col = new_collection(collection)
    try:
        log = import_package(col, dist / "anki" / "interview-questions.apkg")
        notes = dump(col)["notes"]
    finally:
        col.close()
    assert (log.new, log.conflicting, log.missing_notetype) == (2, 0, 0)
    assert sorted(n["fields"]["Id"] for n in notes) == ["l1-vs-l2", "overfitting"]
    posts = sorted(p for p in (dist / "telegram").glob("*.html") if p.name != "index.html")
    assert len(posts) == 2
    for post in posts:
        html = post.read_text(encoding="utf-8")
        markdown = post.with_suffix(".txt").read_text(encoding="utf-8")
        assert check_post(html, markdown, url_for_text=tt.url_for_text) == [], post.name


def test_the_source_distribution_carries_the_templates(tmp_path: Path) -> None:
    """A wheel built from the sdist (as ``python -m build`` makes it) needs the top-level
    ``templates/`` in the sdist: MANIFEST.in grafts it."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pipeline", "templates"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    run([sys.executable, "setup.py", "-q", "sdist", "--dist-dir", tmp_path / "sdist"], tree)
    (archive,) = (tmp_path / "sdist").glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()}
    templates = {n for n in names if n.startswith("templates/")}
    expected = {str(p.relative_to(ROOT)) for p in (ROOT / "templates").rglob("*") if p.is_file()}
    assert templates == expected
