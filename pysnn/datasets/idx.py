"""The IDX file format (MNIST's): a header of magic number and dimensions, then big-endian data.

Files are read gzip-compressed or not, whatever their name: gzip is recognised by its magic bytes.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from pysnn.errors import ConfigError

GZIP_MAGIC = b"\x1f\x8b"

# IDX type code (third byte of the magic number) -> big-endian element type
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class IDXError(ConfigError):
    """A file that is not a valid IDX file, or damaged gzip data; ``detail`` says what is wrong."""

    def __init__(self, source: str | os.PathLike, detail: str) -> None:
        super().__init__(f"{source}: {detail}; delete it and download it again")
        self.detail = detail


def read_content(path: str | os.PathLike) -> bytes:
    """The file's bytes, decompressed if it is gzip-compressed."""
    path = Path(path)
    raw = path.read_bytes()
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise IDXError(path, f"damaged gzip data ({error})") from None


def parse_idx(content: bytes, source: str | os.PathLike = "<bytes>") -> np.ndarray:
    """The array an IDX file's (uncompressed) ``content`` holds, native-endian and writable;
    ``source`` names the file in errors."""

    def invalid(detail: str) -> IDXError:
        return IDXError(source, f"not a valid IDX file, {detail}")

    if len(content) < 4 or content[:2] != b"\x00\x00":
        raise invalid(f"it starts with {content[:4].hex() or 'nothing'}, expected 0000 then type and rank bytes")
    code, ndim = content[2], content[3]
    if code not in IDX_TYPES:
        raise invalid(f"unknown type code 0x{code:02x}, expected one of {', '.join(f'0x{c:02x}' for c in IDX_TYPES)}")
    if ndim == 0:
        raise invalid("rank 0, expected at least one dimension")
    header = 4 + 4 * ndim
    if len(content) < header:
        raise invalid(f"{len(content)} bytes, too short for the header of a rank-{ndim} array ({header} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(content, ">u4", count=ndim, offset=4))
    dtype = IDX_TYPES[code]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(content) - header != expected:
        raise invalid(
            f"the header declares shape {shape} of {dtype.newbyteorder('=')} ({expected} bytes of data), "
            f"the file holds {len(content) - header} bytes of data"
        )
    return np.frombuffer(content, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in the IDX file at ``path`` (gzip-compressed or not)."""
    return parse_idx(read_content(path), path)
