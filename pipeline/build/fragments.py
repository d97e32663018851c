"""Stage 4, fragments: every target's per-question work, cached and spread over the cores.

A question's fragment for a target is made once, while its Markdown tree is in memory, and
kept in the cache (:mod:`pipeline.build.cache`) under a key derived from the question's whole
record, the target's templates, the settings and the code (:func:`static_key`, with
:mod:`pipeline.build.keys`).
The check of what each output lost (:mod:`pipeline.build.losses`) runs here too, as it needs
every target's fragment of the question.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from typing import Any

from pipeline.build import losses
from pipeline.build.cache import FragmentView
from pipeline.build.contract import RenderContext, Target
from pipeline.build.keys import folder_digest, memo_key

#: Below this many questions to (re)compute, a process pool costs more than it saves.
PARALLEL_MIN = 400


def compute_fragments(ctx: RenderContext, targets: Mapping[str, Target]) -> dict[str, FragmentView]:
    """Every target's fragment for every question: from the cache, else computed (spread
    over the cores when there are many). Fragments stay in the memo and load on access."""
    makers = {name: t for name, t in targets.items() if t.fragment is not None}
    static = {name: static_key(name, t, ctx) for name, t in makers.items()}
    if LOSSES_HOST in static:  # its fragment carries the check of what every output lost
        static[LOSSES_HOST] = memo_key("fragment+losses", static)
    keys: dict[str, dict[str, str]] = {name: {} for name in static}
    missing: list[int] = []
    for i, q in enumerate(ctx.bank.questions):
        for name in static:
            keys[name][q.id] = f"{static[name]}\0{q.fingerprint}"
        if not all(ctx.memo.contains(keys[name][q.id]) for name in static):
            missing.append(i)
    progress = ctx.options.progress  # told after each question, or each worker's chunk
    if progress is not None:
        progress("fragments", 0, len(missing))
    done = 0
    for chunk in _compute_missing(ctx, makers, missing):
        for i, values in chunk:
            qid = ctx.bank.questions[i].id
            for name, value in values.items():
                ctx.memo.store(keys[name][qid], value)
        done += len(chunk)
        if progress is not None:
            progress("fragments", done, len(missing))
    return {name: FragmentView(ctx.memo, keys[name]) for name in static}


#: The target whose fragment carries the warnings of :func:`pipeline.build.losses.check`
#: (its renderer reports a fragment's warnings at the question): one cached entry read that
#: is read anyway, instead of 10,000 more on every rebuild. Its key covers every target's.
LOSSES_HOST = "telegram"


def static_key(name: str, target: Target, ctx: RenderContext) -> str:
    """What a target's fragments depend on besides the question (whose fingerprint is its
    whole record): the target's templates, every setting, its ``context``, and the code."""
    return memo_key(
        f"fragment:{name}",
        folder_digest(ctx.options.template_folder(target.templates)) if target.templates else "",
        ctx.bank.settings,
        target.context(ctx),
    )


_WORK: tuple[RenderContext, Mapping[str, Target]] | None = None


def _fragments_of(indices: list[int]) -> list[tuple[int, dict[str, Any]]]:
    """All targets' fragments for some questions; each tree is dropped once used."""
    assert _WORK is not None
    ctx, makers = _WORK
    out = []
    for i in indices:
        q = ctx.bank.questions[i]
        values = {}
        for name, target in makers.items():
            assert target.fragment is not None
            values[name] = target.fragment(q, ctx)
        host = values.get(LOSSES_HOST)
        if isinstance(host, dict) and isinstance(host.get("warnings"), list):
            host["warnings"] += losses.check(q, values, ctx.bank.settings.newsletter.base_url)
        out.append((i, values))
        q.__dict__.pop("doc", None)  # free the parsed trees: fragments hold what is needed
        q.__dict__.pop("title_doc", None)
    return out


def _compute_missing(
    ctx: RenderContext, makers: Mapping[str, Target], missing: list[int]
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """Fragments of the ``missing`` questions, yielded as they are ready: a question at a
    time, or a worker's whole chunk."""
    global _WORK
    _WORK = (ctx, makers)
    try:
        workers = min(os.cpu_count() or 1, 8)
        if len(missing) < PARALLEL_MIN or workers < 2 or "fork" not in get_all_start_methods():
            for i in missing:
                yield _fragments_of([i])
            return
        # Forked workers inherit the context; only indices go out and plain data comes back.
        chunks = [missing[k : k + 50] for k in range(0, len(missing), 50)]
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            yield from pool.map(_fragments_of, chunks)
    finally:
        _WORK = None
