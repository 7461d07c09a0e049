"""Test-wide settings: reproducible property tests.

Hypothesis draws its examples from a fixed seed (``derandomize``), so a CI run is
repeatable, and has no per-example deadline: the first example of a JAX test includes
its compilation, which on a busy 2-core machine can take seconds.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "book", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("book")
