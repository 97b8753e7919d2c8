"""Test configuration: Hypothesis profiles, Numba's CUDA simulator, and the Dask tests' cluster.

``ci`` (the default) bounds the number of examples so the suite stays well inside CI's time;
``dev`` explores more: ``pytest --hypothesis-profile=dev``. Numba compiles on first use, so no
example has a deadline.

The numba-cuda and cupy backends run on Numba's CUDA simulator unless ``NUMBA_ENABLE_CUDASIM=0``
is set (on a machine with a GPU: ``benchmarks/gpu_checks.sh``); the simulator must be chosen
before numba.cuda is first imported. They launch the same generated kernels: Hypothesis tests
draw one of them where they drew numba-cuda alone (``networks.compiled_backends``), so they share
its examples. Python threads take turns more often than by default, which makes the simulator
several times faster (``cuda_support.SIMULATOR_SWITCH_INTERVAL``).
"""

import os
import sys

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from pysnn import cuda_support  # noqa: E402

sys.setswitchinterval(cuda_support.SIMULATOR_SWITCH_INTERVAL)

settings.register_profile(
    "ci", max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("ci")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The Dask tests: the client's thread in this process draws from ``random`` (distributed
    picks workers with ``random.choice``) while Hypothesis draws an example, which Hypothesis
    cannot tell from a strategy that uses ``random`` (theirs do not): that warning is ignored."""
    for item in items:
        if "client" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies"))


@pytest.fixture(scope="session")
def client():
    """A Client of one LocalCluster (2 worker processes on 127.0.0.1) for every Dask test
    (tests/test_distributed.py, tests/test_data_parallel.py) of this test process (with
    pytest-xdist, of each worker that runs one): its workers start and load compiled code once. They share PYSNN_CACHE_DIR with this process and import test modules by name (they
    start with its sys.path)."""
    pytest.importorskip("distributed")
    from pysnn.distributed import cluster

    with cluster(2, say=lambda message: None) as client:
        yield client
