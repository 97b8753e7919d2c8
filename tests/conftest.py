"""Test configuration: Hypothesis profiles, and Numba's CUDA simulator.

``ci`` (the default) bounds the number of examples so the suite stays well inside CI's time;
``dev`` explores more: ``pytest --hypothesis-profile=dev``. Numba compiles on first use, so no
example has a deadline.

The numba-cuda and cupy backends run on Numba's CUDA simulator unless ``NUMBA_ENABLE_CUDASIM=0``
is set (on a machine with a GPU: ``benchmarks/gpu_checks.sh``); the simulator must be chosen
before numba.cuda is first imported. They launch the same generated kernels, whose simulation is
most of CI's time: on the simulator, a test parametrized over the backends runs only one of them,
chosen by the test's name, so both are tested without doubling that time.
"""

import os
import zlib

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("ci")


def pytest_collection_modifyitems(config, items):
    """On the simulator, deselect one of each test's ``numba-cuda`` and ``cupy`` cases (see above)."""
    if os.environ["NUMBA_ENABLE_CUDASIM"] in ("", "0"):
        return
    from networks import SAME_KERNELS  # after the simulator is chosen: it loads the backends

    cases = {}  # (test, its other parameters) -> {backend: item}
    for item in items:
        params = getattr(item, "callspec", None)
        values = params.params.values() if params else ()
        backend = next((v for v in values if isinstance(v, str) and v in SAME_KERNELS), None)
        if backend is not None:
            cases.setdefault((item.path, item.originalname, params.id.replace(backend, "")), {})[backend] = item
    dropped = set()
    for key, twins in cases.items():
        if len(twins) == 2:
            kept = SAME_KERNELS[zlib.crc32(f"{key[1]}[{key[2]}]".encode()) % 2]
            dropped.update(item for backend, item in twins.items() if backend != kept)
    if dropped:
        config.hook.pytest_deselected(items=[item for item in items if item in dropped])
        items[:] = [item for item in items if item not in dropped]
