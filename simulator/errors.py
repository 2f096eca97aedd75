"""Errors the CLI reports as one clear message with exit status 2 (never a traceback)."""


class AttnsimError(Exception):
    """Base class of every error caused by user input."""


class ConfigError(AttnsimError):
    """A YAML file (or dict) has problems; all of them are listed at once.

    `problems` holds (key_path, message) pairs; key_path is like "memories[1].size_bytes". At most
    limits.MAX_PROBLEMS_SHOWN are kept; `more` counts the others ("... and N more").
    """

    def __init__(self, source: str, problems, more: int = 0):
        from .limits import MAX_PROBLEMS_SHOWN

        problems = tuple(problems)
        self.source = source
        self.problems = problems[:MAX_PROBLEMS_SHOWN]
        self.more = more + len(problems) - len(self.problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        from .limits import MAX_LINE_CHARS

        n = len(self.problems) + self.more
        head = f"{self.source}: {n:,} problem{'s' if n != 1 else ''}"
        lines = [f"  {path}: {msg}" if path else f"  {msg}" for path, msg in self.problems]
        # a last resort: every value in a message is already cut to a few dozen characters
        lines = [line if len(line) <= MAX_LINE_CHARS else
                 f"{line[:MAX_LINE_CHARS - 30]}... ({len(line):,} characters)" for line in lines]
        if self.more:
            lines.append(f"  ... and {self.more:,} more")
        return "\n".join([head, *lines])


class MappingError(AttnsimError):
    """A mapping (tiling, loop order) that cannot run on the hardware."""


class SizeError(AttnsimError):
    """A problem too large to simulate: int64 overflow or a functional run that would not fit in memory."""


class LimitError(ConfigError, SizeError):
    """A workload whose counts or memory would exceed a documented limit (limits.py), located like
    any other configuration problem: the file, the layer's key path and why."""
