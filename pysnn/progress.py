"""Progress bars of the experiments' long loops (tqdm), in one place."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress_bar(total: int, description: str, unit: str, quiet: bool = False) -> tqdm | None:
    """A tqdm bar of ``total`` ``unit`` on stderr, showing the rate (e.g. images/s); hidden when
    stderr is not a terminal; None if ``quiet``."""
    if quiet:
        return None
    return tqdm(total=total, desc=description, unit=unit, unit_scale=True, file=sys.stderr, leave=False, disable=None)
