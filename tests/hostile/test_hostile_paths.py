"""Paths: nothing in the source reads or writes outside the content and output folders.

Images are the only files a source names. Each is resolved (symlinks included) and must lie
inside the content folder; anything else is a located error before any output is written.
Raw HTML images are never read from disk, only linked. Output paths come from slugs (ids,
``deck.slug``) and the writer refuses anything that is not a plain path inside ``dist/``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import PipelineError
from tests.support.banks import build_into
from tests.support.hostile import output_bytes

#: A small PNG (1x1); the "secret" outside the content folder has distinctive bytes.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a3b1f70000000049454e44ae426082"
)
SECRET = b"SECRET-OUTSIDE-THE-CONTENT-FOLDER " * 10


def bank(tmp_path: Path, answer: str, **question: object) -> Path:
    content = tmp_path / "content"
    (content / "img").mkdir(parents=True, exist_ok=True)
    (content / "img" / "ok.png").write_bytes(PNG)
    (tmp_path / "secret.png").write_bytes(SECRET)
    data = {
        "schedule": {"start": "2026-12-01"},
        "questions": [
            {"id": "q", "question": "Вопрос?", "answer": answer, "grades": ["junior"]} | question
        ],
    }
    source = content / "questions.yaml"
    source.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return source


def refused(tmp_path: Path, source: Path) -> str:
    with pytest.raises(PipelineError) as caught:
        build_into(source, tmp_path / "dist")
    (problem,) = caught.value.problems
    assert problem.pos is not None and problem.pos.file.endswith("questions.yaml")
    assert problem.path == "questions[0].answer"
    assert not (tmp_path / "dist").exists(), "nothing may be written"
    return problem.message


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("../secret.png", "image '../secret.png' lies outside the content folder"),
        ("img/../../secret.png", "lies outside the content folder"),
        ("%2e%2e/secret.png", "lies outside the content folder"),
        ("/etc/passwd", "image '/etc/passwd' lies outside the content folder"),
        ("file:///etc/passwd", "expected a file path relative to content/ or an http(s) URL"),
        ("//evil.example/x.png", "expected a file path relative to content/ or an http(s) URL"),
        ("data:image/png;base64,AAAA", "expected a file path relative to content/"),
        ("javascript:alert(1)", "expected a file path relative to content/"),
        ("ftp://example.org/x.png", "expected a file path relative to content/"),
        ("img\\..\\..\\secret.png", "not found"),
    ],
)
def test_image_paths_outside_the_content_folder_are_refused(
    tmp_path: Path, src: str, message: str
) -> None:
    source = bank(tmp_path, f"Картинка: ![x]({src})")
    assert message in refused(tmp_path, source)


def test_an_image_symlink_pointing_out_is_refused(tmp_path: Path) -> None:
    source = bank(tmp_path, "![x](img/passwd.png)")
    (source.parent / "img" / "passwd.png").symlink_to("/etc/passwd")
    assert "image 'img/passwd.png' lies outside the content folder" in refused(tmp_path, source)


def test_a_symlinked_folder_pointing_out_is_refused(tmp_path: Path) -> None:
    source = bank(tmp_path, "![x](outside/secret.png)")
    (source.parent / "outside").symlink_to(tmp_path, target_is_directory=True)
    assert "lies outside the content folder" in refused(tmp_path, source)


def test_a_symlink_inside_the_content_folder_is_fine(tmp_path: Path) -> None:
    source = bank(tmp_path, "![x](img/alias.png)")
    (source.parent / "img" / "alias.png").symlink_to(source.parent / "img" / "ok.png")
    build_into(source, tmp_path / "dist")
    assert (tmp_path / "dist" / "telegram" / "001-q-1.png").read_bytes() == PNG


def test_raw_html_images_obey_the_rules_of_markdown_images(tmp_path: Path) -> None:
    """A raw ``<img>`` is an image like ``![]()``: a path outside content/ is a located error
    (nothing is read), a scheme other than http(s) is dropped, one inside is packed."""
    source = bank(
        tmp_path,
        '<img src="../secret.png"> <img src="/etc/passwd"> <img src="file:///etc/passwd"> '
        '<img src="img/ok.png">\n\n![ok](img/ok.png)',
    )
    (source.parent / "img" / "leak.png").symlink_to(tmp_path / "secret.png")
    with pytest.raises(PipelineError) as caught:
        build_into(source, tmp_path / "dist")
    messages = [p.message for p in caught.value.problems]
    assert messages == [
        f"image '../secret.png' lies outside the content folder {source.parent}/",
        f"image '/etc/passwd' lies outside the content folder {source.parent}/",
    ]
    assert all(p.pos is not None and p.pos.line == 1 for p in caught.value.problems)
    assert not (tmp_path / "dist").exists()
    data = json.loads(source.read_text(encoding="utf-8"))
    data["questions"][0]["answer"] = (
        '<img src="file:///etc/passwd" alt="x"> <img src="img/ok.png" width="40">'
        "\n\n![ok](img/leak.png)"
    )
    source.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(PipelineError) as caught:  # the symlink points outside content/
        build_into(source, tmp_path / "dist")
    assert "img/leak.png" in str(caught.value)
    data["questions"][0]["answer"] = data["questions"][0]["answer"].replace("leak", "ok")
    source.write_text(json.dumps(data), encoding="utf-8")
    build_into(source, tmp_path / "dist")
    everything = output_bytes(tmp_path / "dist")
    assert SECRET[:20] not in everything
    assert b"root:x:0:0" not in everything  # /etc/passwd
    assert b"file:///etc/passwd" not in everything
    assert PNG in everything  # the legitimate image was packed


def test_ids_and_slugs_cannot_name_paths(tmp_path: Path) -> None:
    """Output file names come from ids and deck.slug, which must be lowercase slugs."""
    source = bank(tmp_path, "Ответ.", id="../../etc/x")
    with pytest.raises(PipelineError) as caught:
        build_into(source, tmp_path / "dist")
    assert [p.path for p in caught.value.problems] == ["questions[0].id"]
    data = json.loads(source.read_text(encoding="utf-8"))
    data["questions"][0]["id"] = "q"
    data["deck"] = {"slug": "../../outside"}
    source.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(PipelineError) as caught:
        build_into(source, tmp_path / "dist")
    assert [p.path for p in caught.value.problems] == ["deck.slug"]
    # Nothing was written outside (the build's lock file beside dist/ is not output).
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".dist.lock") == [
        "content",
        "secret.png",
    ]


@given(st.lists(st.sampled_from([*"aZ09_.-/\\ ё:", "..", "//"]), max_size=20).map("".join))
def test_the_quick_path_check_accepts_only_what_the_full_one_accepts(path: str) -> None:
    from pipeline.build import write
    from pipeline.build.out_folder import MANIFEST

    if write._PLAIN_PATH.fullmatch(path) and path != MANIFEST:
        assert write._path_problem(path) is None
        assert ".." not in path.split("/")
