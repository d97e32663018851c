"""Writing a set of outputs as a whole output folder, without a build: what the tests of the
staging folder, the swap and the manifest need (a build streams its files through
:class:`pipeline.build.write.Staging` the same way)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pipeline.build.contract import OutputFile
from pipeline.build.write import Staging, WrittenFile


def write_outputs(files: Iterable[OutputFile], out_dir: Path) -> list[WrittenFile]:
    """Write ``files`` (plus README and manifest) as the new ``out_dir``, atomically."""
    staging = Staging(out_dir)
    try:
        for f in files:
            staging.add(f)
        return staging.commit()
    except BaseException:
        staging.discard()
        raise


def manifest_entry(w: WrittenFile) -> dict[str, object]:
    """A manifest entry as plain data: what the fast manifest writer is checked against."""
    return {"path": w.path, "kind": w.kind, "ids": list(w.ids), "sha256": w.sha256}
