"""The model card (README.md) and training curves written beside each adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slmconvert import __version__
from slmconvert.util.jsonio import atomic_write_text

CURVE_KEYS = ("step", "epoch", "loss", "learning_rate", "grad_norm", "eval_loss", "eval_task_metric", "eval_train_seconds")


def curve_points(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Trainer's log history reduced to the values worth plotting."""
    points = []
    for entry in log_history:
        point = {k: entry[k] for k in CURVE_KEYS if k in entry}
        if len(point) > 2:  # more than step/epoch
            points.append(point)
    return points


def plot_curves(points: list[dict[str, Any]], path: Path, title: str) -> bool:
    """Loss (train, validation) and the validation task metric over steps, as a PNG."""
    if not points:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    for key, label, style in (("loss", "train loss", "-"), ("eval_loss", "validation loss", "o-")):
        steps, values = _series(points, key)
        if steps:
            left.plot(steps, values, style, label=label, lw=1)
    left.set_xlabel("step")
    left.set_ylabel("loss")
    left.legend()
    steps, values = _series(points, "eval_task_metric")
    if steps:
        right.plot(steps, values, "o-", color="tab:green")
        right.set_ylim(-0.02, 1.02)
    right.set_xlabel("step")
    right.set_ylabel("validation task metric")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return True


def _series(points: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """Steps and values of one logged quantity."""
    chosen = [p for p in points if key in p]
    return [p["step"] for p in chosen], [p[key] for p in chosen]


def _fmt_metric(summary: dict[str, Any] | None) -> str:
    if not summary or summary.get("value") is None:
        return "–"
    low, high = (summary.get("interval") or [None, None])[:2]
    text = f"{summary['value']:.3f}"
    if low is not None and high is not None:
        text += f" [{low:.3f}, {high:.3f}]"
    return text + f" (n={summary.get('n', '?')})"


def model_card(metrics: dict[str, Any]) -> str:
    """README.md for one cluster's adapter, from its metrics.json content."""
    plan, data, training, validation = (metrics.get(k, {}) for k in ("plan", "data", "training", "validation"))
    fmt = metrics.get("prompt_format", {})
    base = metrics.get("base_model", {})
    cid = metrics.get("cluster_id")
    before, after = validation.get("before"), validation.get("after")
    hf_id = base.get("hf_id") or base.get("name")
    lines = [
        "---",
        f"base_model: {hf_id}",
        "library_name: peft",
        "tags: [slmconvert, lora" + (", qlora" if plan.get("method") == "qlora" else "") + "]",
        "---",
        f"# slmconvert specialist — cluster {cid}",
        "",
        f"Task: **{metrics.get('label') or 'cluster ' + str(cid)}** (output type `{metrics.get('output_type')}`).",
        f"A {plan.get('method', 'lora').upper()} adapter trained by slmconvert {__version__} on this cluster's",
        "curated LLM calls, to answer them the way the LLM did.",
        "",
        "## Base model",
        f"- model: `{base.get('name')}`" + (f" (Hugging Face `{base['hf_id']}`)" if base.get("hf_id") else ""),
        f"- method: {plan.get('method')}, precision {plan.get('precision')}, device {plan.get('device')}",
        "",
        "## Data",
        f"- data hash: `{data.get('data_hash')}` (exact token sequences trained and validated on)",
        f"- from {', '.join(data.get('inputs', {}).values()) or 'unknown artifacts'}",
        f"- training examples: {data.get('train_used')} used of {data.get('train_available')} "
        f"({data.get('dropped')} dropped: completion longer than the limit; {data.get('truncated')} prompts cut in the middle)",
        f"- validation calls scored each evaluation: {data.get('validation_used')}",
        f"- max length {plan.get('max_length')} tokens; lengths {data.get('length_stats', {})}",
        f"- prompt format: style `{fmt.get('style')}`, drop_system={fmt.get('drop_system')}, "
        f"drop_tools={fmt.get('drop_tools')}, {len(fmt.get('drop_system_lines') or [])} shared system-prompt lines or sentences "
        "dropped (context distillation: parts shared across the cluster are learnt, "
        "so prompts must be rendered with `prompt_format.json`)",
        "",
        "## Training parameters",
        "| parameter | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in sorted(plan.items())],
        "",
        "## Results",
        f"Validation metric: `{validation.get('metric')}` (evaluation harness; 95% interval).",
        "",
        "| | validation metric | validation loss |",
        "|---|---|---|",
        f"| before (base model zero-shot, full prompt; {(before or {}).get('source', 'measured')}) "
        f"| {_fmt_metric(before)} | – |",
        f"| after (this adapter, best checkpoint) | {_fmt_metric(after)} | {_num(training.get('best_eval_loss'))} |",
        "",
        f"- steps {training.get('steps')} ({training.get('epochs')} epochs), best step {training.get('best_step')}, "
        f"early stopped: {training.get('early_stopped')}",
        f"- final train loss {_num(training.get('train_loss'))}; time {_num(training.get('seconds'))} s; "
        f"{_num(training.get('tokens_per_second'))} tokens/s ({_num(training.get('loss_tokens_per_second'))} loss-bearing)",
        "",
        "## Usage",
        "```python",
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        f'base = AutoModelForCausalLM.from_pretrained("{hf_id}")',
        'model = PeftModel.from_pretrained(base, "adapter")',
        "```",
        f"vLLM: `vllm serve {hf_id} --enable-lora --lora-modules cluster-{cid}=adapter`",
        "(render prompts with `slmconvert.models.prompt.render_prompt` and `prompt_format.json`).",
        "",
    ]
    return "\n".join(lines)


def _num(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def write_card(metrics: dict[str, Any], path: Path) -> None:
    """Write README.md atomically."""
    atomic_write_text(path, model_card(metrics))
