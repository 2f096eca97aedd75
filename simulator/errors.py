"""Errors the CLI reports as one clear message with exit status 2 (never a traceback)."""


class AttnsimError(Exception):
    """Base class of every error caused by user input."""


class ConfigError(AttnsimError):
    """A YAML file (or dict) has problems; all of them are listed at once.

    `problems` holds (key_path, message) pairs; key_path is like "memories[1].size_bytes".
    """

    def __init__(self, source: str, problems):
        self.source = source
        self.problems = tuple(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"{self.source}: {n} problem{'s' if n != 1 else ''}"
        lines = [f"  {path}: {msg}" if path else f"  {msg}" for path, msg in self.problems]
        return "\n".join([head, *lines])


class MappingError(AttnsimError):
    """A mapping (tiling, loop order) that cannot run on the hardware."""


class SizeError(AttnsimError):
    """A problem too large to simulate: int64 overflow or a functional run that would not fit in memory."""
