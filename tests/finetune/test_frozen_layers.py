"""The frozen layers' kept states (finetune.frozen_layers): a replayed pass gives the full forward's loss and
gradients, whatever batch the states were kept from; training with them gives the same adapter."""

from __future__ import annotations

import pytest
import torch

from slmconvert.finetune.frozen_layers import FrozenLayerCache
from slmconvert.finetune.trainer import completion_loss
from tests.finetune.test_train import adapter_tensors, train


def _model(tmp_path, share: float = 0.5, **config):
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from slmconvert.finetune.modeling import lora_config_for
    from slmconvert.models.tiny import create_tiny_model

    path = create_tiny_model(tmp_path / "deep", num_layers=4, hidden_size=32)
    base = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **config)
    model = get_peft_model(base, lora_config_for(base, 4, 8, 0.0, share))
    with torch.no_grad():  # a non-zero adapter, so the adapted layers matter
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.3, generator=torch.Generator().manual_seed(3))
    model.train()
    return model


def _rows(lengths: list[int], seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(5, 300, (n,), generator=generator) for n in lengths]


def _batch(rows: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Right-padded rows, the last three tokens of each labelled."""
    width = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = row
        mask[i, :len(row)] = 1
        labels[i, len(row) - 3:len(row)] = row[-3:]
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _loss_and_grads(model, inputs, cache=None):
    import contextlib

    with cache.forward(inputs) if cache is not None else contextlib.nullcontext():
        loss = completion_loss(model, inputs)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad(set_to_none=True)
    return loss.detach(), grads


def test_a_replayed_pass_gives_the_full_loss_and_gradients(tmp_path):
    model = _model(tmp_path)
    rows = _rows([9, 14, 6, 11])
    cache = FrozenLayerCache(model)
    assert cache.enabled and cache.boundary == 2
    _loss_and_grads(model, _batch(rows[:2]), cache)  # kept from batches of other widths and neighbours
    _loss_and_grads(model, _batch(rows[2:]), cache)
    assert len(cache.rows) == 4 and cache.replayed_tokens == 0
    regrouped = _batch([rows[3], rows[0], rows[2]])
    expected_loss, expected = _loss_and_grads(model, regrouped)
    loss, grads = _loss_and_grads(model, regrouped, cache)
    assert cache.replayed_tokens == 9 + 11 + 6
    assert torch.allclose(loss, expected_loss, atol=1e-6)
    for name in expected:
        assert torch.allclose(grads[name], expected[name], atol=1e-6), name
    assert any(g.abs().max() > 1e-4 for g in grads.values())


def test_the_frozen_layers_do_not_run_when_replayed(tmp_path):
    model = _model(tmp_path)
    batch = _batch(_rows([8, 5]))
    cache = FrozenLayerCache(model)
    ran: list[int] = []
    for index, layer in enumerate(cache.layers):
        layer.mlp.register_forward_hook(lambda *_args, i=index: ran.append(i))
    _loss_and_grads(model, batch, cache)
    assert ran == [0, 1, 2, 3]
    ran.clear()
    _loss_and_grads(model, batch, cache)
    assert ran == [2, 3]  # the adapted layers only
    assert not any("forward" in layer.__dict__ for layer in cache.layers)  # the layers are themselves again
    ran.clear()
    fresh = _batch(_rows([7], seed=9))  # a row never seen runs the full forward
    _loss_and_grads(model, fresh, cache)
    assert ran == [0, 1, 2, 3] and len(cache.rows) == 3


@pytest.mark.parametrize("case", ["left-padded", "all layers adapted", "dropout", "over the memory cap"])
def test_nothing_is_replayed_where_it_would_not_be_exact(tmp_path, case):
    model = _model(tmp_path, share=1.0 if case == "all layers adapted" else 0.5,
                   **({"attention_dropout": 0.1} if case == "dropout" else {}))
    cache = FrozenLayerCache(model, max_bytes=16 if case == "over the memory cap" else 1 << 30)
    batch = _batch(_rows([8, 5]))
    if case == "left-padded":
        batch = {k: torch.flip(v, dims=[1]) for k, v in batch.items()}
    _loss_and_grads(model, batch, cache)
    _loss_and_grads(model, batch, cache)
    assert cache.replayed_tokens == 0 and not cache.rows
    assert cache.enabled == (case in ("left-padded", "over the memory cap"))


def test_training_with_kept_states_gives_the_same_adapter(tmp_path, tiny_model):
    """Three passes over 8 examples: passes 2 and 3 replay, and the adapter is the one the full forward trains."""
    from tests.finetune.conftest import cluster_records, fast_params

    records = cluster_records(n_train=8)
    kept = train(tmp_path, tiny_model, fast_params(max_steps=6, batch_size=4), records=records,
                 cache="c1", out="kept")
    full = train(tmp_path, tiny_model, fast_params(max_steps=6, batch_size=4, cache_frozen_layers=False),
                 records=records, cache="c2", out="full")
    assert kept["training"]["frozen_layers"]["frozen_layers"] == 1  # the tiny model: LoRA on its top layer
    assert kept["training"]["replayed_tokens"] == pytest.approx(kept["training"]["tokens"] * 2 / 3, rel=0.01)
    assert full["training"]["replayed_tokens"] == 0 and full["training"]["frozen_layers"] is None
    expected, got = adapter_tensors(tmp_path / "full/0"), adapter_tensors(tmp_path / "kept/0")
    for name in expected:
        assert torch.allclose(expected[name], got[name], atol=1e-5), name
