"""Imputation of missing entries in (T,) or (T, C) series: classical methods, masks,
scores and ``fit_impute`` (issue 10, items 3-4; Part II finale).

* :mod:`.masks` -- artificially hidden entries (pygrinder, seeded): MCAR, gaps, blocks,
  real CO2 gap lengths.
* :mod:`.classical` -- LOCF, linear, PCHIP, cubic spline, STL + linear.
* :mod:`.statespace` -- structural model (statsmodels): Kalman filter (causal) and smoother,
  and ``fit_structural`` (parameters estimated once, applied to other series).
* :mod:`.harmonic` -- least-squares sinusoid fit.
* :mod:`.learned`, :mod:`.pypots_methods`, :mod:`.manifoldformer_method` -- learned imputers
  (GRU, BiGRU; SAITS, BRITS; the ManifoldFormer), each with a ``fit`` that trains once
  and fills many series; :mod:`.learned_protocol` (scaling, windows, levels, blending)
  and :mod:`.manifoldformer_train` (the vmapped training) are their shared parts.
* :mod:`.metrics` -- MAE / RMSE on hidden entries, skill, paired-bootstrap verdicts.
* :mod:`.api` -- :func:`fit_impute` and :data:`METHODS`.
"""

from spectral_manifolds.imputation.api import BIDIRECTIONAL, CAUSAL, METHODS, fit_impute, min_observed

__all__ = ["fit_impute", "METHODS", "CAUSAL", "BIDIRECTIONAL", "min_observed"]
