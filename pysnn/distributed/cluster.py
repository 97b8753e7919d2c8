"""The connection to a Dask cluster, in one place: a LocalCluster on this machine, or a scheduler
given by its address."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from pysnn.errors import ConfigError, positive_int, shown

EXTRA = "pip install 'pysnn-minibatch[dask]'"
"""How to install what pysnn.distributed needs (dask[distributed])."""


def require_dask() -> Any:
    """The ``distributed`` module, or a ConfigError naming the extra that installs it."""
    try:
        import distributed
    except ImportError as exc:
        raise ConfigError(f"pysnn.distributed needs Dask: {EXTRA} (dask[distributed])") from exc
    return distributed


@contextmanager
def cluster(
    workers: int | None = None,
    scheduler: str | None = None,
    *,
    threads: int = 1,
    say: Callable[[str], None] | None = None,
) -> Iterator[Any]:
    """A ``distributed.Client``, closed on exit (with the LocalCluster it started).

    ``scheduler`` (an address such as ``tcp://10.0.0.5:8786``): connect to that cluster, whose
    workers keep their own settings. Else start a LocalCluster on 127.0.0.1 with ``workers``
    worker processes (None: one per core) of one thread each; processes are the parallelism, so
    each worker's Numba runs ``threads`` threads (``NUMBA_NUM_THREADS``; default 1). Workers
    inherit this process's environment (``PYSNN_CACHE_DIR``: they load compiled code from the same
    on-disk cache). ``say`` (default: print to stderr) hears the dashboard's address, if any.
    """
    distributed = require_dask()
    if workers is not None and scheduler is not None:
        raise ConfigError(
            f"give workers (a LocalCluster) or scheduler (an existing cluster), not both: got workers={shown(workers)}, "
            f"scheduler={shown(scheduler)}"
        )
    say = say or (lambda message: print(message, file=sys.stderr, flush=True))
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler:
            raise ConfigError(f"scheduler must be an address such as 'tcp://host:8786', got {shown(scheduler)}")
        try:
            client = distributed.Client(scheduler)
        except OSError as error:  # refused, unreachable, or no answer within Dask's connect timeout
            raise ConfigError(
                f"scheduler={scheduler!r} did not answer ({error}); check the address and that a Dask scheduler runs there"
            ) from None
        local = None
    else:
        workers = None if workers is None else positive_int(workers, "workers")
        threads = positive_int(threads, "threads")
        local = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            env={"NUMBA_NUM_THREADS": str(threads)},
        )
        client = distributed.Client(local)
    try:
        if client.dashboard_link:
            say(f"Dask dashboard: {client.dashboard_link}")
        yield client
    finally:
        client.close()
        if local is not None:
            local.close()
