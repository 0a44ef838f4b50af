"""The vocabulary projection always receives a contiguous input (see models.loading.contiguous_head_input)."""

from __future__ import annotations

import copy

import torch

from slmconvert.models.loading import contiguous_head_input


def test_a_strided_last_position_reaches_the_head_contiguous_even_in_a_frozen_copy(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    contiguous_head_input(model)
    contiguous_head_input(model)  # idempotent: one hook
    frozen = copy.deepcopy(model).requires_grad_(False)  # as a merged-adapter copy is
    seen: list[bool] = []
    head = frozen.get_output_embeddings()
    head.register_forward_pre_hook(lambda module, args: seen.append(args[0].is_contiguous()))
    assert len(head._forward_pre_hooks) == 2
    hidden = torch.randn(4, 7, head.in_features)
    strided = hidden[:, -1:, :]
    assert not strided.is_contiguous()
    with torch.inference_mode():
        out = head(strided)
        ids = torch.randint(3, frozen.config.vocab_size, (4, 7))
        frozen(input_ids=ids, logits_to_keep=1)
    assert seen == [True, True]
    assert torch.allclose(out, hidden[:, -1:, :] @ head.weight.T, atol=1e-5)
