"""Where a command finds the question bank, and where a build puts what it makes.

An editor runs ``pipeline build`` in the folder of their own bank (one ``pipeline init`` made,
or any other): with no ``--source`` the bank is ``questions.yaml`` in the working folder, else
``content/questions.yaml`` (this repository's layout). Everything a build makes by default
lies beside the bank, whatever the working folder: ``dist/`` and the cache
``.cache/pipeline/`` in the bank's folder, as its lock file ``questions.lock.json`` is. So
``pipeline build --source ~/bank/questions.yaml`` run from anywhere writes only in
``~/bank/``.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import UsageError

#: Where a command looks for the bank when ``--source`` is not given, first to last.
SOURCE_CANDIDATES = (Path("questions.yaml"), Path("content/questions.yaml"))
#: The output folder and the cache, relative to the bank's folder.
OUT_NAME = Path("dist")
CACHE_NAME = Path(".cache/pipeline")


def default_source() -> Path:
    """The first bank of :data:`SOURCE_CANDIDATES` in the working folder."""
    for candidate in SOURCE_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"no question bank here: neither {' nor '.join(map(str, SOURCE_CANDIDATES))} "
        f"exists in {Path.cwd()}; "
        "give --source PATH, or start a bank with 'pipeline init'"
    )


def default_out(source: Path) -> Path:
    """``dist/`` beside the bank."""
    return source.parent / OUT_NAME


def default_cache(source: Path) -> Path:
    """``.cache/pipeline/`` beside the bank."""
    return source.parent / CACHE_NAME
