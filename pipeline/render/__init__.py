"""The renderers: a plain registry, one pure function per output target.

Each takes a :class:`~pipeline.build.RenderContext` and returns
:class:`~pipeline.build.Rendered` (files for ``dist/``, warnings, its lock section).
"""

from __future__ import annotations

from pipeline.build import Renderer
from pipeline.render import anki, digest, telegram

RENDERERS: dict[str, Renderer] = {
    "anki": anki.render,
    "digest": digest.render,
    "telegram": telegram.render,
}
