"""Where pysnn keeps data sets."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "PYSNN_DATA"


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root`` if given, else ``$PYSNN_DATA``, else ``~/.cache/pysnn/data``
    (``$XDG_CACHE_HOME/pysnn/data``), beside the compile cache. Not created here."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pysnn" / "data"
