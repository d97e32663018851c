"""How many examples a property test tries: all of them, or a tenth for ``make test-fast``.

``make test-fast`` sets ``PIPELINE_TESTS=fast``: the editor's quick loop still runs every
property, on fewer generated inputs; ``make test`` (and CI) runs them in full.
"""

from __future__ import annotations

import os

FAST = os.environ.get("PIPELINE_TESTS") == "fast"


def examples(full: int) -> int:
    """``full``, or a tenth of it (at least 10) in a fast run."""
    return max(10, full // 10) if FAST else full
