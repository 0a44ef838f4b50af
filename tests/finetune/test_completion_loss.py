"""The specialist trainer's completion-only loss equals the model's own loss on the same labels."""

from __future__ import annotations

import contextlib

import torch

from slmconvert.finetune.trainer import completion_loss


def _batch(vocab: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(3, vocab, (3, 12), generator=generator)
    labels = torch.full_like(input_ids, -100)
    labels[:, 8:] = input_ids[:, 8:]  # the completion: the last four tokens of each row
    attention_mask = torch.ones_like(input_ids)
    attention_mask[2, :3] = 0  # a left-padded row
    labels[2, :3] = -100
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def test_matches_the_model_loss_with_and_without_lora(tiny_model):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32)
    batch = _batch(model.config.vocab_size)
    expected = model(**batch).loss
    assert torch.allclose(completion_loss(model, batch), expected, atol=1e-5)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], lora_dropout=0.0))
    with torch.no_grad():  # a non-zero adapter, so the LoRA path changes the result
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    loss = completion_loss(peft_model, batch)
    assert torch.allclose(loss, peft_model(**batch).loss, atol=1e-5)
    assert not torch.allclose(loss, expected, atol=1e-3)
    loss.backward()
    grads = [p.grad for n, p in peft_model.named_parameters() if "lora_" in n]
    assert grads and all(g is not None for g in grads)
    summed = completion_loss(peft_model, batch, num_items_in_batch=24)  # a global token count divides the sum
    assert torch.allclose(summed, loss * 12 / 24, atol=1e-5)


def _ragged_batch(vocab: int) -> dict[str, torch.Tensor]:
    """Four right-padded rows of 12, 9, 5 and 3 tokens, the last two tokens of each labelled."""
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(3, vocab, (4, 12), generator=generator)
    attention_mask = torch.zeros_like(input_ids)
    labels = torch.full_like(input_ids, -100)
    for row, length in enumerate((12, 9, 5, 3)):
        attention_mask[row, :length] = 1
        labels[row, length - 2:length] = input_ids[row, length - 2:length]
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def test_a_batch_split_into_token_passes_keeps_every_row_once_within_budget():
    from slmconvert.finetune.trainer import token_passes

    batch = _ragged_batch(50)
    assert token_passes(batch, None) == [batch] and token_passes(batch, 48) == [batch]
    passes = token_passes(batch, 20)
    assert len(passes) > 1
    assert all(p["input_ids"].numel() <= 20 or p["input_ids"].shape[0] == 1 for p in passes)
    rows = sorted(tuple(p["input_ids"][i][p["attention_mask"][i].bool()].tolist())
                  for p in passes for i in range(p["input_ids"].shape[0]))
    assert rows == sorted(tuple(batch["input_ids"][i][batch["attention_mask"][i].bool()].tolist()) for i in range(4))
    assert sum(int((p["labels"] != -100).sum()) for p in passes) == int((batch["labels"] != -100).sum())


def test_passes_accumulate_the_gradient_of_the_whole_batch(tiny_model):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from slmconvert.finetune.trainer import token_passes

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], lora_dropout=0.0))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    batch = _ragged_batch(model.config.vocab_size)
    items = int((batch["labels"][:, 1:] != -100).sum())

    def gradients(parts: list[dict[str, torch.Tensor]]) -> list[torch.Tensor]:
        peft_model.zero_grad()
        for part in parts:
            completion_loss(peft_model, part, num_items_in_batch=items).backward()
        return [p.grad.clone() for n, p in peft_model.named_parameters() if "lora_" in n]

    whole, split = gradients([batch]), gradients(token_passes(batch, 20))
    assert any(g.abs().sum() > 0 for g in whole)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(whole, split))


def test_under_bf16_autocast_adapters_skip_the_input_casts_for_the_same_loss_and_gradients(tiny_model):
    """A bf16 base with fp32 adapters, as the CPU trainer runs it: the loss takes fewer copies
    (peft's cast of each adapted layer's input to fp32 is skipped; autocast casts to bf16 anyway),
    gives the loss and gradients that the casts give, and leaves peft's casting switched on after."""
    from peft import LoraConfig, get_peft_model
    from torch.profiler import profile
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.bfloat16)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], lora_dropout=0.0))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.data = param.data.float().normal_(0, 0.5)
    batch = _batch(model.config.vocab_size)

    def run(casts_allowed: bool) -> tuple[torch.Tensor, list[torch.Tensor], int]:
        peft_model.zero_grad()
        with profile() as prof, torch.autocast("cpu", dtype=torch.bfloat16):
            # peft's default casts the input to fp32, autocast back to bf16
            loss = _casting_loss(peft_model, batch) if casts_allowed else completion_loss(peft_model, batch)
        loss.backward()
        copies = sum(e.count for e in prof.key_averages() if e.key == "aten::_to_copy")
        return loss.detach(), [p.grad.clone() for n, p in peft_model.named_parameters() if "lora_" in n], copies

    cast_loss, cast_grads, cast_copies = run(True)
    loss, grads, copies = run(False)
    assert copies < cast_copies
    assert torch.equal(loss, cast_loss)
    assert all(torch.equal(a, b) for a, b in zip(grads, cast_grads))
    lora_layers = [m for m in peft_model.modules() if hasattr(m, "cast_input_dtype_enabled")]
    assert lora_layers and all(m.cast_input_dtype_enabled for m in lora_layers)


def _casting_loss(model, batch):
    """completion_loss with peft's input casts left on (as it was before they were skipped)."""
    from unittest import mock

    with mock.patch("torch.is_autocast_enabled", return_value=False):
        return completion_loss(model, batch)


def test_cpu_passes_run_the_math_attention_kernel_within_its_memory_bound_and_train_alike(tiny_model):
    """The math kernel serves short CPU passes (same loss and gradients as the default kernel); a pass whose
    attention weights would pass MATH_ATTENTION_BYTES, and a GPU pass, keep the default."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from slmconvert.finetune import trainer
    from slmconvert.finetune.trainer import attention_kernel

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32, attn_implementation="sdpa")
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], lora_dropout=0.0))
    batch = _ragged_batch(model.config.vocab_size)
    with attention_kernel(batch, model.config, "cpu"):
        assert not torch.backends.cuda.flash_sdp_enabled() and torch.backends.cuda.math_sdp_enabled()
    assert torch.backends.cuda.flash_sdp_enabled()
    with attention_kernel(batch, model.config, "cuda"):
        assert torch.backends.cuda.flash_sdp_enabled()
    wide = {"input_ids": torch.zeros(1, 4096, dtype=torch.long)}
    heads, layers = model.config.num_attention_heads, model.config.num_hidden_layers
    assert trainer.MATH_ATTENTION_BYTES < 4096 * 4096 * 4 * heads * layers
    with attention_kernel(wide, model.config, "cpu"):
        assert torch.backends.cuda.flash_sdp_enabled()

    def loss_and_gradients(math: bool) -> tuple[float, list[torch.Tensor]]:
        peft_model.zero_grad()
        context = attention_kernel(batch, model.config, "cpu") if math else contextlib.nullcontext()
        with context:
            loss = completion_loss(peft_model, batch)
            loss.backward()
        return float(loss), [p.grad.clone() for n, p in peft_model.named_parameters() if "lora_" in n]

    (flash_loss, flash_grads), (math_loss, math_grads) = loss_and_gradients(False), loss_and_gradients(True)
    assert abs(flash_loss - math_loss) < 1e-5
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(flash_grads, math_grads))
