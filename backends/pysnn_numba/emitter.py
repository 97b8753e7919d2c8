"""Python source built line by line, with indentation scoped by ``with`` blocks."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

INDENT = "    "


class Code:
    """Lines of source; ``block`` indents what is emitted inside it.

    >>> code = Code()
    >>> with code.block("for j in range(n):"):
    ...     code.line("x[j] = 0")
    >>> code.line("done = True")
    >>> code.lines
    ['for j in range(n):', '    x[j] = 0', 'done = True']
    """

    def __init__(self, depth: int = 0) -> None:
        self.lines: list[str] = []
        self.depth = depth

    def line(self, *texts: str) -> None:
        """Emit each of ``texts`` as a line at the current depth."""
        self.lines.extend(INDENT * self.depth + text for text in texts)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        """Emit ``header`` (a statement ending in ``:``); lines emitted inside are its body."""
        self.line(header)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
