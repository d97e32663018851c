"""What a build leaves where: its output and cache beside the source by default, its lock
file inside the cache, nothing beside ``--out``, and nothing at all when it is refused.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.build.out_folder import CACHE_LOCK, build_lock
from pipeline.errors import PipelineError
from tests.support.banks import SEED, TEMPLATES, build_into, run_cli


def tree(folder: Path) -> list[str]:
    """Every path under ``folder``, hidden ones included."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def bank(folder: Path, *, broken: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "questions.yaml"
    text = SEED.read_text(encoding="utf-8")
    source.write_text(text.replace("grades: [junior]", "grades: [junor]", 1) if broken else text)
    return source


def broken_templates(folder: Path) -> Path:
    shutil.copytree(TEMPLATES, folder)
    (folder / "telegram" / "post.html.j2").write_text("{{ nope }}\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("case", "args", "code"),
    [
        ("no-source", ["--source", "content/missing.yaml"], 2),
        ("invalid-source", ["--source", "content/questions.yaml", "--out", "new/deep/dist"], 1),
        ("foreign-out", ["--source", "content/questions.yaml", "--out", "mine"], 2),
        ("template-fails", ["--source", "content/questions.yaml", "--templates", "design"], 1),
    ],
)
def test_a_refused_build_leaves_nothing_behind(
    tmp_path: Path, case: str, args: list[str], code: int
) -> None:
    bank(tmp_path / "content", broken=case == "invalid-source")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine", encoding="utf-8")
    broken_templates(tmp_path / "design")
    before = tree(tmp_path)
    done = run_cli("build", *args, cwd=tmp_path)
    assert done.returncode == code, done.stderr
    assert tree(tmp_path) == before  # no cache, no lock file, no dist/, no folder for --out


def test_the_lock_file_is_in_the_cache_and_nothing_is_left_beside_out(tmp_path: Path) -> None:
    source = bank(tmp_path / "content")
    done = run_cli("build", "--source", str(source), "--out", "site/dist", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == ["dist"]
    cache = tmp_path / "content" / ".cache" / "pipeline"
    assert (cache / CACHE_LOCK).is_file()
    # Without a cache, nothing but the output and the source's lock file.
    shutil.rmtree(tmp_path / "content" / ".cache")
    again = run_cli("build", "--source", str(source), "--out", "other", "--no-cache", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content", "other", "site"]
    assert sorted(p.name for p in (tmp_path / "content").iterdir()) == [
        "questions.lock.json",
        "questions.yaml",
    ]


def test_by_default_the_output_and_cache_lie_beside_the_source(tmp_path: Path) -> None:
    source = bank(tmp_path / "bank")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_cli("build", "--source", str(source), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert f"into {tmp_path}/bank/dist/" in done.stdout
    assert tree(elsewhere) == []
    assert sorted(p.name for p in source.parent.iterdir()) == [
        ".cache",
        "dist",
        "questions.lock.json",
        "questions.yaml",
    ]


def test_a_failed_build_keeps_a_cache_it_did_not_create(tmp_path: Path) -> None:
    source = bank(tmp_path / "content")
    cache = tmp_path / "cache"
    build_into(source, tmp_path / "dist", cache=cache)
    kept = tree(cache)
    assert CACHE_LOCK in kept
    bank(tmp_path / "content", broken=True)
    with pytest.raises(PipelineError, match="junor"):
        build_into(source, tmp_path / "dist", cache=cache)
    assert tree(cache) == kept


def test_one_build_per_output_folder_and_per_cache(tmp_path: Path) -> None:
    (tmp_path / "alias").symlink_to("dist", target_is_directory=True)
    cache = tmp_path / "cache"
    with build_lock(tmp_path / "dist", cache):
        # The same folder by another path, even without a cache.
        with (
            pytest.raises(
                PipelineError, match=r"another build is writing .*/alias/ or a folder beside it"
            ),
            build_lock(tmp_path / "alias"),
        ):
            pass
        # Another output folder, elsewhere, with the same cache.
        with (
            pytest.raises(PipelineError, match=r"another build is using the cache .*/cache/"),
            build_lock(tmp_path / "far" / "dist", cache),
        ):
            pass
    with build_lock(tmp_path / "far" / "dist", cache), build_lock(tmp_path / "dist"):
        pass  # both free again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alias", "cache", "far"]
    assert tree(tmp_path / "cache") == [CACHE_LOCK]
