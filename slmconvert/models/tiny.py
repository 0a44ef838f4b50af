"""A tiny random causal LM + trained byte-level BPE tokenizer, saved as a normal HF model dir.

Tests and smoke runs use it wherever a real SLM would be too slow: it loads in milliseconds,
goes through the same registry/loading/prompt/generation code as any model, and
(unlike a mock) really trains. Pass its directory as a model name, or register an alias.

    path = create_tiny_model(tmp_path / "tiny")
    loaded = load_model(str(path))
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + (message['content'] or '') + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|pad|>", "<|im_start|>", "<|im_end|>"]

_DEFAULT_CORPUS = [
    "<tool_call>{\"name\": \"lookup_order\", \"arguments\": {\"order_id\": \"A-1234\"}}</tool_call>",
    "You are a helpful support agent. Use the tools when the user asks about an order.",
    "Where is my order 48213? It was supposed to arrive on 2026-11-02.",
    "{\"customer\": \"Jane Doe\", \"email\": \"jane@example.com\", \"total\": 42.5, \"items\": [1, 2, 3]}",
    "Summarise the ticket: the customer reports a damaged parcel and asks for a refund.",
    "# Tools\nAvailable tools:\n- track_shipment(tracking_number: string): Track a parcel.",
    "SELECT id, status FROM orders WHERE customer_id = 17 ORDER BY created_at DESC LIMIT 5;",
    "intent: refund_request | shipping_status | cancel_order | product_question | other",
]


def train_tokenizer(corpus: Iterable[str] | None = None, vocab_size: int = 512):  # noqa: ANN201 - HF type
    """A byte-level BPE tokenizer (never produces unknown tokens) with ChatML special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = list(corpus) if corpus is not None else _DEFAULT_CORPUS * 4
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|pad|>", bos_token=None, unk_token=None
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def create_tiny_model(
    path: str | Path,
    *,
    seed: int = 0,
    corpus: Iterable[str] | None = None,
    vocab_size: int = 512,
    hidden_size: int = 32,
    num_layers: int = 2,
    context_length: int = 2048,
) -> Path:
    """Write a tiny Llama-architecture model and its tokenizer to `path`; returns the path."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig, LlamaConfig

    path = Path(path)
    tokenizer = train_tokenizer(corpus, vocab_size=vocab_size)
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context_length,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=eos,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=tokenizer.pad_token_id, do_sample=False)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path
