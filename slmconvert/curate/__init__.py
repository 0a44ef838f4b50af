"""curate: scrub PII and secrets from call records with Presidio, filter unfit calls, and shape
the rest for supervised fine-tuning."""

from slmconvert.curate.params import CurateParams

__all__ = ["CurateParams"]
