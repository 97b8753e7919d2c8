"""MNIST: 60 000 training and 10 000 test images of handwritten digits, 28x28 pixels.

The four standard IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``), each gzip-compressed (``NAME.gz``, the
form the mirrors serve and downloads keep) or not (``NAME``), live in one folder: the data root
itself if it holds any of them, else ``<data root>/mnist/`` (where downloads go). Every file read
is checked against the MD5 of its *uncompressed* content, so a file recompressed by anyone still
verifies.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from pysnn.datasets.download import download
from pysnn.datasets.idx import IDXError, parse_idx, read_content
from pysnn.datasets.paths import data_root
from pysnn.errors import ConfigError

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# file name -> MD5 of its uncompressed content (the .gz bytes differ between compressors)
MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_FIX = "delete it and fetch it again (`pysnn data fetch`, with the same --root or $PYSNN_DATA)"


def mnist_dir(root: str | os.PathLike | None = None) -> Path:
    """The folder of the MNIST files: ``data_root(root)`` if it holds any of them, else its
    ``mnist`` subfolder."""
    base = data_root(root)
    return base if any(_find(base, name) for name in MD5) else base / "mnist"


def load_mnist(
    split: str = "train", root: str | os.PathLike | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's ``split`` ("train": 60 000 samples, "test": 10 000) as (images, labels): images
    uint8 (n, 28, 28), pixel values 0..255 (divide for rates or currents), labels uint8 (n,) in
    0..9. Missing files are downloaded first if ``download`` (see ``fetch_mnist``)."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(map(repr, SPLITS))}, got {split!r}")
    folder = mnist_dir(root)
    names = SPLITS[split]
    missing = [name for name in names if _find(folder, name) is None]
    if missing and not download:
        raise ConfigError(
            f"MNIST {split} files missing from {folder}: {', '.join(missing)}; pass download=True, run "
            f"`pysnn data fetch`, or put them there by hand (gzip-compressed or not)"
        )
    _fetch(folder, missing, MIRRORS, retries=3, timeout=30.0, report=None)
    images, labels = (_read(_find(folder, name), name) for name in names)
    return images, labels


def fetch_mnist(
    root: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    retries: int = 3,
    *,
    timeout: float = 30.0,
    report: Callable[[Path, str], None] | None = None,
) -> list[Path]:
    """Download the MNIST files missing from ``mnist_dir(root)`` and return the paths of all four.
    ``mirrors``: base URLs, tried in order (default ``MIRRORS``); each is retried ``retries``
    times on network failures, ``timeout`` seconds per network operation. Files already there are
    left as they are (``verify_mnist`` checks them). ``report(path, "present" or "downloaded")``
    is called as each file is ready."""
    mirrors = MIRRORS if mirrors is None else [mirrors] if isinstance(mirrors, str) else mirrors
    folder = mnist_dir(root)
    _fetch(folder, list(MD5), mirrors, retries, timeout, report)
    return [_find(folder, name) for name in MD5]


def verify_mnist(root: str | os.PathLike | None = None) -> dict[str, str]:
    """Check each MNIST file in ``mnist_dir(root)``: file name -> "ok", or what is wrong with it."""
    folder = mnist_dir(root)
    status = {}
    for name in MD5:
        path = _find(folder, name)
        if path is None:
            status[name] = f"missing from {folder}"
            continue
        try:
            _read(path, name)
            status[name] = "ok"
        except ConfigError as error:
            status[name] = str(error)
    return status


def _find(folder: Path, name: str) -> Path | None:
    """The file ``name`` in ``folder``, gzip-compressed (preferred) or not, or None."""
    return next((p for p in (folder / f"{name}.gz", folder / name) if p.is_file()), None)


def _fetch(
    folder: Path,
    names: Iterable[str],
    mirrors: Sequence[str],
    retries: int,
    timeout: float,
    report: Callable[[Path, str], None] | None,
) -> None:
    for name in names:
        path = _find(folder, name)
        status = "present"
        if path is None:
            urls = [f"{mirror.rstrip('/')}/{name}.gz" for mirror in mirrors]
            path = download(urls, folder / f"{name}.gz", _download_check(name), retries=retries, timeout=timeout)
            status = "downloaded"
        if report is not None:
            report(path, status)


def _md5_problem(content: bytes, name: str) -> str | None:
    digest = hashlib.md5(content).hexdigest()
    if digest == MD5[name]:
        return None
    return f"MD5 of the uncompressed content is {digest}, expected {MD5[name]} for {name}"


def _download_check(name: str) -> Callable[[Path], str | None]:
    def check(path: Path) -> str | None:
        try:
            return _md5_problem(read_content(path), name)
        except IDXError as error:
            return error.detail

    return check


def _read(path: Path, name: str) -> np.ndarray:
    """The array in MNIST file ``name`` at ``path``; ConfigError if it is malformed or damaged."""
    try:
        content = read_content(path)
        array = parse_idx(content, path)
    except IDXError as error:
        raise ConfigError(f"{path}: {error.detail}; {_FIX}") from None
    problem = _md5_problem(content, name)
    if problem is not None:
        raise ConfigError(f"{path}: {problem}; {_FIX}")
    return array
