"""Complex token tensors: validation, batching, and the stack's "centre magnitudes" step.

Seed 003 (CV-KAN research log) works on complex tokens ``Z`` of shape ``(B, N, d)``:
``B`` sequences, ``N`` tokens, ``d`` complex channels. Issue 8 ("Build"): every module
accepts ``(B, N, d)`` and ``(N, d)``, returns the rank it was given, and rejects a real
dtype or a wrong rank with a clear ``ValueError``. :func:`as_tokens` does that check
once (through the shared :func:`spectral_manifolds.validate.sequence`) and
:func:`restore` undoes the batching.

:func:`center_magnitudes` is what the seed's stack applies after every block (issue 8,
"The stack"): each channel's magnitudes are divided by their geometric mean over the
tokens, phases kept, so a stack with ``norm none`` still normalizes something.
"""

from __future__ import annotations

import torch

from spectral_manifolds import validate

__all__ = ["as_tokens", "restore", "center_magnitudes", "check_complex"]


def check_complex(z, name: str = "z") -> None:
    """Raise ``ValueError`` unless ``z`` is a complex ``torch.Tensor`` (complex64/128)."""
    if not isinstance(z, torch.Tensor):
        raise ValueError(f"{name} must be a complex torch.Tensor, got {type(z).__name__}")
    if not z.is_complex():
        raise ValueError(
            f"{name} must be a complex tensor (complex64 or complex128), got dtype {z.dtype}; "
            "build complex tokens with torch.polar(magnitude, phase) or torch.complex(re, im)"
        )


def as_tokens(z, name: str = "z", *, d: int | None = None) -> tuple[torch.Tensor, bool]:
    """Check complex tokens and return them batched.

    Args:
        z: complex tensor of shape ``(B, N, d)`` or ``(N, d)``.
        name: what to call it in error messages.
        d: the required number of channels (None: any).

    Returns:
        ``(Z, unbatched)``: ``Z`` of shape ``(B, N, d)`` (a view; ``B = 1`` when the input
        was ``(N, d)``) and whether a batch axis was added. Pass both to :func:`restore`.

    Raises:
        ValueError: not a torch tensor, a real dtype, rank other than 2 or 3, or a last
            axis other than ``d``.
    """
    check_complex(z, name)
    return validate.sequence(z, name, last=d, last_name="d")


def restore(z: torch.Tensor, unbatched: bool) -> torch.Tensor:
    """Undo :func:`as_tokens`: ``(B, ...) -> (...)`` (drop axis 0) when ``unbatched``."""
    return z[0] if unbatched else z


def center_magnitudes(z: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Divide each channel's magnitudes by their geometric mean over the tokens, phase kept.

    ``out[..., i, c] = z[..., i, c] / g[..., c]`` with
    ``g[..., c] = exp(mean_i log(|z[..., i, c]| + eps))`` (issue 8, "The stack": the seed
    applies this after every block). With ``eps = 0`` the geometric mean of ``|out|`` over
    the tokens is exactly 1 in every channel, the output is unchanged when a channel is
    scaled by any ``a > 0``, and ``out`` rotates with ``z`` under ``z -> e^{i theta} z``
    (the step is rotation-equivariant: it only rescales by a positive real factor).

    Args:
        z: complex tokens ``(B, N, d)`` or ``(N, d)``.
        eps: added to ``|z|`` inside the log; ``eps > 0`` keeps an all-zero channel finite
            (output 0, finite gradients: ``d|z|/dz`` is taken as 0 at 0 by torch).

    Returns:
        complex tensor of the input's shape.
    """
    zb, unbatched = as_tokens(z)
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    log_g = torch.log(zb.abs() + eps).mean(dim=-2, keepdim=True)  # (B, 1, d) real
    return restore(zb * torch.exp(-log_g), unbatched)
