"""A one-line note on stderr when a compile keeps the user waiting.

Compiling is the slowest thing a new user meets; done in silence it looks like a hang. Code that
compiles wraps the compile in ``compile_notice(what)``: if it is still running after
``NOTICE_AFTER`` seconds, one line says what is being compiled and that it is cached for next
time. A compile that finishes sooner (a cache hit) prints nothing.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pysnn.kernel_source import cache_dir

NOTICE_AFTER = 1.0
"""Seconds a compile may take before it is announced."""


@contextmanager
def compile_notice(what: str) -> Iterator[None]:
    """Announce on stderr, once, a compile of ``what`` that takes longer than ``NOTICE_AFTER``."""

    def announce() -> None:
        print(f"pysnn: compiling {what}; this happens once, the result is cached in {cache_dir()}", file=sys.stderr, flush=True)

    timer = threading.Timer(NOTICE_AFTER, announce)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
