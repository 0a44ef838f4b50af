"""The specialist trainer's completion-only loss equals the model's own loss on the same labels."""

from __future__ import annotations

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
