"""The renderers: a plain registry, one pure function per output target.

Each takes a :class:`~pipeline.build.RenderContext` and returns
:class:`~pipeline.build.Rendered` (files for ``dist/``, warnings, its lock section).
"""

from __future__ import annotations

from pipeline.build import Renderer

RENDERERS: dict[str, Renderer] = {}
