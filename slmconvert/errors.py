"""One user-facing error family; the CLI maps each class to its exit code."""

from __future__ import annotations

import errno


class SlmError(Exception):
    """An error the user can act on: a message plus an optional hint saying what to do next."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"

    def __reduce__(self) -> tuple:
        """Pickled with its hint (an error raised in a stage's own process reaches the parent whole)."""
        return type(self), (self.message, self.hint)


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


class EnvironmentProblem(SlmError):
    """The machine refused a file operation (disk full, quota, read-only, no permission): not a bug."""

    exit_code = 7


_OS_PROBLEMS = {
    errno.ENOSPC: ("no space left on device writing", "free some space, or use --workdir on another disk"),
    errno.EDQUOT: ("disk quota exceeded writing", "free some space within your quota, or use --workdir on another disk"),
    errno.EROFS: ("read-only file system at", "use --workdir on a writable disk"),
    errno.EACCES: ("permission denied on", "check the permissions, or use --workdir in a directory you own"),
    errno.EPERM: ("operation not permitted on", "check the permissions, or use --workdir in a directory you own"),
}


def environment_problem(exc: BaseException) -> EnvironmentProblem | None:
    """The EnvironmentProblem an OSError (exc or one in its cause chain) stands for, else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _OS_PROBLEMS:
            what, hint = _OS_PROBLEMS[current.errno]
            where = current.filename or current.filename2 or "a file"
            return EnvironmentProblem(f"{what} {where} (the machine, not slmconvert)", hint=hint)
        current = current.__cause__ or current.__context__
    return None
