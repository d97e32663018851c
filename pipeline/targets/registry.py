"""The output targets: a plain registry.

Each :class:`~pipeline.build.Target` has an optional per-question ``fragment`` function and a
``render`` function that takes a :class:`~pipeline.build.RenderContext` and returns
:class:`~pipeline.build.Rendered` (files for ``dist/``, warnings, its lock section).
"""

from __future__ import annotations

from pipeline.build.contract import Target
from pipeline.targets.anki import deck as anki
from pipeline.targets.digest import week as digest
from pipeline.targets.telegram import posts as telegram

TARGETS: dict[str, Target] = {
    "anki": Target(anki.render, anki.fragment, anki.fragment_key),
    "digest": Target(digest.render, digest.fragment, digest.fragment_key),
    "telegram": Target(telegram.render, telegram.fragment, telegram.fragment_key),
}
