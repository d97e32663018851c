"""The live preview, ``pipeline serve``: every output of the question being edited, in the
browser, updated on each save (a warm build in one process and a local HTTP server).

:mod:`~pipeline.preview.server` (HTTP, safety rules), :mod:`~pipeline.preview.session` (the
warm build), :mod:`~pipeline.preview.panes` (one question's outputs), the page in
``assets/``. Nothing imports this package but :mod:`pipeline.cli`.
"""
