"""The outputs the build makes, by name: adding one is a line here (README, "Adding an output").

Each :class:`~pipeline.build.contract.Target` has a ``render`` function that takes a
:class:`~pipeline.build.contract.RenderContext` and returns
:class:`~pipeline.build.contract.Rendered` (files for ``dist/``, warnings, its lock section),
an optional per-question ``fragment`` function, the folder of its templates and what else its
fragments read (``context``). The build runs them in this order.
"""

from __future__ import annotations

from pipeline.build.contract import Target
from pipeline.targets.anki import target as anki
from pipeline.targets.digest import target as digest
from pipeline.targets.telegram import target as telegram

TARGETS: dict[str, Target] = {
    "anki": Target(anki.render, anki.fragment, "anki"),
    "digest": Target(digest.render, digest.fragment, "digest", digest.context),
    "telegram": Target(telegram.render, telegram.fragment, "telegram", telegram.context),
}
