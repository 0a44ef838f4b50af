"""slmconvert: convert an LLM agent's repetitive calls into fine-tuned small language models."""

__version__ = "0.1.0"
