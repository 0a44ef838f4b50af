"""select's output, `selection.json`: per cluster the candidates measured, their scores and the model
chosen, with why; written by stages/select.py, read by finetune and iterate (select/choose.py)."""

from __future__ import annotations

SELECTION_FILE = "selection.json"
