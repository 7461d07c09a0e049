"""Spectral Manifolds: the modules behind the executable book.

One concept per module; chapters in ``book/`` import them and train them.
"""

__version__ = "0.1.0"
