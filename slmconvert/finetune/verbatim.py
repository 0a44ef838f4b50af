"""The share of a cluster's calls a specialist can be expected to answer exactly as the LLM did.

Promotion counts strict agreement (`evaluation.metrics`): tool calls and JSON are compared as
values after canonicalisation, text character for character. A free-text answer agrees only when
every token of it does, so the share a specialist reproduces falls with the length of the cluster's
free-text answers. The budget plan (`finetune.allocate`) plans each cluster's coverage, and so its
chance to pass and the value it moves, at PLANNED_COVERAGE x this share.

Per training call: a tool call, a JSON answer, or a text answer that recurs in the cluster (a label,
a fixed reply) counts 1; a text answer seen once counts TEXT_TOKEN_AGREEMENT ** its length in tokens
(estimated from characters). Measured on the sample logs (SmolLM2-135M trained to its plan, AMD
EPYC, 2 cores, two 1-hour runs): the agent step that answers in text after its tool results (248 of
its 483 calls a one-off text of ~40 tokens, the rest tool calls) agreed on 47-56% of its validation
calls, where this share gives 60%; the ticket summaries (one-off texts of ~60 tokens) on 0-8%, where
it gives 9%. TEXT_TOKEN_AGREEMENT is the per-token rate both fit (0.957 and 0.959).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from slmconvert.evaluation.metrics import agreement_text, output_type
from slmconvert.models.prompt import CHARS_PER_TOKEN, record_output

TEXT_TOKEN_AGREEMENT = 0.96  # chance that a trained specialist reproduces one more token of a one-off text


def verbatim_share(records: Sequence[dict[str, Any]]) -> float:
    """Expected share of the records' reference answers a trained specialist reproduces (see above);
    1.0 for no records."""
    if not records:
        return 1.0
    texts = [_text_answer(record) for record in records]
    seen = Counter(text for text in texts if text is not None)
    chances = [1.0 if text is None or seen[text] > 1 else TEXT_TOKEN_AGREEMENT ** (len(text) / CHARS_PER_TOKEN)
               for text in texts]
    return sum(chances) / len(chances)


def _text_answer(record: dict[str, Any]) -> str | None:
    """The record's answer text as strict agreement compares it, or None for a structured answer."""
    output = record_output(record)
    if output_type(output, record.get("response_format")) != "text":
        return None
    content = output.get("content")
    return agreement_text(content) if isinstance(content, str) else ""
