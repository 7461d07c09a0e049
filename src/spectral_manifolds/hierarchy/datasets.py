"""Offline field sequences for Part IV with exact ground truth (issue 9, "Data").

Seed 004 feeds its manifolds field sequences ``(T, N, N)`` (§11.1 ``forward(x, history)``)
and names no data set. These generators make three whose truth is known exactly; the
real video is :mod:`spectral_manifolds.hierarchy.video`. Each returns a :class:`Clip` of
float32 numpy arrays, ``frames: (T, H, W)``; seeded by ``numpy.random.default_rng(seed)``,
float64 inside. Pixels ``p = (y, x)``, periodic boundaries unless stated.

- :func:`three_speed_field`: a bundled scikit-image texture (grass, gravel, brick) split by
  :func:`~spectral_manifolds.hierarchy.bands.masks` (a partition of unity) into M bands,
  band b translated at its own velocity ``v_b`` (pixels/frame, sub-pixel) by an exact
  Fourier shift: ``band_b(t) = F^-1[m_b(k) exp(-2 pi i k.v_b t / N) F[img](k)]``, the
  seed's "coarse = slow, fine = fast" picture (§1.2, §2.3) with truth per band.
- :func:`gray_scott`: Gray-Scott reaction-diffusion (Pearson 1993, Science 261:189),
  ``du/dt = Du lap u - u v^2 + F (1 - u)``, ``dv/dt = Dv lap v + u v^2 - (F + k) v``,
  explicit Euler on the periodic 5-point Laplacian (grid step 1), numpy-vectorized.
- :func:`moving_digits`: sklearn's 8x8 digits upsampled onto a canvas, each moving at
  a constant integer velocity and wrapping (periodic) or bouncing off the walls, in the
  manner of Moving MNIST (Srivastava et al. 2015).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from spectral_manifolds import validate
from spectral_manifolds.hierarchy import bands as _bands

__all__ = ["Clip", "TEXTURES", "texture", "fourier_shift", "default_velocity", "three_speed_field", "laplacian",
           "gray_scott_run", "gray_scott", "moving_digits"]

TEXTURES = ("grass", "gravel", "brick")


@dataclass
class Clip:
    """A sequence ``frames: (T, H, W)`` float32, its parts ``(P, T, H, W)`` float32, ``info``."""

    frames: np.ndarray
    parts: np.ndarray
    info: dict = field(default_factory=dict)


def _real(name, value, *, positive=False, nonneg=False):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not np.isfinite(v) or (positive and v <= 0) or (nonneg and v < 0):
        kind = "positive" if positive else "non-negative" if nonneg else "finite"
        raise ValueError(f"{name} must be a {kind} number, got {value!r}")
    return v


def _block_mean(img, n, f=None):
    """Central ``(n f, n f)`` crop of ``img: (H, W)`` averaged over f x f blocks -> (n, n); f = min(H, W) // n by default."""
    f = min(img.shape) // n if f is None else f
    if f < 1 or n * f > min(img.shape):
        raise ValueError(f"a crop of side n * factor = {n} * {f} does not fit the image {img.shape}")
    y0, x0 = (img.shape[0] - n * f) // 2, (img.shape[1] - n * f) // 2
    crop = img[y0: y0 + n * f, x0: x0 + n * f]
    return crop.reshape(n, f, n, f).mean(axis=(1, 3))


def _drop_nyquist(x):
    """Zero the Nyquist row/column of ``x: (..., H, W)`` (even sides): shifts then stay real and compose."""
    h = np.fft.fft2(x)
    if x.shape[-2] % 2 == 0:
        h[..., x.shape[-2] // 2, :] = 0
    if x.shape[-1] % 2 == 0:
        h[..., :, x.shape[-1] // 2] = 0
    return np.fft.ifft2(h).real


def texture(name: str = "grass", n: int = 64, factor: int = 2) -> np.ndarray:
    """A bundled scikit-image texture (512 x 512 uint8) as ``(n, n)`` float64 in [0, 1].

    Central crop of side ``n * factor`` (at most 512), averaged over ``factor x factor``
    blocks (factor 2 keeps blades, stones and bricks several pixels wide at n = 64).
    """
    validate.choice("texture", name, TEXTURES)
    validate.positive_int("n", n)
    validate.positive_int("factor", factor)
    try:
        import skimage.data
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the three-speed field needs scikit-image (pip install scikit-image)") from e
    return _block_mean(getattr(skimage.data, name)().astype(np.float64) / 255.0, n, factor)


def fourier_shift(x, shift) -> np.ndarray:
    """Translate ``x: (..., H, W)`` by ``shift = (dy, dx)`` pixels on the torus: ``out(p) = x(p - shift)``.

    Multiplies ``fft2(x)`` by ``exp(-2 pi i (fy dy + fx dx))`` (``fy, fx`` from ``fftfreq``)
    and keeps the real part; an integer shift equals ``np.roll(x, shift, (-2, -1))``. For
    ``x`` with no Nyquist row/column (odd sides, or :func:`three_speed_field`'s texture) it
    is the exact band-limited translation: a group action, ``shift(a) shift(b) = shift(a + b)``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., H, W), got shape {x.shape}")
    s = np.asarray(shift, dtype=np.float64)
    if s.shape != (2,) or not np.all(np.isfinite(s)):
        raise ValueError(f"shift must be a finite pair (dy, dx), got {shift!r}")
    fy, fx = np.fft.fftfreq(x.shape[-2])[:, None], np.fft.fftfreq(x.shape[-1])[None, :]
    return np.fft.ifft2(np.fft.fft2(x) * np.exp(-2j * np.pi * (fy * s[0] + fx * s[1]))).real


def default_velocity(m: int) -> np.ndarray:
    """``(M, 2)`` velocities: band b moves ``0.1 * 3^b`` pixels/frame at angle ``0.5 + 2 pi b / M`` rad."""
    validate.positive_int("m", m)
    b = np.arange(m)
    a = 0.5 + 2 * np.pi * b / m
    return 0.1 * 3.0 ** b[:, None] * np.stack([np.sin(a), np.cos(a)], 1)


def three_speed_field(frames: int = 32, n: int = 64, *, texture_name: str = "grass", factor: int = 2, bands=3,
                      velocity=None, masks: str = "cosine") -> Clip:
    """The texture's bands moving at their own velocities (module docstring): a :class:`Clip`.

    ``bands``/``masks``: as in :func:`~spectral_manifolds.hierarchy.bands.masks` (a partition
    of unity: ``"cosine"``, ``"logistic"`` or ``"hard"``); ``velocity``: one ``(vy, vx)`` in
    pixels/frame per band (M pairs; default :func:`default_velocity`: slow coarse, fast fine). The texture
    (:func:`texture` with ``factor``, [0, 1]) loses its Nyquist row and column, so every shift is exact.
    ``parts: (M, T, n, n)`` the bands, ``frames = parts.sum(0)``; frame 0 is the image, later
    frames leave [0, 1] as the bands drift apart (measured over 64 frames at n = 64, default
    velocities, 2-4 bands, all three textures: within [-0.21, 1.17]). Each band keeps its
    norm, the frame its mean (DC lies in band 0). ``info``: ``velocity`` (M, 2), ``texture``, ``image`` (n, n) float64 at t = 0.
    """
    validate.positive_int("frames", frames)
    validate.positive_int("n", n)
    validate.choice("masks", masks, _bands.KINDS[:3])
    m = _bands.masks(n, bands, masks, dtype=torch.float64).numpy()  # (M, n, n), FFT order
    try:
        v = default_velocity(m.shape[0]) if velocity is None else np.asarray(velocity, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"velocity must be {m.shape[0]} pairs (vy, vx), got {velocity!r}") from None
    if v.shape != (m.shape[0], 2) or not np.all(np.isfinite(v)):
        raise ValueError(f"velocity must be {m.shape[0]} finite pairs (vy, vx), one per band, got {velocity!r}")
    img = _drop_nyquist(texture(texture_name, n, factor))
    fy, fx = np.fft.fftfreq(n)[:, None], np.fft.fftfreq(n)[None, :]
    t = np.arange(frames, dtype=np.float64)[:, None, None]
    h = np.fft.fft2(img)
    parts = np.stack([np.fft.ifft2(h * m[b] * np.exp(-2j * np.pi * t * (fy * v[b, 0] + fx * v[b, 1]))).real
                      for b in range(m.shape[0])])  # (M, T, n, n)
    info = {"kind": "three_speed_field", "velocity": v, "texture": texture_name, "bands": bands,
            "masks": masks, "factor": factor, "image": img}
    return Clip(parts.sum(0).astype(np.float32), parts.astype(np.float32), info)


def laplacian(x) -> np.ndarray:
    """Periodic 5-point Laplacian (grid step 1) of ``x: (..., H, W)``.

    Eigenfunctions are the Fourier modes: ``lap e^{2 pi i (ky y / H + kx x / W)} =
    -(4 sin^2(pi ky / H) + 4 sin^2(pi kx / W)) e^{...}``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., H, W), got shape {x.shape}")
    return (np.roll(x, 1, -2) + np.roll(x, -1, -2) + np.roll(x, 1, -1) + np.roll(x, -1, -1) - 4 * x)


#: Documented Gray-Scott parameters (pixel units, dt in the same time unit): a "worms and
#: spots" regime (Pearson's type kappa-lambda) with patterns of ~10 pixels, which fit 64^2.
GRAY_SCOTT = {"F": 0.035, "k": 0.060, "Du": 0.16, "Dv": 0.08, "dt": 1.0}


def _gs_params(params):
    p = dict(GRAY_SCOTT)
    unknown = set(params) - set(p)
    if unknown:
        raise ValueError(f"unknown Gray-Scott parameter(s) {sorted(unknown)}; known: {sorted(p)}")
    p.update({k: _real(k, v, nonneg=True) for k, v in params.items()})
    if p["dt"] <= 0:
        raise ValueError(f"dt must be positive, got {p['dt']!r}")
    if p["dt"] * (4 * max(p["Du"], p["Dv"]) + p["F"] + p["k"]) > 1:
        raise ValueError(f"dt * (4 max(Du, Dv) + F + k) = {p['dt'] * (4 * max(p['Du'], p['Dv']) + p['F'] + p['k']):.3g} > 1: "
                         "explicit Euler is then not monotone (lose positivity, may blow up); use a smaller dt")
    return p


def gray_scott_run(u, v, steps: int, *, every: int = 1, **params):
    """Integrate Gray-Scott from ``u, v: (..., H, W)`` for ``steps`` Euler steps.

    Returns ``(us, vs)``, each ``(steps // every, ..., H, W)`` float64: the state after
    steps ``every, 2 every, ...``. ``params``: any of :data:`GRAY_SCOTT`. With
    ``dt (4 max(Du, Dv) + F + k) <= 1`` (checked) the linear part of each step is a convex
    combination of neighbours, so ``v >= 0`` always and ``0 <= u <= 1`` while ``dt v^2 <=
    1 - dt (4 Du + F)`` (the weight of u in its own update stays >= 0); ``(u, v) = (1, 0)`` is a fixed point; with ``F = k = 0`` the total
    ``sum(u + v)`` is conserved (the reaction moves mass from u to v, the Laplacian sums to 0).
    """
    p = _gs_params(params)
    validate.positive_int("steps", steps)
    validate.positive_int("every", every)
    if every > steps:
        raise ValueError(f"every={every} exceeds steps={steps}: no state would be recorded")
    u, v = np.array(u, dtype=np.float64), np.array(v, dtype=np.float64)
    if u.shape != v.shape or u.ndim < 2:
        raise ValueError(f"u and v must share a shape (..., H, W), got {u.shape} and {v.shape}")
    validate.check_finite(u, "u")
    validate.check_finite(v, "v")
    us, vs = [], []
    for s in range(1, steps + 1):
        uvv = u * v * v
        u, v = (u + p["dt"] * (p["Du"] * laplacian(u) - uvv + p["F"] * (1 - u)),
                v + p["dt"] * (p["Dv"] * laplacian(v) + uvv - (p["F"] + p["k"]) * v))
        if s % every == 0:
            us.append(u)
            vs.append(v)
    return np.stack(us), np.stack(vs)


def gray_scott(frames: int = 32, n: int = 64, *, every: int = 50, burn_in: int = 200, patches: int = 4,
               patch: int = 6, noise: float = 0.02, seed: int = 0, **params) -> Clip:
    """Gray-Scott at ``n x n`` from a seeded perturbation of ``(u, v) = (1, 0)``: a :class:`Clip`.

    Initial state: ``patches`` squares of side ``patch`` at seeded positions set to
    ``(u, v) = (1/2, 1/4)``, plus ``noise`` times uniform [0, 1) on v inside them (Pearson's
    start). After ``burn_in`` steps a frame is recorded every ``every`` steps; with the
    defaults the worms still grow and split over the clip (by burn-in 1000 they fill the grid
    and drift slowly).
    ``frames: (T, n, n)`` is v (values in [0, 1)); ``parts: (2, T, n, n)`` holds (u, v), u in
    [0, 1]. ``params``: any of :data:`GRAY_SCOTT` (F, k, Du, Dv, dt). ``patches=0`` stays at
    the homogeneous steady state.
    """
    for name, val in (("frames", frames), ("n", n), ("every", every), ("patch", patch)):
        validate.positive_int(name, val)
    if isinstance(burn_in, bool) or not isinstance(burn_in, (int, np.integer)) or burn_in < 0:
        raise ValueError(f"burn_in must be a non-negative integer, got {burn_in!r}")
    if isinstance(patches, bool) or not isinstance(patches, (int, np.integer)) or patches < 0:
        raise ValueError(f"patches must be a non-negative integer, got {patches!r}")
    if patch > n:
        raise ValueError(f"patch={patch} exceeds the grid n={n}")
    noise = _real("noise", noise, nonneg=True)
    _gs_params(params)
    rng = np.random.default_rng(seed)
    u, v = np.ones((n, n)), np.zeros((n, n))
    for y, x in rng.integers(0, n, size=(patches, 2)):
        idx = np.ix_((y + np.arange(patch)) % n, (x + np.arange(patch)) % n)
        u[idx] = 0.5
        v[idx] = 0.25 + noise * rng.random((patch, patch))
    if burn_in:
        us, vs = gray_scott_run(u, v, burn_in, every=burn_in, **params)
        u, v = us[-1], vs[-1]
    us, vs = gray_scott_run(u, v, frames * every, every=every, **params)
    info = {"kind": "gray_scott", **GRAY_SCOTT, **params, "every": every, "burn_in": burn_in,
            "patches": patches, "patch": patch, "noise": noise, "seed": seed}
    return Clip(vs.astype(np.float32), np.stack([us, vs]).astype(np.float32), info)


def _bounce(p0, v, t, span):
    """Position at frames ``t`` of a point starting at ``p0`` with velocity ``v``, reflected in [0, span]."""
    if span == 0:
        return np.zeros_like(p0 + v * t)
    q = np.mod(p0 + v * t, 2 * span)
    return span - np.abs(q - span)


def moving_digits(frames: int = 20, canvas: int = 64, *, digits: int = 2, scale: int = 3, max_speed: int = 3,
                  boundary: str = "bounce", combine: str = "max", seed: int = 0) -> Clip:
    """Digits from ``sklearn.datasets.load_digits`` moving on a ``canvas x canvas`` frame: a :class:`Clip`.

    Each of ``digits`` images (8x8, values 0..16, drawn by ``seed``) is divided by 16 and
    upsampled ``scale`` times by pixel repetition (``np.kron``) to side ``s = 8 scale``. Its
    velocity is an integer pair in ``[-max_speed, max_speed]^2``, not (0, 0); its corner
    starts at a random position and moves by whole pixels, so every frame is exact:
    ``boundary="wrap"``: periodic, ``layer(t) = roll(layer(0), v t)``; ``"bounce"``: the
    digit stays inside and reflects off the walls, corner ``c - |((c0 + v t) mod 2c) - c|``
    with ``c = canvas - s``. ``parts: (D, T, canvas, canvas)`` one layer per digit, in [0, 1];
    ``frames`` their pixel-wise ``max`` (in [0, 1]) or ``sum`` (``combine``, in [0, D]).
    ``info``: ``labels`` (D,), ``index`` into load_digits, ``velocity`` and ``start`` (D, 2).
    """
    for name, val in (("frames", frames), ("canvas", canvas), ("digits", digits), ("scale", scale),
                      ("max_speed", max_speed)):
        validate.positive_int(name, val)
    validate.choice("boundary", boundary, ("bounce", "wrap"))
    validate.choice("combine", combine, ("max", "sum"))
    s = 8 * scale
    if s > canvas:
        raise ValueError(f"a digit of side 8*scale={s} does not fit the canvas {canvas}")
    from sklearn.datasets import load_digits

    data = load_digits()
    rng = np.random.default_rng(seed)
    index = rng.choice(len(data.images), size=digits, replace=False)
    vel = rng.integers(-max_speed, max_speed + 1, size=(digits, 2))
    while np.any(still := np.all(vel == 0, axis=1)):
        vel[still] = rng.integers(-max_speed, max_speed + 1, size=(int(still.sum()), 2))
    span = canvas - s if boundary == "bounce" else canvas - 1
    start = rng.integers(0, span + 1, size=(digits, 2))
    t = np.arange(frames)[:, None]
    layers = np.zeros((digits, frames, canvas, canvas))
    for d in range(digits):
        sprite = np.kron(data.images[index[d]] / 16.0, np.ones((scale, scale)))
        if boundary == "wrap":
            pos = np.mod(start[d] + vel[d] * t, canvas)
        else:
            pos = _bounce(start[d], vel[d], t, canvas - s)
        for i, (y, x) in enumerate(pos):
            layers[d, i, :s, :s] = sprite
            layers[d, i] = np.roll(layers[d, i], (int(y), int(x)), (0, 1))
    out = layers.max(0) if combine == "max" else layers.sum(0)
    info = {"kind": "moving_digits", "labels": data.target[index], "index": index, "velocity": vel,
            "start": start, "boundary": boundary, "combine": combine, "scale": scale, "seed": seed}
    return Clip(out.astype(np.float32), layers.astype(np.float32), info)
