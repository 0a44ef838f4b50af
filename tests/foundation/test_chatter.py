"""Library chatter (deprecation warnings, progress bars, kernel notices) is silenced unless --verbose."""

from __future__ import annotations

import logging
import os
import warnings

from slmconvert.util.chatter import LIBRARIES, quiet_libraries


def _shown(module: str) -> bool:
    with warnings.catch_warnings(record=True) as caught:
        warnings.warn_explicit("going away", FutureWarning, "x.py", 1, module=module)
    return bool(caught)


def test_library_warnings_and_notices_are_silenced_but_ours_are_not(monkeypatch):
    monkeypatch.setattr(warnings, "filters", list(warnings.filters))
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    for name in LIBRARIES:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    quiet_libraries(verbose=False)
    assert not _shown("transformers.modeling_utils") and not _shown("peft")
    assert _shown("slmconvert.finetune.run") and _shown("transformersx")
    assert logging.getLogger("bitsandbytes").getEffectiveLevel() == logging.ERROR
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"


def test_verbose_keeps_everything(monkeypatch):
    monkeypatch.setattr(warnings, "filters", list(warnings.filters))
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    monkeypatch.setattr(logging.getLogger("bitsandbytes"), "level", logging.NOTSET)
    quiet_libraries(verbose=True)
    assert _shown("transformers.modeling_utils")
    assert logging.getLogger("bitsandbytes").level == logging.NOTSET
    assert "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ
