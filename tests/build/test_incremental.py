"""Rebuilds: nothing changed -> nothing done; one edit -> unchanged files untouched; cache use."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.build.contract import BuildOptions, OutputFile
from pipeline.build.run import build
from pipeline.errors import PipelineError
from pipeline.targets.digest.weeks import _make_weeks as _real_make_weeks
from tests.support.banks import NOW, SEED, TEMPLATES
from tests.support.write import manifest_entry, write_outputs


def seed_copy(tmp_path: Path) -> tuple[Path, BuildOptions]:
    (tmp_path / "content").mkdir()
    source = tmp_path / "content" / "questions.yaml"
    shutil.copy(SEED, source)
    options = BuildOptions(
        source=source,
        out=tmp_path / "dist",
        templates=TEMPLATES,
        now=NOW,
        cache=tmp_path / ".cache",
    )
    return source, options


def inodes(dist: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(dist)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in dist.rglob("*")
        if p.is_file()
    }


def test_nothing_changed_means_nothing_done(tmp_path: Path) -> None:
    _, options = seed_copy(tmp_path)
    first = build(options)
    assert not first.unchanged and first.bank is not None
    before = inodes(options.out)
    again = build(options)
    assert again.unchanged and again.bank is None
    assert again.questions == 9
    assert [(f.path, f.sha256) for f in again.files] == [
        (f.path, f.sha256) for f in sorted(first.files, key=lambda f: f.path)
    ]
    assert inodes(options.out) == before
    assert set(again.timings) == {"check:unchanged"}


def _into_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _into_link(path: Path) -> None:
    other = path.with_name("elsewhere")
    path.rename(other)
    path.symlink_to(other.name)


@pytest.mark.parametrize(
    ("pattern", "damage"),
    [
        ("telegram/*.html", Path.unlink),
        ("digest/*.eml", _into_folder),
        ("telegram/*.txt", _into_link),
        ("anki", shutil.rmtree),
        ("README.md", Path.unlink),
    ],
    ids=["file-gone", "file-now-a-folder", "file-now-a-link", "folder-gone", "top-file-gone"],
)
def test_a_damaged_output_folder_is_rebuilt(
    tmp_path: Path, pattern: str, damage: Callable[[Path], object]
) -> None:
    _, options = seed_copy(tmp_path)
    build(options)
    assert build(options).unchanged
    damage(next(options.out.glob(pattern)))
    assert not build(options).unchanged
    assert build(options).unchanged


def test_one_edit_rebuilds_and_leaves_unchanged_files_untouched(tmp_path: Path) -> None:
    source, options = seed_copy(tmp_path)
    build(options)
    before = inodes(options.out)
    text = source.read_text(encoding="utf-8")
    source.write_text(
        text.replace("Обе техники используются", "Обе техники применяются"), encoding="utf-8"
    )
    report = build(options)
    assert not report.unchanged
    after = inodes(options.out)
    changed = {path for path in after if after[path] != before.get(path)}
    # The edited question's post, the desk, calendar, deck, its digest week and the manifest.
    assert "telegram/009-l1-vs-l2.html" in changed
    assert "telegram/001-roc-auc-log.html" not in changed
    assert "digest/2026-W49.html" not in changed
    assert "manifest.json" in changed
    manifest = json.loads((options.out / "manifest.json").read_text())
    assert {e["path"] for e in manifest["outputs"]} == set(after) - {"manifest.json"}


def test_the_cache_is_reused_and_safe_to_delete(tmp_path: Path) -> None:
    _, options = seed_copy(tmp_path)
    cold = build(options)
    data = {f.path: f.data for f in cold.files}
    shutil.rmtree(options.out)
    warm = build(options)  # cache present, output gone: a real build from the cache
    assert not warm.unchanged
    assert {f.path: f.data for f in warm.files} == data
    shutil.rmtree(tmp_path / ".cache")
    shutil.rmtree(options.out)
    assert {f.path: f.data for f in build(options).files} == data


def test_out_may_not_replace_a_folder_that_is_not_a_build(tmp_path: Path) -> None:
    source, _ = seed_copy(tmp_path)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "important.txt").write_text("keep me")
    with pytest.raises(PipelineError, match="is not a build output"):
        build(BuildOptions(source=source, out=notes, templates=TEMPLATES, now=NOW))
    with pytest.raises(PipelineError, match="contains the source"):
        build(BuildOptions(source=source, out=source.parent, templates=TEMPLATES, now=NOW))
    assert (notes / "important.txt").read_text() == "keep me"
    # A fresh clone's dist/ holds only README.md: that is fine to replace.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "README.md").write_text("x")
    build(BuildOptions(source=source, out=fresh, templates=TEMPLATES, now=NOW))
    write_outputs([OutputFile("a.txt", "x", b"a")], tmp_path / "other")
    build(BuildOptions(source=source, out=tmp_path / "other", templates=TEMPLATES, now=NOW))


CALLS: list[str] = []


def _toy_fragment(q, ctx):  # type: ignore[no-untyped-def]
    CALLS.append(q.id)
    code = q.doc.find(".//code")
    return (q.id, len(q.answer), code.text if code is not None else None)


def _toy_render(ctx):  # type: ignore[no-untyped-def]
    from pipeline.build.contract import Rendered

    lines = [repr(ctx.fragments["toy"][q.id]) for q in ctx.bank.questions]
    return Rendered(
        files=(OutputFile(f"toy/{n}.txt", "toy", line.encode()) for n, line in enumerate(lines))
    )


@pytest.fixture
def toy_target(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from pipeline.build.contract import Target
    from pipeline.targets import registry

    CALLS.clear()
    monkeypatch.setattr(registry, "TARGETS", {"toy": Target(_toy_render, _toy_fragment)})
    return CALLS


def test_fragments_are_computed_once_and_then_come_from_the_cache(
    tmp_path: Path, toy_target
) -> None:  # type: ignore[no-untyped-def]
    source, options = seed_copy(tmp_path)
    build(options)
    assert len(toy_target) == 9
    diag = (options.out / "toy" / "6.txt").read_text()
    assert diag == "('matrix-diagonal-sum', 1067, 'mat')"
    toy_target.clear()
    source.write_text(
        source.read_text(encoding="utf-8").replace("KNN можно довольно легко", "KNN можно легко")
    )
    build(options)
    assert toy_target == ["knn"]  # only the edited question is serialised again


def test_cold_fragments_in_worker_processes_match_serial_ones(
    tmp_path: Path,
    toy_target,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    import pipeline.build.fragments as build_module

    _, options = seed_copy(tmp_path)
    serial = {f.path: f.data for f in build(replace_cache(options, None)).files}
    monkeypatch.setattr(build_module, "PARALLEL_MIN", 1)
    parallel = {f.path: f.data for f in build(replace_cache(options, tmp_path / "c2")).files}
    assert parallel == serial


def replace_cache(options: BuildOptions, cache: Path | None) -> BuildOptions:
    return replace(options, cache=cache)


def test_a_located_error_from_a_worker_process_arrives_whole(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    toy_target,  # type: ignore[no-untyped-def]
) -> None:
    import pipeline.build.fragments as build_module
    from pipeline import markup

    monkeypatch.setattr(build_module, "PARALLEL_MIN", 1)
    real_parse = markup.parse_markdown

    def parse(text: str):  # type: ignore[no-untyped-def]
        if "евклидово расстояние" in text:
            raise markup.MarkupLimitError("too much of something")
        return real_parse(text)

    monkeypatch.setattr(markup, "parse_markdown", parse)  # forked workers inherit the patch
    _, options = seed_copy(tmp_path)
    with pytest.raises(PipelineError) as caught:
        build(options)
    (problem,) = caught.value.problems
    assert (problem.path, problem.message) == ("questions[5].answer", "too much of something")
    assert problem.pos is not None and problem.pos.line > 1
    assert not (options.out).exists()


def test_a_big_replaced_build_is_removed_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import pipeline.build.write as write_module

    monkeypatch.setattr(write_module, "BACKGROUND_REMOVAL", 3)
    dist = tmp_path / "dist"
    write_outputs([OutputFile(f"f{i}.txt", "x", b"old %d" % i) for i in range(5)], dist)
    write_outputs([OutputFile("g.txt", "x", b"new")], dist)
    assert sorted(p.name for p in dist.iterdir()) == ["README.md", "g.txt", "manifest.json"]
    for _ in range(100):  # the detached 'rm' finishes on its own
        if [p.name for p in tmp_path.iterdir()] == ["dist"]:
            break
        time.sleep(0.05)
    assert [p.name for p in tmp_path.iterdir()] == ["dist"]


def test_cache_entries_a_build_asked_for_survive_its_save(tmp_path: Path) -> None:
    # A rebuild whose targets reuse finished files reads no fragments; the fragments are still
    # current and must not be dropped (that made every second edit recompute the whole bank).
    from pipeline.build.cache import Memo

    keys = [f"fragment:toy\x00{n}" for n in range(500)]
    memo = Memo(tmp_path)
    for key in keys:
        memo.store(key, key)
    memo.save()
    memo = Memo(tmp_path)
    assert all(memo.contains(key) for key in keys)
    memo.lookup(keys[0])
    memo.save()
    memo = Memo(tmp_path)
    assert [memo.lookup(key) for key in keys] == keys
    memo.save()
    memo = Memo(tmp_path)
    assert memo.contains(keys[0])  # only one asked for: the other 499 are stale and dropped
    memo.save()
    memo = Memo(tmp_path)
    assert memo.lookup(keys[0]) == keys[0] and not memo.contains(keys[1])


def test_unchanged_digest_weeks_are_linked_without_being_assembled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.targets.digest import compose as digest

    source, options = seed_copy(tmp_path)
    build(options)
    made: list[str] = []
    real = digest.write_message

    def counting(letter, prepared):  # type: ignore[no-untyped-def]
        made.append(letter.ident)
        return real(letter, prepared)

    monkeypatch.setattr(digest, "write_message", counting)
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("KNN можно довольно легко", "KNN можно легко"), "utf-8")
    report = build(options)
    assert made == ["digest-2026-W52"]  # the edited question's week only
    # Cache present, output gone: the known weeks are assembled again, byte for byte.
    shutil.rmtree(options.out)
    again = build(options)
    assert len(made) == 1 + len([f for f in again.files if f.kind == "digest-eml"])
    assert {f.path: f.sha256 for f in again.files} == {f.path: f.sha256 for f in report.files}


def test_a_known_file_is_linked_or_made_and_must_match_its_digest(tmp_path: Path) -> None:
    import hashlib

    from pipeline.build.contract import KnownFile
    from pipeline.build.write import Staging

    out = tmp_path / "dist"
    write_outputs([OutputFile("a.txt", "x", b"alpha")], out)
    sha = hashlib.sha256(b"alpha").hexdigest()
    calls: list[str] = []

    def make(data: bytes) -> Callable[[], bytes]:
        return lambda: calls.append("made") or data

    staging = Staging(out)
    staging.add(KnownFile("a.txt", "x", sha, make(b"alpha")))
    staging.add(KnownFile("b.txt", "x", sha, make(b"alpha")))  # not in the previous build
    staging.add(OutputFile("d.txt", "x", b"delta"))
    staging.commit()
    assert calls == ["made"]
    assert {p.name: p.read_bytes() for p in out.glob("*.txt")} == {
        "a.txt": b"alpha",
        "b.txt": b"alpha",
        "d.txt": b"delta",
    }
    assert (out / "a.txt").stat().st_nlink == 1  # linked, and the old build is gone
    staging = Staging(out)
    with pytest.raises(RuntimeError, match="differs from its digest"):
        staging.add(KnownFile("c.txt", "x", sha, make(b"other")))
    staging.discard()
    assert sorted(p.name for p in out.glob("*.txt")) == ["a.txt", "b.txt", "d.txt"]


def test_manifest_lines_are_json_of_each_entry(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    files = [
        OutputFile("a/b.txt", "x", b"1", ("q-1", 'кавычка"\\')),
        OutputFile("c.txt", "пост", b"2"),
        # What separates two entries in the encoded list, inside a value: not a boundary.
        OutputFile("d.txt", "x", b"3", ('}, {"path": "e.txt', '"}, {"path": ')),
        OutputFile("e.txt", '}, {"path": ', b"4", ("q-2",)),
    ]
    written = write_outputs(files, out)
    lines = (out / "manifest.json").read_text(encoding="utf-8").splitlines()[2:-2]
    entries = [manifest_entry(w) for w in sorted(written, key=lambda w: w.path)]
    assert [line.strip().rstrip(",") for line in lines] == [
        json.dumps(e, ensure_ascii=False) for e in entries
    ]


def test_fragments_read_in_the_expected_order_come_in_batches(tmp_path: Path) -> None:
    from pipeline.build.cache import FragmentView, Memo

    memo = Memo(tmp_path)
    keys = {f"q{n}": f"fragment:x\x00{n}" for n in range(450)}
    for qid, key in keys.items():
        memo.store(key, {"id": qid})
    memo.save()
    memo = Memo(tmp_path)
    queries: list[str] = []
    assert memo._db is not None
    memo._db.set_trace_callback(queries.append)
    view = FragmentView(memo, keys)
    order = sorted(keys, reverse=True)
    view.expect(order)
    assert [view[qid]["id"] for qid in order] == order
    assert len(queries) == 3  # 200 + 200 + 50
    assert view["q7"] == {"id": "q7"}  # outside the order: one by one
    with pytest.raises(KeyError):
        FragmentView(memo, {"gone": "fragment:x\x00gone"})["gone"]


def test_a_file_gone_from_the_previous_build_is_written_not_linked(tmp_path: Path) -> None:
    _, options = seed_copy(tmp_path)
    first = build(options)
    gone = next(options.out.glob("telegram/*.html"))
    data = gone.read_bytes()
    gone.unlink()  # the manifest still lists it
    again = build(options)
    assert not again.unchanged and gone.read_bytes() == data
    assert {f.path: f.sha256 for f in again.files} == {f.path: f.sha256 for f in first.files}


def test_a_writer_failure_stops_the_build_and_keeps_the_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.build import write

    source, options = seed_copy(tmp_path)
    build(options)
    before = inodes(options.out)
    broken = tmp_path / "broken_writer.py"
    broken.write_text("import sys\nsys.stdin.buffer.read(100)\nsys.exit('disk full')\n")
    monkeypatch.setattr(write, "_WRITER", str(broken))
    source.write_text(source.read_text(encoding="utf-8").replace("KNN можно", "KNN"), "utf-8")
    with pytest.raises(OSError, match="disk full"):
        build(options)
    assert inodes(options.out) == before
    assert not list(tmp_path.glob(".dist.staging-*"))


def test_a_known_week_is_made_again_when_the_output_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A week linked by digest keeps only its files' digests in the cache: without dist/ it is
    # made again from its fragments, and must come out byte for byte as it was.
    from pipeline.targets.digest import compose as digest

    source, options = seed_copy(tmp_path)
    build(options)
    weeks = [k for k in _memo_keys(tmp_path / ".cache") if k.startswith("digest-week")]
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("KNN можно", "KNN"), "utf-8")
    edited = build(options)  # the other weeks are linked
    shutil.rmtree(options.out)
    remade: list[str] = []
    real = digest.Digest.remade
    monkeypatch.setattr(
        digest.Digest, "remade", lambda self, week, qs: remade.append(week) or real(self, week, qs)
    )
    again = build(options)  # the linked weeks are made again (their digests are checked)
    assert len(remade) == len(weeks) > 1
    assert {f.path: f.sha256 for f in again.files if f.kind.startswith("digest")} == {
        f.path: f.sha256 for f in edited.files if f.kind.startswith("digest")
    }


def _memo_keys(folder: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(folder / "memo.sqlite") as db:
        return [k for (k,) in db.execute("SELECT k FROM memo")]


def test_a_failing_writer_is_one_line_from_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.build import write
    from pipeline.cli import main

    source, options = seed_copy(tmp_path)
    broken = tmp_path / "broken_writer.py"
    broken.write_text("import sys\nsys.exit('telegram/001-x.html: No space left on device')\n")
    monkeypatch.setattr(write, "_WRITER", str(broken))
    code = main(["build", "--source", str(source), "--out", str(options.out), "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().endswith("failed: telegram/001-x.html: No space left on device")
    assert "Traceback" not in err and not options.out.exists()


def test_the_writer_copies_where_it_cannot_link(tmp_path: Path) -> None:
    import struct
    import subprocess
    import sys

    from pipeline.build import write

    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a second file system to make hard links fail")
    previous = Path(tempfile.mkdtemp(dir=shm))
    try:
        (previous / "a.txt").write_bytes(b"old bytes")
        staging = tmp_path / "staging"
        staging.mkdir()
        frames = b"".join(
            struct.pack("<cIQ", b"L", len(name), 0) + name for name in (b"a.txt", b"gone.txt")
        )
        done = subprocess.run(
            [sys.executable, "-I", write._WRITER, str(staging), str(previous)],
            input=frames,
            capture_output=True,
            check=True,
        )
        assert (staging / "a.txt").read_bytes() == b"old bytes"
        assert done.stdout == b"gone.txt\n"  # its source is gone: the build is told
    finally:
        shutil.rmtree(previous)


def test_digest_weeks_made_by_worker_processes_match_serial_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.targets.digest import weeks as digest

    _, options = seed_copy(tmp_path)
    serial = {f.path: f.sha256 for f in build(replace_cache(options, None)).files}
    monkeypatch.setattr(digest, "AHEAD_MIN", 1)
    monkeypatch.setattr(digest, "_make_weeks", _make_weeks_noting_the_process)
    monkeypatch.setenv("WEEKS_MADE_IN", str(tmp_path))
    ahead = build(replace_cache(options, tmp_path / "c2"))
    assert {f.path: f.sha256 for f in ahead.files} == serial
    makers = {int(p.stem) for p in tmp_path.glob("*.pid")}
    assert makers and os.getpid() not in makers  # made in worker processes


def _make_weeks_noting_the_process(jobs):  # type: ignore[no-untyped-def]
    (Path(os.environ["WEEKS_MADE_IN"]) / f"{os.getpid()}.pid").touch()
    return _real_make_weeks(jobs)


def test_a_template_error_in_a_digest_worker_is_reported_as_without_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.targets.digest import weeks as digest

    _, options = seed_copy(tmp_path)
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    page = templates / "digest" / "email.html"
    page.write_text(page.read_text(encoding="utf-8").replace("</body>", "{{ nope() }}</body>"))
    options = replace_cache(options, None)
    from dataclasses import replace

    options = replace(options, templates=templates)
    with pytest.raises(PipelineError) as serial:
        build(options)
    monkeypatch.setattr(digest, "AHEAD_MIN", 1)
    with pytest.raises(PipelineError) as ahead:
        build(options)
    assert [str(p) for p in ahead.value.problems] == [str(p) for p in serial.value.problems]


def test_an_oversized_extras_stylesheet_is_warned_about_on_every_build(tmp_path: Path) -> None:
    from dataclasses import replace

    source, options = seed_copy(tmp_path)
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    extras = templates / "digest" / "extras.css"
    extras.write_text(extras.read_text(encoding="utf-8") + "/* padding */\n" * 2000)
    options = replace(options, templates=templates)

    def extras_warnings(report) -> list[str]:  # type: ignore[no-untyped-def]
        return [w.message for w in report.warnings if "extras.css" in w.message]

    assert len(extras_warnings(build(options))) == 1
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("KNN можно", "KNN"), "utf-8")
    assert len(extras_warnings(build(options))) == 1  # weeks from the cache: still said


def test_a_source_saved_during_a_build_is_built_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.build.run as build_module

    source, options = seed_copy(tmp_path)
    text = source.read_text(encoding="utf-8")
    edited = text.replace("KNN можно", "KNN")
    real = build_module.load_validated

    def load_then_save(path, memo):  # type: ignore[no-untyped-def]
        loaded = real(path, memo)
        path.write_text(edited, encoding="utf-8")  # the editor saves while the build runs
        return loaded

    monkeypatch.setattr(build_module, "load_validated", load_then_save)
    build(options)
    monkeypatch.setattr(build_module, "load_validated", real)
    again = build(options)
    assert not again.unchanged  # what is on disk now was never built
    assert build(options).unchanged


def test_a_changed_lock_file_means_a_new_build(tmp_path: Path) -> None:
    source, options = seed_copy(tmp_path)
    build(options)
    lock = source.with_name("questions.lock.json")
    lock.write_text(lock.read_text(encoding="utf-8").replace("Z", "Z "), encoding="utf-8")
    assert not build(options).unchanged


def test_a_split_week_is_remembered_and_warned_about_where_its_questions_now_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.targets.digest import compose as digest
    from tests.support.digest import long_week

    (tmp_path / "content").mkdir()
    source = tmp_path / "content" / "questions.yaml"
    text = long_week(12)
    source.write_text(text, encoding="utf-8")
    options = BuildOptions(
        source=source, out=tmp_path / "dist", templates=TEMPLATES, now=NOW, cache=tmp_path / "c"
    )
    first = build(options)
    [note] = [w for w in first.warnings if w.message.startswith("digest 2026-W49: 12 questions")]
    assert "split into" in note.message
    made: list[str] = []
    real = digest.Digest.make
    monkeypatch.setattr(
        digest.Digest,
        "make",
        lambda self, week, views: made.append(week) or real(self, week, views),
    )
    # Every question two lines further down, nothing else changed: the week is known.
    source.write_text(text.replace("questions:\n", "questions:\n# один\n# два\n", 1), "utf-8")
    moved = build(options)
    assert made == []
    fresh = build(replace_cache(replace(options, out=tmp_path / "fresh"), None))
    made.clear()
    assert moved.warnings == fresh.warnings
    assert note in first.warnings and note.pos is not None
    assert replace(note, pos=replace(note.pos, line=note.pos.line + 2)) in moved.warnings
    files = {f.path: f.sha256 for f in moved.files}
    assert files == {f.path: f.sha256 for f in fresh.files}
    assert files == {f.path: f.sha256 for f in first.files}
    # Without the previous output the known parts are made again, byte for byte.
    shutil.rmtree(options.out)
    again = build(options)
    assert made == ["2026-W49"]
    assert {f.path: f.sha256 for f in again.files} == files
    assert again.warnings == fresh.warnings


def test_split_weeks_made_by_worker_processes_match_serial_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.targets.digest import weeks as digest
    from tests.support.digest import long_week

    (tmp_path / "content").mkdir()
    source = tmp_path / "content" / "questions.yaml"
    source.write_text(long_week(12), encoding="utf-8")
    options = BuildOptions(source=source, out=tmp_path / "dist", templates=TEMPLATES, now=NOW)
    serial = build(options)
    monkeypatch.setattr(digest, "AHEAD_MIN", 1)
    real = digest.Digest.make

    def noting(self, week, views):  # type: ignore[no-untyped-def]
        (tmp_path / f"{os.getpid()}.pid").touch()
        return real(self, week, views)

    monkeypatch.setattr(digest.Digest, "make", noting)
    ahead = build(replace(options, out=tmp_path / "dist2"))
    assert {f.path: f.sha256 for f in ahead.files} == {f.path: f.sha256 for f in serial.files}
    assert ahead.warnings == serial.warnings
    assert any("split into" in w.message for w in ahead.warnings)
    makers = {int(p.stem) for p in tmp_path.glob("*.pid")}
    assert makers and os.getpid() not in makers  # split in a worker process


def test_a_cached_output_warning_names_the_question_where_it_is_now(tmp_path: Path) -> None:
    """An output's warning is cached with the question's fragments, by its content; after a
    question is added above it, the warning names its new place, as a fresh build does."""
    source, options = seed_copy(tmp_path)
    text = source.read_text(encoding="utf-8")
    long = "      " + "Очень длинный ответ про метрики. " * 200 + "\n"
    text = text.replace("    answer: |\n", "    answer: |\n" + long, 1)  # the first question
    source.write_text(text, encoding="utf-8")
    first = build(options)
    split = [w for w in first.warnings if w.path == "questions[0].answer"]
    assert split, first.warnings  # the post is split: a warning from the Telegram fragment
    added = "  - id: brand-new\n    question: Новый?\n    answer: Да.\n    grades: [junior]\n\n"
    at = text.index("  - id: ")
    source.write_text(text[:at] + added + text[at:], encoding="utf-8")
    again = build(options)  # the long question's fragments come from the cache
    moved = [w for w in again.warnings if w.message == split[0].message]
    assert [w.path for w in moved] == ["questions[1].answer"]
    assert moved[0].pos is not None and split[0].pos is not None
    assert moved[0].pos.line == split[0].pos.line + len(added.splitlines())
