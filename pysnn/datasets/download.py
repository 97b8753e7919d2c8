"""Download one file from a list of mirrors: retries, a timeout, a content check, an atomic write.

The file is streamed into a temporary file in the destination folder, checked, then moved into
place with ``os.replace``: a truncated, corrupted or interrupted download leaves nothing behind
(only a killed process can leave a hidden ``.NAME.*.part`` file, which is never read).
"""

from __future__ import annotations

import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pysnn import __version__
from pysnn.errors import ConfigError

RETRY_DELAY_S = 1.0  # wait before the k-th retry of a mirror: k * RETRY_DELAY_S
CHUNK = 1 << 20


class _Transient(Exception):
    """A failure worth retrying on the same mirror (network, server overload, truncated body)."""


class _Rejected(Exception):
    """A failure retrying the same mirror will not fix (HTTP 404, content that fails the check)."""


def download(
    urls: Sequence[str],
    dest: Path,
    check: Callable[[Path], str | None],
    *,
    retries: int = 3,
    timeout: float = 30.0,
) -> Path:
    """Download ``dest`` from the first of ``urls`` that delivers it. ``check(path)`` returns what
    is wrong with a downloaded file, or None if it is good; each URL is tried ``1 + retries`` times
    on transient failures. Raises ConfigError listing every URL and its failure if none works."""
    if retries < 0:
        raise ConfigError(f"retries must be >= 0, got {retries}")
    if not urls:
        raise ConfigError(f"no URL to download {dest.name} from: pass at least one mirror")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create the data folder {dest.parent} ({error}); choose a writable one") from None
    failures = []
    for url in urls:
        failure = _try_url(url, dest, check, retries, timeout)
        if failure is None:
            return dest
        failures.append(f"  {url}: {failure}")
    raise ConfigError(
        f"could not download {dest.name}:\n" + "\n".join(failures) + "\n"
        f"Download it by hand from one of these URLs and save it as {dest}."
    )


def _try_url(url: str, dest: Path, check: Callable[[Path], str | None], retries: int, timeout: float) -> str | None:
    """None once ``dest`` is in place, else what went wrong with ``url``."""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(attempt * RETRY_DELAY_S)
        try:
            _fetch(url, dest, check, timeout)
            return None
        except _Rejected as error:
            return str(error)
        except _Transient as error:
            failure = str(error)
    return f"{failure} ({retries + 1} attempt{'s' if retries else ''})"


def _fetch(url: str, dest: Path, check: Callable[[Path], str | None], timeout: float) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as error:
        raise ConfigError(f"cannot write to the data folder {dest.parent} ({error}); choose a writable one") from None
    tmp = Path(name)
    try:
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in _chunks(url, timeout):
                    out.write(chunk)
        except OSError as error:  # _chunks turns network errors into _Transient or _Rejected
            raise ConfigError(f"cannot write {tmp} ({error}); free space or choose another folder") from None
        problem = check(tmp)
        if problem is not None:
            raise _Rejected(f"the downloaded file is wrong: {problem}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _chunks(url: str, timeout: float) -> Iterator[bytes]:
    """The body of ``url``, piece by piece; raises _Transient or _Rejected on failure."""
    request = urllib.request.Request(url, headers={"User-Agent": f"pysnn/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(CHUNK):
                received += len(chunk)
                yield chunk
    except urllib.error.HTTPError as error:
        failure = f"HTTP {error.code} {error.reason}"
        raise (_Transient if error.code in (408, 429) or error.code >= 500 else _Rejected)(failure) from None
    except urllib.error.URLError as error:
        raise _Transient(f"cannot connect ({error.reason})") from None
    except (OSError, http.client.HTTPException) as error:  # timeouts, resets, malformed responses
        raise _Transient(f"connection failed ({type(error).__name__}: {error})") from None
    if length is not None and received != int(length):
        raise _Transient(f"truncated: received {received} of {length} bytes")
