"""Base of every stage's parameter model: typed, documented, and strict about unknown keys."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StageParams(BaseModel):
    """Parameters of one stage; each field carries its default and a description (its help text)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

    def describe(self) -> dict[str, str]:
        """Field name -> help text, for `slmconvert config` style listings."""
        return {name: field.description or "" for name, field in type(self).model_fields.items()}


SEED_MAX = 2**32 - 1  # numpy and scikit-learn refuse seeds outside [0, 2**32)


def seed_field(description: str) -> Any:
    """A `seed` field every stage shares: an int that numpy, scikit-learn and torch all accept."""
    return Field(0, ge=0, le=SEED_MAX, description=f"{description} (0 to {SEED_MAX}).")
