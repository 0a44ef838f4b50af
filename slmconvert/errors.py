"""One user-facing error family; the CLI maps each class to its exit code."""

from __future__ import annotations


class SlmError(Exception):
    """An error the user can act on: a message plus an optional hint saying what to do next."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(SlmError):
    """Wrong command-line usage."""

    exit_code = 2


class ConfigError(SlmError):
    """Invalid configuration file, --set value or parameter."""

    exit_code = 3


class BadInputError(SlmError):
    """Input data that cannot be used (or rejects under --strict)."""

    exit_code = 4


class MissingArtifactError(SlmError):
    """An upstream stage artifact that this stage needs does not exist."""

    exit_code = 5


class WorkspaceLockedError(SlmError):
    """Another slmconvert process is writing to the same workspace."""

    exit_code = 6
