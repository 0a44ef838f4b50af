"""collect: read LLM call logs in many formats into one normalised, deduplicated call table.

Public API: `collect(paths, out_dir, CollectOptions(PriceTable.load()))` (slmconvert.collect.pipeline),
`PriceTable` (pricing), `parse_record` (units). Imported lazily so that worker processes, which
only need the normalisers, start without loading Arrow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CollectOptions": "slmconvert.collect.pipeline",
    "Collector": "slmconvert.collect.pipeline",
    "collect": "slmconvert.collect.pipeline",
    "PriceTable": "slmconvert.collect.pricing",
    "parse_record": "slmconvert.collect.units",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'slmconvert.collect' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
