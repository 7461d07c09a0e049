"""cvkan.models: the seed's parameter counts, Z0, shapes, bad input, and the flat
mean/mean stack's dependence on mean(Z) only (issue 8, "The synthetic task")."""

from __future__ import annotations

import pytest
import torch

from spectral_manifolds.cvkan.models import CVKAN, n_parameters

D = 32


def tokens(b=3, n=16, d=D, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.polar(torch.ones(b, n, d), 2 * torch.pi * torch.rand(b, n, d, generator=g))


@pytest.mark.parametrize(
    "kwargs, count",
    [
        (dict(n_blocks=3), 173_989),  # the seed's flat stack (mean aggregation)
        (dict(hierarchy="shared", n_tokens=16), 58_083),
        (dict(hierarchy="per_level", n_tokens=16, allocated_levels=10), 579_660),
        (dict(hierarchy="magnitude", n_tokens=16, allocated_levels=10), 579_660),
    ],
)
def test_the_seeds_parameter_counts(kwargs, count):
    assert n_parameters(CVKAN(D, 2, **kwargs)) == count


def test_z0_is_the_same_model_without_blocks():
    z0 = CVKAN(D, 2, n_blocks=0)
    assert n_parameters(z0) == 130  # LayerNorm(32) + Linear(32, 2)
    z = tokens()
    # no block, centring or pooling parameters: the head sees |mean(Z)|
    expected = z0.head(z.mean(dim=1).abs())
    torch.testing.assert_close(z0(z), expected)


def test_shapes_batched_unbatched_and_real_features():
    model = CVKAN(8, 3, n_blocks=2, hidden=16)
    z = tokens(2, 8, 8)
    assert model(z).shape == (2, 3) and model(z[0]).shape == (3,)
    torch.testing.assert_close(model(z[0]), model(z)[0])
    real = CVKAN(8, 3, in_features=5, n_blocks=1, hidden=16, pooling="attention")
    assert real(torch.randn(4, 6, 5)).shape == (4, 3)


@pytest.mark.parametrize(
    "make, x",
    [
        (lambda: CVKAN(8, 2, hidden=16), torch.randn(2, 8, 8)),  # real input to a complex-token model
        (lambda: CVKAN(8, 2, hidden=16), tokens(2, 8, 4)),  # wrong width
        (lambda: CVKAN(8, 2, hidden=16), tokens(2, 8, 8)[None]),  # rank 4
        (lambda: CVKAN(8, 2, in_features=3, hidden=16), tokens(2, 8, 3)),  # complex input to a real embedding
    ],
)
def test_bad_input_is_a_clear_value_error(make, x):
    with pytest.raises(ValueError):
        make()(x)


@pytest.mark.parametrize("kwargs", [dict(pooling="max"), dict(norm="batch"), dict(hierarchy="sideways", n_tokens=16), dict(hierarchy="shared")])
def test_bad_options_are_value_errors(kwargs):
    """Unknown pooling, norm or hierarchy, and a hierarchy without n_tokens."""
    with pytest.raises(ValueError):
        CVKAN(8, 2, hidden=16, **kwargs)


def test_flat_mean_stack_without_norm_sees_only_the_mean():
    """Mean aggregation broadcasts one vector to every token, so mean pooling of the output
    is mean(Z) plus a function of mean(Z): two inputs with the same mean give the same
    logits when nothing else (no norm) touches the tokens. Centring magnitudes breaks it."""
    torch.manual_seed(0)
    z = tokens(2, 16, 8, seed=1).to(torch.complex128)
    shuffled = z.clone()
    shuffled[:, :8] = z[:, :8] * torch.exp(1j * torch.rand(2, 8, 8, dtype=torch.float64))  # change tokens...
    shuffled[:, 8:] = z[:, 8:] + (z[:, :8] - shuffled[:, :8])  # ...keeping every channel's mean
    torch.testing.assert_close(shuffled.mean(dim=1), z.mean(dim=1))
    plain = CVKAN(8, 2, n_blocks=3, hidden=16, norm="none").double()
    torch.testing.assert_close(plain(shuffled), plain(z))
    centred = CVKAN(8, 2, n_blocks=3, hidden=16, norm="centre").double()
    centred.load_state_dict(plain.state_dict())
    assert not torch.allclose(centred(shuffled), centred(z))


def test_token_states_one_per_block():
    model = CVKAN(8, 2, n_blocks=3, hidden=16)
    states = model.tokens(tokens(2, 8, 8))
    assert len(states) == 4 and all(s.shape == (2, 8, 8) and s.is_complex() for s in states)


def test_wrong_width_message_names_the_width():
    with pytest.raises(ValueError, match="d=8"):
        CVKAN(8, 2, hidden=16)(tokens(2, 8, 4))


def test_head_norm_hides_the_overall_level_and_can_be_dropped():
    """Scaling every token by 2 scales |mean(Z)| by 2: the head's LayerNorm cancels it exactly
    (Z0 cannot see the overall level), a head without it does not."""
    z = tokens(4, 16, 8)
    with_norm, without = CVKAN(8, 2, n_blocks=0), CVKAN(8, 2, n_blocks=0, head_norm=False)
    # equal up to LayerNorm's eps = 1e-5 against the small variance of |mean(Z)| over channels
    assert (with_norm(2 * z) - with_norm(z)).abs().max() < 2e-3
    assert (without(2 * z) - without(z)).abs().max() > 2e-2
    assert n_parameters(with_norm) - n_parameters(without) == 2 * 8
