"""Build the same banks with an earlier commit's code and with the working tree; compare.

    python bench/same_outputs.py [REV]        (default REV: HEAD)

A refactoring must not change a byte of any output. For each bank (the seed, the tests'
banks, the public bank, a synthetic one), both versions build a copy of the bank's folder
(so the lock file each writes stays in the copy) at the same pinned time, with a cache of
their own and no network. Then the bank's last question is removed and the first answer
edited, and both build again from their caches (a removed question stays in the deck as a
notice; the lock remembers it). After each round every output file is compared byte for
byte, and so are the lock files. Exits 1 and names the files when anything differs.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import synthetic  # noqa: E402

PINNED_EPOCH = "1795176000"  # 2026-11-19, as the tests pin it
BANKS = {
    "seed": ROOT / "content" / "questions.yaml",
    "everything": ROOT / "tests" / "fixtures" / "source" / "good" / "everything.yaml",
    "minimal": ROOT / "tests" / "fixtures" / "source" / "good" / "minimal.yaml",
    "public": ROOT / "tests" / "fixtures" / "public" / "data-science-interviews" / "questions.yaml",
}


def build(code: Path, source: Path, out: Path, cache: Path) -> None:
    env = dict(os.environ, SOURCE_DATE_EPOCH=PINNED_EPOCH, PYTHONPATH=str(code))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "build",
            "--source",
            str(source),
            "--out",
            str(out),
            "--templates",
            str(code / "templates"),
            "--no-cache",
            "--offline",
        ],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"{code}: build of {source} failed:\n{done.stderr}")


def edit(source: Path) -> None:
    """Remove the bank's last question and change the first answer's first line."""
    text = source.read_text(encoding="utf-8")
    first, last = text.find("\n  - id:"), text.rfind("\n  - id:")
    if last > first:  # more than one question: drop the last
        text = text[: last + 1]
    end = text.index("\n", text.index("answer:"))
    if text[end - 1] in "|>":  # a block: its first line is the next one
        end = text.index("\n", end + 1)
    text = text[:end] + " (правка)" + text[end:]
    source.write_text(text, encoding="utf-8")


def differences(a: Path, b: Path) -> list[str]:
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    diff = [f"only in old: {p}" for p in sorted(files_a - files_b)]
    diff += [f"only in new: {p}" for p in sorted(files_b - files_a)]
    diff += [
        f"differs: {p}"
        for p in sorted(files_a & files_b)
        if not filecmp.cmp(a / p, b / p, shallow=False)
    ]
    return diff


def main() -> int:
    rev = sys.argv[1] if len(sys.argv) > 1 else "HEAD"
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        old_code = work / "old-code"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old_code), rev],
            check=True,
            capture_output=True,
        )
        try:
            synthetic_bank = work / "synthetic" / "questions.yaml"
            synthetic_bank.parent.mkdir()
            synthetic_bank.write_text(synthetic.bank_yaml(300), encoding="utf-8")
            for name, source in {**BANKS, "synthetic": synthetic_bank}.items():
                total = 0
                for round_ in ("first", "edited"):
                    for side, code in (("old", old_code), ("new", ROOT)):
                        folder = work / side / name
                        if round_ == "first":
                            shutil.copytree(
                                source.parent, folder, ignore=shutil.ignore_patterns("*.lock")
                            )
                        else:
                            edit(folder / source.name)
                        cache = work / side / f"{name}-cache"
                        build(code, folder / source.name, work / side / f"{name}-dist", cache)
                    for kind in ("dist", "folder"):
                        old = work / "old" / (f"{name}-dist" if kind == "dist" else name)
                        new = work / "new" / (f"{name}-dist" if kind == "dist" else name)
                        found = differences(old, new)
                        failures += [f"{name} ({round_}): {d}" for d in found]
                        total += sum(1 for p in old.rglob("*") if p.is_file())
                print(f"{name:12} {total:6} files compared", flush=True)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_code)],
                check=False,
                capture_output=True,
            )
    for line in failures:
        print(line)
    print("identical" if not failures else f"{len(failures)} differences against {rev}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
