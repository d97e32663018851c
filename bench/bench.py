"""Benchmark: the pipeline against the naive reference on synthetic banks (``make bench``).

For each size it generates a bank, then runs, interleaved and repeated, each in a fresh
process: the naive script; a cold build (no cache, empty dist/); a rebuild after editing one
answer; a rebuild with nothing changed. It prints medians, peak memory (max RSS of the
process) and the ratios to the naive script, plus the pipeline's own per-stage times of a
cold build and of a one-edit rebuild.

This is a benchmark, not a test: it asserts nothing. Figures in the README come from it.

Usage: python bench/bench.py [--sizes 1000,10000,100000] [--repeat 3] [--bank SOURCE]

``--bank`` measures your own bank instead of synthetic ones: its folder (the source and the
images next to it) is copied to a temporary folder, and the copy is what gets built and edited.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import write_bank

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command; return (seconds, peak RSS in MB, stderr)."""
    # stderr goes to a file, not a pipe: a bank with thousands of warnings would fill a pipe
    # that nobody reads while the process is waited for.
    with tempfile.TemporaryFile("w+", encoding="utf-8") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, **(env or {})},
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        err.seek(0)
        stderr = err.read()
    if status != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{stderr}")
    return elapsed, usage.ru_maxrss / 1024, stderr


#: An answer written as a block scalar (``answer: |`` or ``>``), and its first line's indent.
_ANSWER = re.compile(r"^ *answer: *[|>][-+0-9]* *(?:#.*)?\n(?: *\n)*( +)\S", re.M)


def edit_one_answer(source: Path, round_no: int) -> None:
    """Add a paragraph at the start of an answer in the second half of the source."""
    text = source.read_text(encoding="utf-8")
    found = _ANSWER.search(text, len(text) // 2) or _ANSWER.search(text)
    if found is None:
        raise SystemExit(f"{source}: no answer written as a block (answer: |) to edit")
    at, indent = found.start(1), found.group(1)
    source.write_text(
        text[:at] + f"{indent}Правка номер {round_no}.\n\n" + text[at:], encoding="utf-8"
    )


def bench_size(n: int, repeat: int, work: Path, bank: Path | None = None) -> dict[str, object]:
    folder = work / f"bank-{n}"
    if bank is None:
        source = write_bank(folder / "content", n)
    else:
        skip = shutil.ignore_patterns(".*", "dist", "*.lock.json")
        shutil.copytree(bank.parent, folder / "content", ignore=skip, symlinks=True)
        source = folder / "content" / bank.name
    out, naive_out = folder / "dist", folder / "naive-out"
    cache = folder / ".cache"
    py = sys.executable
    build = [
        py,
        "-m",
        "pipeline",
        "build",
        "--source",
        str(source),
        "--out",
        str(out),
        "--cache",
        str(cache / "pipeline"),
        "--templates",
        str(ROOT / "templates"),
    ]
    env = {"PIPELINE_TIMINGS": "1", "PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": "1796000000"}
    times: dict[str, list[float]] = {k: [] for k in ("naive", "cold", "one-edit", "no-change")}
    peaks: dict[str, float] = {}
    stages: dict[str, dict[str, float]] = {}
    for r in range(repeat):
        shutil.rmtree(naive_out, ignore_errors=True)
        naive_out.mkdir()
        t, m, _ = run(
            [py, str(ROOT / "bench" / "naive.py"), str(source), str(naive_out)], cwd=folder
        )
        times["naive"].append(t)
        peaks["naive"] = max(peaks.get("naive", 0), m)
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        source.with_name("questions.lock.json").unlink(missing_ok=True)
        for kind in ("cold", "one-edit", "no-change"):
            if kind == "one-edit":
                edit_one_answer(source, r)
            t, m, err = run(build, cwd=folder, env=env)
            times[kind].append(t)
            peaks[kind] = max(peaks.get(kind, 0), m)
            if kind in ("cold", "one-edit"):
                stages[kind] = _stages(err)  # the last round's
    naive = statistics.median(times["naive"])
    return {
        "questions": n,
        "median_s": {k: round(statistics.median(v), 3) for k, v in times.items()},
        "ratio_to_naive": {
            k: round(statistics.median(v) / naive, 3) for k, v in times.items() if k != "naive"
        },
        "peak_rss_mb": {k: round(v) for k, v in peaks.items()},
        "stages_s": stages,
    }


def _stages(stderr: str) -> dict[str, float]:
    for line in stderr.splitlines():
        if line.startswith("timings: "):
            return dict(json.loads(line.removeprefix("timings: ")))
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bank", type=Path, help="a source file to measure instead")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        if args.bank is not None:
            n = args.bank.read_text(encoding="utf-8").count("\n  - id:")  # for the label only
            result = bench_size(n, args.repeat, Path(tmp), args.bank.resolve())
            print(json.dumps(result, ensure_ascii=False), flush=True)
            return
        for n in (int(s) for s in args.sizes.split(",")):
            repeat = args.repeat if n <= 10_000 else 1
            result = bench_size(n, repeat, Path(tmp))
            print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
