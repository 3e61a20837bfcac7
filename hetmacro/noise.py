"""Common-noise (aggregate shock) processes.

Each process is an immutable module with ``initial(key) -> z_0`` and ``step(key, z_t, t) -> z_{t+1}``
(t is the date of the current state). The value ``z`` is what the model's functions receive as
``agg.z``: a float for :class:`AR1`, an integer state index for :class:`MarkovChain`, a 0/1 flag for
:class:`RareEvent`, a dict of these for :class:`Joint`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .grids import check_stochastic

__all__ = ["AR1", "CommonNoise", "Joint", "MarkovChain", "NoNoise", "RareEvent"]


class CommonNoise(eqx.Module):
    """Base class of aggregate shock processes."""

    def initial(self, key):
        raise NotImplementedError

    def step(self, key, z, t):
        raise NotImplementedError

    @property
    def deterministic(self) -> bool:
        """True when the path z_0, z_1, ... is the same for every key (no common noise)."""
        return False


class NoNoise(CommonNoise):
    """No aggregate risk: z_t = 0 for all t."""

    def initial(self, key):
        return jnp.zeros((), jnp.int32)

    def step(self, key, z, t):
        return z

    @property
    def deterministic(self) -> bool:
        return True


class AR1(CommonNoise):
    """z_{t+1} = rho z_t + sigma eps_{t+1} + J_{t+1}, eps ~ N(0, 1); z_0 = z0 (e.g. log TFP).

    J is a rare jump: J_{t+1} = ``jump_size`` with probability ``jump_prob`` each period, else 0, drawn
    independently of eps; the jump then decays at rate rho like any innovation. A negative jump in log TFP
    is a disaster in the sense of Rietz (1988) and Barro (2006), as in production economies with disaster
    risk (Gourio 2012). Without a jump (the default) z is the plain Gaussian AR(1).

    Attributes:
        rho: persistence per period, |rho| < 1.
        sigma: innovation standard deviation, in the units of z (log points for log TFP).
        z0: the initial value.
        jump_prob: probability of a jump each period, in [0, 1).
        jump_size: the jump, in the units of z (e.g. -0.1: TFP falls by about 10%).

    References: Rietz, T. (1988), "The equity risk premium: a solution", JME 22(1); Barro, R. (2006),
    "Rare disasters and asset markets in the twentieth century", QJE 121(3); Gourio, F. (2012), "Disaster
    risk and business cycles", AER 102(6).
    """

    rho: jnp.ndarray
    sigma: jnp.ndarray
    z0: jnp.ndarray
    jump_prob: float = eqx.field(static=True)
    jump_size: float = eqx.field(static=True)

    def __init__(
        self, rho: float, sigma: float, z0: float = 0.0, jump_prob: float = 0.0, jump_size: float = 0.0
    ):
        if not abs(float(rho)) < 1:
            raise ValueError(f"AR1.rho = {rho!r}: need |rho| < 1 for a stationary shock process.")
        if not float(sigma) >= 0:
            raise ValueError(f"AR1.sigma = {sigma!r}: the innovation s.d. must be >= 0.")
        if not 0.0 <= float(jump_prob) < 1.0:
            raise ValueError(f"AR1.jump_prob = {jump_prob!r}: a probability per period must lie in [0, 1).")
        if not np.isfinite(float(jump_size)):
            raise ValueError(f"AR1.jump_size = {jump_size!r} must be a finite number.")
        self.rho = jnp.asarray(float(rho))
        self.sigma = jnp.asarray(float(sigma))
        self.z0 = jnp.asarray(float(z0))
        self.jump_prob = float(jump_prob)
        self.jump_size = float(jump_size)

    @property
    def jumps(self) -> bool:
        """True when the process has rare jumps (jump_prob > 0 and jump_size != 0)."""
        return self.jump_prob > 0.0 and self.jump_size != 0.0

    def initial(self, key):
        return self.z0

    def step(self, key, z, t):
        dtype = jnp.result_type(z)
        if not self.jumps:  # the plain process draws exactly as it always has
            return self.rho * z + self.sigma * jax.random.normal(key, jnp.shape(z), dtype)
        k_eps, k_jump = jax.random.split(key)
        hit = jax.random.bernoulli(k_jump, self.jump_prob, jnp.shape(z))
        jump = jnp.where(hit, jnp.asarray(self.jump_size, dtype), jnp.zeros((), dtype))
        return self.rho * z + self.sigma * jax.random.normal(k_eps, jnp.shape(z), dtype) + jump

    @property
    def deterministic(self) -> bool:
        return bool(float(self.sigma) == 0.0) and not self.jumps


class MarkovChain(CommonNoise):
    """A finite aggregate Markov chain; z is the state index.

    Attributes:
        P: shape (n, n), P[i, j] = Prob(z' = j | z = i).
        initial_probs: shape (n,), distribution of z_0.
    """

    P: jnp.ndarray
    initial_probs: jnp.ndarray

    def __init__(self, P, initial_probs):
        Pm = np.asarray(P, dtype=np.float64)
        check_stochastic("MarkovChain.P", Pm)
        p0 = np.asarray(initial_probs, dtype=np.float64).reshape(1, -1)
        check_stochastic("MarkovChain.initial_probs", p0, square=False)
        if p0.shape[1] != Pm.shape[0]:
            raise ValueError(
                f"MarkovChain: initial_probs has {p0.shape[1]} entries but P is {Pm.shape}; they must agree."
            )
        self.P = jnp.asarray(Pm)
        self.initial_probs = jnp.asarray(p0[0])

    def initial(self, key):
        return jax.random.choice(key, self.P.shape[0], p=self.initial_probs).astype(jnp.int32)

    def step(self, key, z, t):
        return jax.random.choice(key, self.P.shape[0], p=self.P[z]).astype(jnp.int32)

    @property
    def deterministic(self) -> bool:
        P, p0 = np.asarray(self.P), np.asarray(self.initial_probs)
        return bool(np.all((P == 0) | (P == 1)) and np.sum(p0 > 0) == 1)


class RareEvent(CommonNoise):
    """An absorbing event: z_t = 0 until it happens, 1 from then on.

    Each period the event happens with probability ``prob``; with ``at`` given, it can happen only
    on the step that produces date ``at`` (the Beach Bar closure: ``RareEvent(0.5, at=15)``).
    """

    prob: jnp.ndarray
    at: int | None = eqx.field(static=True)

    def __init__(self, prob: float, at: int | None = None):
        if not 0.0 <= float(prob) <= 1.0:
            raise ValueError(f"RareEvent.prob = {prob!r}: a probability must lie in [0, 1].")
        self.prob = jnp.asarray(float(prob))
        self.at = at

    def initial(self, key):
        return jnp.zeros((), jnp.int32)

    def step(self, key, z, t):
        hit = jax.random.bernoulli(key, self.prob)
        if self.at is not None:
            hit = hit & (t + 1 == self.at)
        return jnp.maximum(z, hit.astype(jnp.int32))

    @property
    def deterministic(self) -> bool:
        return bool(float(self.prob) in (0.0, 1.0))


class Joint(CommonNoise):
    """Independent processes side by side; z is a dict {name: z_name}."""

    parts: dict

    def __init__(self, **parts: CommonNoise):
        self.parts = dict(parts)

    def initial(self, key):
        keys = jax.random.split(key, len(self.parts))
        return {n: p.initial(k) for (n, p), k in zip(self.parts.items(), keys)}

    def step(self, key, z, t):
        keys = jax.random.split(key, len(self.parts))
        return {n: p.step(k, z[n], t) for (n, p), k in zip(self.parts.items(), keys)}

    @property
    def deterministic(self) -> bool:
        return all(p.deterministic for p in self.parts.values())
