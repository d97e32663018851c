"""Images: only real pictures from the content folder are ever published.

A local image is copied next to the Telegram posts, packed into the deck thousands import and
linked under the digest's public ``base_url``. So whatever a source names as an image must be
a regular file inside the content folder, not hidden (``.git``, ``.env``), not the source or
its lock, with an image extension and bytes of that format, at most ``MAX_IMAGE_BYTES``
(checked before reading). Each refusal is one located line, from ``build`` and ``validate``
alike, from a cold build and from one whose cache holds the item, and nothing is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.build.cache import Memo
from pipeline.build.incremental import load_validated
from pipeline.errors import PipelineError, Pos
from pipeline.source.images import MAX_IMAGE_BYTES, ImageRefused, read_image, read_image_file
from pipeline.source.model import Image
from pipeline.source.read import load_source
from pipeline.source.validate import validate
from pipeline.targets.anki import fields as anki_fields
from pipeline.targets.telegram import target as telegram
from tests.support.banks import TEMPLATES, run_cli
from tests.support.hostile import output_bytes

#: Each case runs the real command in a subprocess: the full suite only (make test).
pytestmark = pytest.mark.slow


#: A valid 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a3b1f70000000049454e44ae426082"
)
#: What a repository's config may hold; it must never reach an output.
SECRET = b'[remote "origin"]\n\turl = https://deploy:ghp_SECRETTOKEN@github.com/o/r.git\n'
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>fetch("//evil")</script></svg>\n'
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
TWO_GB = 2 * 1024**3
SOURCE = "content/questions.yaml"

#: The image stands on line 10 of the source; Markdown ``![x](`` puts its path at column 12.
BANK = """\
schedule:
  start: 2026-12-01
questions:
  - id: q
    question: Вопрос?
    grades: [junior]
    answer: |
      Картинка:

      {image}
"""


def make_bank(tmp_path: Path, image: str) -> Path:
    """content/questions.yaml (with a valid lock and img/ok.png) whose answer holds ``image``,
    in a folder laid out like the repository (the commands run there read templates/)."""
    (tmp_path / "templates").symlink_to(TEMPLATES, target_is_directory=True)
    content = tmp_path / "content"
    (content / "img").mkdir(parents=True, exist_ok=True)
    (content / "img" / "ok.png").write_bytes(PNG)
    (content / "questions.lock.json").write_text(
        json.dumps({"version": 1, "sections": {}}), encoding="utf-8"
    )
    source = content / "questions.yaml"
    source.write_text(BANK.format(image=image), encoding="utf-8")
    return source


def _git_config(content: Path, tmp_path: Path) -> None:
    (content / ".git").mkdir()
    (content / ".git" / "config").write_bytes(SECRET)


def _write(name: str, data: bytes) -> Callable[[Path, Path], None]:
    def setup(content: Path, tmp_path: Path) -> None:
        path = content / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    return setup


def _fifo(content: Path, tmp_path: Path) -> None:
    os.mkfifo(content / "img" / "pipe.png")  # opening it to read would wait for ever


def _folder(content: Path, tmp_path: Path) -> None:
    (content / "img" / "dir.png").mkdir()


def _sparse(content: Path, tmp_path: Path) -> None:
    # 2 GB by its size, no block on disk: read whole, it was a MemoryError traceback.
    with open(content / "img" / "big.png", "wb") as handle:
        os.truncate(handle.fileno(), TWO_GB)


def _link_into_git(content: Path, tmp_path: Path) -> None:
    _git_config(content, tmp_path)
    (content / "img" / "config.png").symlink_to(content / ".git" / "config")


def _link_outside(content: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "pic.png").write_bytes(PNG)
    (content / "img" / "outside.png").symlink_to(tmp_path / "elsewhere" / "pic.png")


def _nothing(content: Path, tmp_path: Path) -> None:
    pass


#: (src, how the content folder gets the file, the message after the location)
HOSTILE: dict[str, tuple[str, Callable[[Path, Path], None], str]] = {
    "git-config": (
        ".git/config",
        _git_config,
        "image '.git/config': hidden files and folders are never published",
    ),
    "the-source": (
        "questions.yaml",
        _nothing,
        "image 'questions.yaml': the source file itself is never published",
    ),
    "the-lock": (
        "questions.lock.json",
        _nothing,
        "image 'questions.lock.json': the lock file is never published",
    ),
    "dotenv": (
        ".env",
        _write(".env", b"SMTP_PASSWORD=hunter2\n"),
        "image '.env': hidden files and folders are never published",
    ),
    "png-in-hidden-folder": (
        ".hidden/x.png",
        _write(".hidden/x.png", PNG),
        "image '.hidden/x.png': hidden files and folders are never published",
    ),
    "symlink-into-git": (
        "img/config.png",
        _link_into_git,
        "image 'img/config.png': hidden files and folders are never published",
    ),
    "svg-with-script": (
        "img/logo.svg",
        _write("img/logo.svg", SVG),
        "image 'img/logo.svg': SVG is never published: it can carry scripts; export it as PNG",
    ),
    "svg-named-png": (
        "img/logo.png",
        _write("img/logo.png", SVG),
        "image 'img/logo.png': not a PNG image (the file's bytes are SVG)",
    ),
    "text-named-png": (
        "img/notes.png",
        _write("img/notes.png", b"password: hunter2\n"),
        "image 'img/notes.png': not a PNG image (the file's bytes are text)",
    ),
    "jpeg-named-png": (
        "img/photo.png",
        _write("img/photo.png", JPEG),
        "image 'img/photo.png': not a PNG image (the file's bytes are a JPEG image; name it .jpg)",
    ),
    "empty-png": (
        "img/empty.png",
        _write("img/empty.png", b""),
        "image 'img/empty.png': not a PNG image (the file is empty)",
    ),
    "not-an-image-extension": (
        "img/notes.txt",
        _write("img/notes.txt", b"notes\n"),
        "image 'img/notes.txt': expected a .png, .jpg, .jpeg, .gif, .webp or .avif file",
    ),
    "fifo-named-png": (
        "img/pipe.png",
        _fifo,
        "image 'img/pipe.png': a FIFO (named pipe), not a regular file",
    ),
    "folder-named-png": (
        "img/dir.png",
        _folder,
        "image 'img/dir.png': a folder, not a regular file",
    ),
    "sparse-2gb-png": (
        "img/big.png",
        _sparse,
        "image 'img/big.png': 2,147,483,648 bytes; at most 10,000,000",
    ),
    "symlink-to-a-png-outside": (
        "img/outside.png",
        _link_outside,
        "image 'img/outside.png' lies outside the content folder content/",
    ),
    "nul-in-the-path": (
        "img/x%00.png",
        _nothing,
        "image 'img/x%00.png': a file name cannot hold a NUL character",
    ),
}


def hostile_bank(tmp_path: Path, case: str, form: str = "![x]({src})") -> Path:
    src, setup, _ = HOSTILE[case]
    source = make_bank(tmp_path, form.format(src=src))
    setup(source.parent, tmp_path)
    return source


def build(tmp_path: Path, *extra: str) -> tuple[int, str]:
    done = run_cli(
        "build", "--source", SOURCE, "--out", "dist", "--cache", "cache", *extra, cwd=tmp_path
    )
    return done.returncode, done.stderr


def check(tmp_path: Path) -> tuple[int, str]:
    done = run_cli("validate", "--source", SOURCE, cwd=tmp_path)
    return done.returncode, done.stderr


def refusal(message: str, line: int = 10, col: int = 12) -> str:
    """What stderr holds for one refused image: its located line, then the summary."""
    return (
        f"{SOURCE}:{line}:{col}: questions[0].answer: {message}\n1 problem; nothing was written\n"
    )


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_secret_in_the_repository_is_never_published(tmp_path: Path, case: str) -> None:
    hostile_bank(tmp_path, case)
    expected = refusal(HOSTILE[case][2])
    assert build(tmp_path) == (1, expected)
    assert not (tmp_path / "dist").exists(), "a refused build writes nothing"
    assert check(tmp_path) == (1, expected)


def test_raw_html_images_are_refused_like_markdown_ones_all_at_once(tmp_path: Path) -> None:
    """``<img src>`` reaches the same gate: every hostile file is reported in one run."""
    cases = [c for c in HOSTILE if c != "symlink-into-git"]  # it makes .git like git-config
    tags = " ".join(f'<img src="{HOSTILE[c][0]}">' for c in cases)
    source = make_bank(tmp_path, tags)
    for case in cases:
        HOSTILE[case][1](source.parent, tmp_path)
    code, stderr = check(tmp_path)
    lines = stderr.splitlines()
    assert code == 1 and lines[-1] == f"{len(cases)} problems; nothing was written"
    expected = []
    for case in cases:
        # The path starts after its quote; the line is indented by 6 spaces.
        col = 6 + tags.index(f'"{HOSTILE[case][0]}"') + 1 + 1
        expected.append(f"{SOURCE}:10:{col}: questions[0].answer: {HOSTILE[case][2]}")
    assert lines[:-1] == expected
    assert build(tmp_path)[0] == 1 and not (tmp_path / "dist").exists()


def test_a_real_png_beside_the_hostile_files_is_published(tmp_path: Path) -> None:
    source = make_bank(tmp_path, "![x](img/ok.png) <img src='img/ok.png' width='40'>")
    for case, (_, setup, _) in HOSTILE.items():
        if case != "symlink-into-git":  # the same .git as git-config
            setup(source.parent, tmp_path)
    assert check(tmp_path)[0] == 0
    code, stderr = build(tmp_path)
    assert code == 0, stderr
    assert (tmp_path / "dist" / "telegram" / "001-q-1.png").read_bytes() == PNG
    everything = output_bytes(tmp_path / "dist")
    assert PNG in everything  # packed into the deck too
    assert b"ghp_SECRETTOKEN" not in everything and b'fetch("//evil")' not in everything


#: What an image that passed (and was cached) may turn into before the next build.
def _to_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _to_link_into_git(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.parent.parent / ".git" / "config")


SWAPS: dict[str, tuple[Callable[[Path], object], str]] = {
    "text": (
        lambda p: p.write_bytes(b"not a picture\n"),
        "not a PNG image (the file's bytes are text)",
    ),
    "svg": (lambda p: p.write_bytes(SVG), "not a PNG image (the file's bytes are SVG)"),
    "fifo": (_to_fifo, "a FIFO (named pipe), not a regular file"),
    "sparse": (lambda p: os.truncate(p, TWO_GB), "2,147,483,648 bytes; at most 10,000,000"),
    "symlink-into-git": (_to_link_into_git, "hidden files and folders are never published"),
}


@pytest.mark.parametrize("swap", list(SWAPS))
def test_a_cached_item_whose_image_turns_hostile_is_refused(tmp_path: Path, swap: str) -> None:
    source = make_bank(tmp_path, "![x](img/x.png)")
    _git_config(source.parent, tmp_path)
    image = source.parent / "img" / "x.png"
    image.write_bytes(PNG)
    assert build(tmp_path)[0] == 0  # the item and its image are now in the cache
    first = output_bytes(tmp_path / "dist")
    change, message = SWAPS[swap]
    change(image)
    expected = refusal(f"image 'img/x.png': {message}")
    assert build(tmp_path) == (1, expected)
    assert output_bytes(tmp_path / "dist") == first, "the last good dist/ stays"
    assert check(tmp_path) == (1, expected)


def test_the_cached_and_the_full_validation_agree_on_a_hidden_folder(tmp_path: Path) -> None:
    """``img`` repointed from a picture folder to a hidden one: the cached item's image now
    resolves into ``.secret/``, so it is validated again and refused, as the full path does."""
    source = make_bank(tmp_path, "![x](pics/x.png)")
    content = source.parent
    for folder in ("real", ".secret"):
        (content / folder).mkdir()
        (content / folder / "x.png").write_bytes(PNG)
    (content / "pics").symlink_to("real")
    memo = Memo(tmp_path / "cache")
    assert load_validated(source, memo).bank.questions[0].images[0].path.parent.name == "real"
    (content / "pics").unlink()
    (content / "pics").symlink_to(".secret")
    outcomes = []
    runs: tuple[Callable[[], object], ...] = (
        lambda: load_validated(source, memo),
        lambda: validate(load_source(source)),
    )
    for run in runs:
        with pytest.raises(PipelineError) as caught:
            run()
        outcomes.append([str(p) for p in caught.value.problems])
    expected = f"{source}:10:12: questions[0].answer: image 'pics/x.png': hidden files and "
    assert outcomes[0] == outcomes[1] == [expected + "folders are never published"]


def test_a_huge_file_is_refused_before_it_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(PNG)
    os.truncate(big, MAX_IMAGE_BYTES + 1)

    def no_open(*args: object) -> int:
        raise AssertionError("opened a file stat already refused")

    with monkeypatch.context() as patched, pytest.raises(ImageRefused) as caught:
        patched.setattr(os, "open", no_open)
        read_image_file(big)
    assert str(caught.value) == "10,000,001 bytes; at most 10,000,000"


def test_a_file_swapped_after_validation_is_not_rendered(tmp_path: Path) -> None:
    """The renderers read images the bounded, checked way too: a file turned into a FIFO or
    a huge one between validation and rendering stops the build with its name."""
    assert anki_fields.read_image is telegram.read_image is read_image  # one way
    good = tmp_path / "ok.png"
    good.write_bytes(PNG)
    assert read_image(Image("ok.png", good, Pos(SOURCE, 10, 12))) == PNG
    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    with pytest.raises(PipelineError) as caught:
        read_image(Image("x.png", fifo, Pos(SOURCE, 11, 12)))
    assert str(caught.value) == (
        f"{SOURCE}:11:12: image 'x.png': a FIFO (named pipe), not a regular file "
        "(it changed during the build)"
    )
    os.truncate(good, TWO_GB)
    with pytest.raises(PipelineError) as caught:
        read_image(Image("ok.png", good, Pos(SOURCE, 10, 12)))
    assert str(caught.value) == (
        f"{SOURCE}:10:12: image 'ok.png': 2,147,483,648 bytes; at most 10,000,000 "
        "(it changed during the build)"
    )


def test_a_symlink_loop_is_a_located_error_not_a_traceback(tmp_path: Path) -> None:
    source = make_bank(tmp_path, "![x](img/loop.png)")
    (source.parent / "img" / "loop.png").symlink_to("loop.png")
    expected = refusal("image 'img/loop.png': a symlink loop")
    assert check(tmp_path) == (1, expected)
    assert build(tmp_path, "--no-cache") == (1, expected)


def test_a_symlink_loop_in_the_content_folder_does_not_break_a_cached_build(
    tmp_path: Path,
) -> None:
    source = make_bank(tmp_path, "![x](img/loop.png)")
    (source.parent / "img" / "loop.png").symlink_to("loop.png")
    assert build(tmp_path) == (1, refusal("image 'img/loop.png': a symlink loop"))
