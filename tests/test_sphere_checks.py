"""Chapter 1's sphere checks (experiments/sphere_checks.py): geoopt's clamp, agreement, accuracy, KL gradient."""

from __future__ import annotations

import math

import geoopt
import numpy as np
import pytest
import torch

from spectral_manifolds.experiments import sphere_checks as sc


def test_geoopt_eps_are_geoopts_own_floors():
    eps = sc.geoopt_eps()
    G = geoopt.Sphere()
    for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        e, floor = eps[name]
        assert floor == pytest.approx(math.acos(1 - e), rel=1e-12)
        # two points closer than the floor: geoopt returns the floor (up to the dtype's rounding)
        a = torch.tensor([1.0, 0.0, 0.0], dtype=dtype)
        b = torch.tensor([math.cos(1e-6), math.sin(1e-6), 0.0], dtype=dtype)
        assert float(G.dist(a, b)) == pytest.approx(floor, rel=1e-3)


def test_agreement_rows_cover_every_map_and_agree():
    rows = sc.geoopt_agreement(dims=(3, 21), n=64)
    assert [(r["dtype"], r["d"]) for r in rows] == [("float32", 3), ("float32", 21), ("float64", 3), ("float64", 21)]
    for r in rows:
        tol = 1e-6 if r["dtype"] == "float32" else 1e-12
        assert max(r[k] for k in ("exp", "log", "dist", "project", "retract")) <= tol


def test_distance_accuracy_ours_is_exact_where_arccos_and_geoopt_are_not():
    rows = sc.distance_accuracy((1e-6, 1.0))
    tiny, one = rows
    assert tiny["ours, float32"] == pytest.approx(tiny["true distance (mpmath)"], rel=1e-5)
    assert tiny["arccos, float32"] == 0.0  # cos(1e-6) rounds to 1 in float32
    assert tiny["geoopt, float32"] == pytest.approx(sc.geoopt_eps()["float32"][1], rel=1e-3)
    assert one["ours, float32"] == pytest.approx(1.0, abs=1e-6)


def test_kl_limit_closed_form_in_three_dimensions():
    assert sc.kl_limit(3) == pytest.approx(math.log(4 / math.pi), rel=1e-12)


def test_kl_vs_scale_tends_to_the_limit_and_is_smallest_near_the_equator_scale():
    sigmas = np.asarray([0.05, 1.1, 30.0])
    kl = sc.kl_vs_scale(sigmas, 3, n_samples=20_000)
    assert kl[1] < kl[0] and kl[1] < kl[2]
    assert kl[2] == pytest.approx(sc.kl_limit(3), abs=0.03)


def test_pathwise_gradient_matches_the_derivative_when_samples_stay_away_from_the_antipode():
    # sigma = 0.1 in d = 21: |v| ~ 0.45 rad, far from pi: the pathwise mean is the derivative
    g, fd = sc.kl_gradient_samples(0.1, dim=21, n=2_000)
    assert g.mean() == pytest.approx(fd, rel=0.01)
    assert np.abs(g).max() < 10 * abs(fd)


def test_pathwise_gradient_has_huge_outliers_once_samples_reach_the_antipode():
    # sigma = 0.8 in d = 21: |v| ~ 3.6 rad, samples straddle |v| = pi, where the gradient ~ 1/|pi - |v||
    g, fd = sc.kl_gradient_samples(0.8, dim=21, n=2_000)
    assert np.abs(g).max() > 100 * abs(fd)
    assert np.isfinite(g).all() and math.isfinite(fd)
