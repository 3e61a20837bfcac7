"""Rare disasters in log TFP: the AR(1)'s jump against its closed-form moments; solvers that cannot see
the jumps refuse them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hetmacro as hm
from hetmacro.models import KrusellSmith


def test_one_step_moments_match_the_closed_form():
    # z' = rho z + sigma eps + J, J = size w.p. p: E z' = rho z + p size, Var z' = sigma^2 + p (1 - p) size^2
    rho, sigma, p, size, z = 0.9, 0.01, 0.05, -0.1, 0.02
    noise = hm.AR1(rho, sigma, jump_prob=p, jump_size=size)
    n = 200_000
    draws = np.asarray(
        jax.vmap(lambda k: noise.step(k, jnp.float32(z), 0))(jax.random.split(jax.random.PRNGKey(3), n))
    )
    mean, var = rho * z + p * size, sigma**2 + p * (1 - p) * size**2
    assert abs(draws.mean() - mean) < 4 * np.sqrt(var / n)
    assert abs(draws.var() / var - 1) < 4 * np.sqrt(2 / n) * 3  # kurtosis of the jump widens the s.e.
    jumped = draws < rho * z - 0.05  # the Gaussian part alone never falls 5 s.d. below its mean here
    assert abs(jumped.mean() - p) < 4 * np.sqrt(p * (1 - p) / n)
    assert not noise.deterministic and hm.AR1(rho, 0.0, jump_prob=p, jump_size=size).jumps


def test_the_plain_process_draws_as_before():
    noise, key, z = hm.AR1(0.9, 0.03), jax.random.PRNGKey(7), jnp.float32(0.1)
    assert not noise.jumps and hm.AR1(0.9, 0.03, jump_prob=0.1).jumps is False  # a jump of size 0 is none
    assert noise.step(key, z, 0) == 0.9 * z + 0.03 * jax.random.normal(key, (), jnp.float32)


def test_bad_disasters_are_refused():
    for p in (1.0, -0.1):
        with pytest.raises(ValueError, match="AR1.jump_prob"):
            hm.AR1(0.9, 0.01, jump_prob=p, jump_size=-0.1)
    with pytest.raises(
        ValueError, match="disaster_prob = 0.01 needs the AR.1. TFP process and a disaster_size"
    ):
        KrusellSmith(tfp_process="ar1", tfp_sd=0.01, disaster_prob=0.01)
    with pytest.raises(ValueError, match="disaster's probability per period"):
        KrusellSmith(tfp_process="ar1", tfp_sd=0.01, disaster_prob=1.5, disaster_size=-0.1)


def test_solvers_blind_to_the_jumps_refuse_them():
    with jax.enable_x64(True):
        model = KrusellSmith.from_calibration(
            "krusell_smith_1998:ssj", n_a=30, disaster_prob=0.01, disaster_size=-0.1
        )
        assert model.common_noise().jumps
        with pytest.raises(ValueError, match="certainty-equivalent and cannot see them"):
            hm.solve(model, method="linear")
        with pytest.raises(ValueError, match="cannot hold its rare jumps"):
            hm.solve(model, method="ks")
