"""Run the frozen lower layers once per training example, not once per pass over the data.

With LoRA on the top share of the layers (`finetune.lora_layers`), the layers below carry no
adapter: what leaves them depends on the example only, never on the training so far. The first
time a training row passes, the hidden states leaving the last frozen layer are kept (host
memory, bf16/fp32 as computed); a later pass over the same row starts from them and runs the
adapted layers alone. The loss, the gradients and the adapter are the ones the full forward gives
(up to float rounding between pass shapes): the frozen layers take no gradient either way.

Measured on SmolLM2-135M (AMD EPYC, 2 cores, bf16, 16 rows of ~145 tokens): with LoRA on half its
layers a replayed step took 0.77 of a full one (x1.30), on a quarter 0.53 (x1.88). The probe measures
this share on the machine (`finetune.probe.Throughput.replay_cost`) and the budget plan prices every
pass after the first with it.

Rows are keyed by their tokens, so any batch order or pass split finds them. Rows are used as the
trainer gives them: right-padded, no explicit positions (else the full forward runs). Models
whose frozen layers drop out at random (attention or hidden dropout) are not cached.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

CACHE_BYTES = 1 << 30  # host memory the kept hidden states may take; rows past it run the full forward


def decoder_layers(model: Any) -> torch.nn.ModuleList | None:
    """The transformer's stack of decoder layers (the ModuleList of num_hidden_layers modules)."""
    from slmconvert.models.loading import attention_shape

    count = attention_shape(model.config)[1]
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == count:
            return module
    return None


def first_adapted_layer(layers: torch.nn.ModuleList) -> int:
    """Index of the lowest layer with a trainable parameter (len(layers) when none has one)."""
    for index, layer in enumerate(layers):
        if any(p.requires_grad for p in layer.parameters()):
            return index
    return len(layers)


def _drops_out(model: Any, layers: torch.nn.ModuleList, below: int) -> bool:
    config = getattr(model.config, "text_config", None) or model.config
    if any(float(getattr(config, name, 0.0) or 0.0) > 0 for name in ("attention_dropout", "hidden_dropout")):
        return True
    return any(isinstance(m, torch.nn.Dropout) and m.p > 0 for layer in layers[:below] for m in layer.modules())


class FrozenLayerCache:
    """Hidden states leaving the frozen layers, per training row (see module docstring)."""

    def __init__(self, model: Any, max_bytes: int = CACHE_BYTES) -> None:
        self.layers = decoder_layers(model)
        self.boundary = first_adapted_layer(self.layers) if self.layers is not None else 0
        self.enabled = (self.layers is not None and 0 < self.boundary < len(self.layers)
                        and not _drops_out(model, self.layers, self.boundary))
        self.max_bytes = max_bytes
        self.rows: dict[bytes, torch.Tensor] = {}
        self.bytes = 0
        self.replayed_tokens = 0  # tokens of the rows that started from kept states

    def to_dict(self) -> dict[str, Any]:
        """What was kept (the tokens replayed are the trainer's meter's `replayed_tokens`)."""
        return {"enabled": self.enabled, "frozen_layers": self.boundary if self.enabled else 0,
                "rows": len(self.rows), "bytes": self.bytes}

    @contextlib.contextmanager
    def forward(self, inputs: dict[str, Any]) -> Iterator[None]:
        """Within it, the model's forward on `inputs` starts from the kept hidden states when every
        row has them, and keeps those of the rows it computes otherwise."""
        keys = self._keys(inputs) if self.enabled else None
        if keys is None:
            yield
            return
        if all(key in self.rows for key in keys):
            self.replayed_tokens += int(inputs["attention_mask"].sum())
            with self._replayed(keys, inputs["attention_mask"]):
                yield
            return
        handle = self.layers[self.boundary - 1].register_forward_hook(self._keeper(keys, inputs["attention_mask"]))
        try:
            yield
        finally:
            handle.remove()

    def _keys(self, inputs: dict[str, Any]) -> list[bytes] | None:
        ids, mask = inputs.get("input_ids"), inputs.get("attention_mask")
        if ids is None or mask is None or ids.dim() != 2 or inputs.get("position_ids") is not None:
            return None
        lengths = mask.sum(dim=1)
        columns = torch.arange(mask.shape[1], device=mask.device)
        if not bool(((columns < lengths[:, None]) == mask.bool()).all()):  # right padding only
            return None
        return [ids[row, :int(n)].cpu().numpy().tobytes() for row, n in enumerate(lengths.tolist())]

    def _keeper(self, keys: list[bytes], mask: torch.Tensor) -> Any:
        lengths = mask.sum(dim=1).tolist()

        def keep(_module: Any, _args: Any, output: Any) -> None:
            if not torch.is_tensor(output):  # a layer that returns a tuple: not cached
                self.enabled = False
                return
            for key, row, n in zip(keys, output.detach(), lengths, strict=True):
                if key in self.rows:
                    continue
                kept = row[:int(n)].to("cpu", copy=True)
                size = kept.numel() * kept.element_size()
                if self.bytes + size > self.max_bytes:
                    continue
                self.rows[key] = kept
                self.bytes += size
        return keep

    @contextlib.contextmanager
    def _replayed(self, keys: list[bytes], mask: torch.Tensor) -> Iterator[None]:
        """The frozen layers pass their input through, the last of them hands over the kept states."""
        first = self.rows[keys[0]]
        hidden = first.new_zeros((len(keys), mask.shape[1], first.shape[-1]))
        for row, key in enumerate(keys):
            kept = self.rows[key]
            hidden[row, :kept.shape[0]] = kept
        hidden = hidden.to(mask.device)
        last = self.boundary - 1

        def passed(hidden_states: Any, *args: Any, **kwargs: Any) -> Any:
            return hidden_states

        def handed(*args: Any, **kwargs: Any) -> torch.Tensor:
            return hidden

        for index in range(self.boundary):
            self.layers[index].forward = handed if index == last else passed
        try:
            yield
        finally:
            for index in range(self.boundary):
                del self.layers[index].forward
