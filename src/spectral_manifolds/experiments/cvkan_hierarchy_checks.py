"""An exact check of the chapter "Hierarchical polarization" (re-exported by
:mod:`spectral_manifolds.experiments.cvkan_hierarchy`): on unit-magnitude tokens the
magnitude-weighted hierarchy equals the per-level one at level 0 and parts from it after."""

from __future__ import annotations

from spectral_manifolds import runtime

__all__ = ["level0_equivalence"]


def level0_equivalence(n_tokens: int = 16, d: int = 32, seed: int = 0) -> dict:
    """On unit-magnitude tokens, ``magnitude`` and ``per_level`` (same weights) agree at level 0
    (all weights ``mean_d |z_i| = 1``) and part after it. Returns the largest ``|difference|``
    of the tokens after level 0 and after all levels, and the spread of ``mean_d |z_i|`` after level 0."""
    import torch

    from spectral_manifolds.cvkan.hierarchy import HierarchicalPolarization
    from spectral_manifolds.data.polarization import make_polarization

    runtime.seed_everything(seed)
    per_level = HierarchicalPolarization(d, n_tokens, "per_level").double()
    mag = HierarchicalPolarization(d, n_tokens, "magnitude").double()
    mag.load_state_dict(per_level.state_dict())
    z = make_polarization(64, 2, n_tokens=n_tokens, d=d, seed=seed, backend="torch").z_train.to(torch.complex128)
    z = z / z.abs()  # exactly unit magnitude in float64 (complex64 storage rounds |z| to 1 +- 1e-7)
    with torch.no_grad():
        a0, b0 = per_level.level(z, 0), mag.level(z, 0)
        w = b0.abs().mean(-1)
        return {"level 0": float((a0 - b0).abs().max()), "all levels": float((per_level(z) - mag(z)).abs().max()),
                "input: std of mean_d |z_i|": float(z.abs().mean(-1).std()),
                "after level 0: std of mean_d |z_i|": float(w.std())}
