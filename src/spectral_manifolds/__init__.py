"""Spectral Manifolds: the modules behind the executable book.

One concept per module; chapters in ``book/`` import them and train them. Importing the
package sets up JAX before any module imports it (``runtime.configure_jax``: a
persistent compilation cache and a guard against a CPU deadlock on small machines).
"""

from spectral_manifolds import runtime as _runtime

_runtime.configure_jax()

__version__ = "0.1.0"
