"""Per-cluster statistics (shares of calls, tokens, cost; output types; tools) and candidate flags."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from slmconvert.cluster.signature import called_tools, content_text, output_type, requested_format
from slmconvert.models.prompt import CHARS_PER_TOKEN

_WORD = re.compile(r"[a-z]{3,}")


@dataclass(frozen=True)
class CandidateRules:
    """When a cluster is worth converting to an SLM."""

    min_examples: int = 50
    min_output_consistency: float = 0.9
    open_ended_min_tokens: int = 100
    open_ended_min_novelty: float = 0.6


def call_tokens(record: dict) -> tuple[int, int]:
    """(prompt, completion) tokens from usage, else estimated from characters."""
    usage = record.get("usage") or {}
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if prompt is None:
        chars = sum(len(content_text(m.get("content"))) for m in record.get("messages") or [])
        prompt = chars // CHARS_PER_TOKEN
    if completion is None:
        output = record.get("output") or {}
        chars = len(content_text(output.get("content"))) + len(str(output.get("tool_calls") or ""))
        completion = chars // CHARS_PER_TOKEN
    return int(prompt), int(completion)


def output_novelty(record: dict) -> float:
    """Share of the output's content words that appear nowhere in the request: near 0 for labels,
    extraction and summaries (grounded in the input), high for open-ended writing."""
    prompt = " ".join(content_text(m.get("content")) + " " + json.dumps(m.get("tool_calls") or "")
                      for m in record.get("messages") or [] if isinstance(m, dict))
    output = record.get("output") or {}
    produced = _content_words(content_text(output.get("content")) + " " + json.dumps(output.get("tool_calls") or ""))
    return len(produced - _content_words(prompt)) / len(produced) if produced else 0.0


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS}


def _share(part: float, whole: float) -> float:
    return round(part / whole, 6) if whole else 0.0


def profile_clusters(
    records: Sequence[dict], labels: np.ndarray, rules: CandidateRules
) -> tuple[dict[int, dict], dict]:
    """Statistics per cluster id and totals (including the noise share)."""
    tokens = np.array([call_tokens(r) for r in records], dtype=np.int64).reshape(-1, 2)
    cost = np.array([float(r.get("cost_usd") or 0.0) for r in records])
    kinds = [output_type(r) for r in records]
    total_calls, total_tokens, total_cost = len(records), int(tokens.sum()), float(cost.sum())
    profiles: dict[int, dict] = {}
    for cid in sorted(int(c) for c in np.unique(labels) if c >= 0):
        idx = np.flatnonzero(labels == cid)
        members = [records[i] for i in idx]
        kind_counts = Counter(kinds[i] for i in idx)
        dominant, dominant_n = sorted(kind_counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        agent = sum(requested_format(records[i]) == "tools" for i in idx) * 2 >= len(idx)
        if agent:  # calling a tool or answering in text is the one decision an agent step makes
            dominant_n = kind_counts["tool_call"] + kind_counts["text"]
        called = Counter(name for r in members for name in dict.fromkeys(called_tools(r.get("output"))))
        completion = tokens[idx, 1].astype(np.float64)
        mean_completion = float(completion.mean())
        novelty = float(np.mean([output_novelty(r) for r in members]))
        profile = {
            "size": len(members),
            "share_calls": _share(len(members), total_calls),
            "tokens": int(tokens[idx].sum()),
            "share_tokens": _share(int(tokens[idx].sum()), total_tokens),
            "cost_usd": round(float(cost[idx].sum()), 6),
            "share_cost": _share(float(cost[idx].sum()), total_cost),
            "output_type": dominant,
            "output_types": {k: _share(v, len(members)) for k, v in sorted(kind_counts.items())},
            "agent_step": bool(agent),
            "top_tools": [{"name": n, "share": _share(c, len(members))}
                          for n, c in sorted(called.items(), key=lambda kv: (-kv[1], kv[0]))[:5]],
            "prompt_tokens": {"mean": round(float(tokens[idx, 0].mean()), 1),
                              "p99": int(np.percentile(tokens[idx, 0], 99))},
            "completion_tokens": {"mean": round(mean_completion, 1),
                                  "p95": int(np.percentile(completion, 95)),
                                  "cv": round(float(completion.std() / mean_completion), 3) if mean_completion else 0.0},
            "output_novelty": round(novelty, 4),
        }
        profile["why_not"] = candidate_reasons(profile, dominant_n / len(members), rules)
        profile["candidate"] = not profile["why_not"]
        profiles[cid] = profile
    clustered = int((labels >= 0).sum())
    totals = {
        "calls": total_calls, "tokens": total_tokens, "cost_usd": round(total_cost, 6),
        "noise_calls": total_calls - clustered, "noise_share": _share(total_calls - clustered, total_calls),
    }
    return profiles, totals


def candidate_reasons(profile: dict, consistency: float, rules: CandidateRules) -> list[str]:
    """Why a cluster is not a conversion candidate (empty list: it is one)."""
    reasons = []
    if profile["size"] < rules.min_examples:
        reasons.append(f"only {profile['size']} calls (< {rules.min_examples})")
    if consistency < rules.min_output_consistency:
        mix = ", ".join(f"{k} {v:.0%}" for k, v in profile["output_types"].items())
        reasons.append(f"mixed output types ({mix})")
    mean = profile["completion_tokens"]["mean"]
    novelty = profile["output_novelty"]
    if (profile["output_type"] == "text" and mean >= rules.open_ended_min_tokens
            and novelty >= rules.open_ended_min_novelty):
        reasons.append(f"open-ended free text (mean {mean:.0f} completion tokens, "
                       f"{novelty:.0%} of output words not in the request)")
    return reasons
