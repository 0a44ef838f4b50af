"""Keeping third-party chatter out of slmconvert's output.

transformers, peft, trl and bitsandbytes print deprecation warnings, weight-loading progress
bars and optional-kernel notices that say nothing to a user and, under cron, turn every weekly
run into a mail. Unless --verbose, they are silenced; slmconvert's own warnings and errors are not.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

LIBRARIES = ("transformers", "peft", "trl", "accelerate", "bitsandbytes", "datasets", "huggingface_hub", "kernels")
_LIBRARY_MODULES = r"(?:" + "|".join(LIBRARIES) + r")(?:\..*)?\Z"


def quiet_libraries(verbose: bool = False) -> None:
    """Silence library deprecation warnings, progress bars and notices below ERROR (not with verbose).
    Hub telemetry is off either way: slmconvert never talks to the Hub at run time."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    if verbose:
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read when transformers/datasets load
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=_LIBRARY_MODULES)
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(logging.ERROR)
    if "transformers" in sys.modules:  # already imported: its settings were read at import time
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
