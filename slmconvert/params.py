"""Base of every stage's parameter model: typed, documented, and strict about unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StageParams(BaseModel):
    """Parameters of one stage; each field carries its default and a description (its help text)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

    def describe(self) -> dict[str, str]:
        """Field name -> help text, for `slmconvert config` style listings."""
        return {name: field.description or "" for name, field in type(self).model_fields.items()}
