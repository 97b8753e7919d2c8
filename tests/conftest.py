"""Test configuration: Hypothesis profiles, and Numba's CUDA simulator.

``ci`` (the default) bounds the number of examples so the suite stays well inside CI's time;
``dev`` explores more: ``pytest --hypothesis-profile=dev``. Numba compiles on first use, so no
example has a deadline.

The numba-cuda and cupy backends run on Numba's CUDA simulator unless ``NUMBA_ENABLE_CUDASIM=0``
is set (on a machine with a GPU: ``benchmarks/gpu_checks.sh``); the simulator must be chosen
before numba.cuda is first imported. They launch the same generated kernels, whose simulation is
most of CI's time: Hypothesis tests draw one of them where they drew numba-cuda alone
(``networks.compiled_backends``), so they share its examples.
"""

import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("ci")
