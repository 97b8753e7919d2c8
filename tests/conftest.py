"""Test configuration: Hypothesis profiles.

``ci`` (the default) bounds the number of examples so the suite stays well inside CI's time;
``dev`` explores more: ``pytest --hypothesis-profile=dev``. Numba compiles on first use, so no
example has a deadline.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("ci")
