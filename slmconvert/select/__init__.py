"""select: gate, measure and choose a base SLM per task cluster.

For downstream stages: `read_selection(artifact)` and `chosen_models(selection)` give each
cluster's chosen model, the `PromptFormat` it was measured with, and its zero-shot baseline.
"""

from slmconvert.select.choose import RULE, Choice, choose, chosen_models, read_selection

__all__ = ["RULE", "Choice", "choose", "chosen_models", "read_selection"]
