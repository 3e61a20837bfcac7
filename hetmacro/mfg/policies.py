r"""Policy networks for the structural policy-gradient solvers (RSPG and SPG).

A household's policy pi_t(a | s, o_0..o_t) depends on its own state s = (grid value, chain value)
and on the history of the *shared* signals o_t (the same for every household). The network has
three parts:

- **state encoder** ``e(s)``: a feed-forward network on normalised state features (the grid value
  scaled to [-1, 1], linearly and, on non-uniform grids, logarithmically as in the paper's macro
  game; the chain value likewise), plus optionally a per-state table (integer lattices). It does not
  depend on t, so it runs once per training iteration for all S states.
- **signal encoder** ``g_t``: a GRU over the history of signals (RSPG; update gates
  chrono-initialised) or a feed-forward network of the current signal (SPG), optionally with a clock
  (t/T and time to go). Its state never depends on the individual state, so one step per date serves
  the whole population.
- **action head**: the first layer is split, h(s, t) = relu(e(s) + g_t), so the expensive part
  per date is one addition per state; then ``head_layers`` hidden layers and an output layer:

  * ``"categorical"``: softmax over the A actions (the paper's head for integer moves);
  * ``"kumaraswamy"``: a Kumaraswamy(a, b) distribution on the action interval [low, high],
    integrated exactly over the action cells, P(cell k) = F(u_{k+1}) - F(u_k) with
    F(u) = 1 - (1 - u^a)^b in closed form (Jones 2009, "Kumaraswamy's distribution: a beta-type
    distribution with some tractability advantages", Statistical Methodology 6(1));
  * ``"beta"``: a Beta(a, b) distribution integrated exactly over the cells,
    P(cell k) = I_{u_{k+1}}(a, b) - I_{u_k}(a, b) with ``jax.scipy.special.betainc``; JAX has no
    derivative of ``betainc`` in (a, b), so the gradient is that of a Gauss-Legendre quadrature of
    the same cell masses (``beta_nodes`` points per cell), while the values are exact.

  The Kumaraswamy head outputs its median m = sigmoid(y_0) and shape a = 1 + exp(y_1) (y_1 softly
  capped), b following from m and a (:func:`kumaraswamy_median_cell_probs`): location and precision
  are separate outputs and the precision is on a log scale, so a household's consumption share can
  concentrate on one cell of the grid. The Beta head uses a, b = 1 + softplus(.) as the paper
  (unimodal). Both put neighbouring mass on neighbouring actions: the head respects the order of the
  actions (the reference code evaluated the Beta density at the cell midpoints instead,
  mfax_spec.md §G14).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "HEADS",
    "CLOCK_SCALES",
    "ActionHead",
    "NetworkPolicy",
    "PolicyNetwork",
    "SignalEncoder",
    "StateEncoder",
    "beta_cell_probs",
    "clock_features",
    "init_network",
    "kumaraswamy_cell_probs",
    "kumaraswamy_median_cell_probs",
    "new_network",
    "scale_values",
    "state_features",
]

HEADS = ("categorical", "kumaraswamy", "beta")


# --- state features -----------------------------------------------------------------------------


def _log_pivot(points: np.ndarray) -> float | None:
    """Pivot c such that log(x - x_0 + c) is as evenly spaced as possible on the grid ``points``.

    For a geometric grid geomspace(low + p, high + p) - p this recovers c = low + p (the paper's
    macro wealth grid: c = 0.25). Returns None when the grid is (nearly) uniform.
    """
    x = np.asarray(points, np.float64) - points[0]
    d = np.diff(x)
    if d.max() / max(d.min(), 1e-300) < 2.0:
        return None
    span = x[-1]

    def dispersion(c):
        ld = np.diff(np.log(x + c))
        return ld.std() / ld.mean()

    lo, hi = np.log(span * 1e-8), np.log(span * 10.0)
    for _ in range(4):  # refine a log-spaced search around the best candidate
        cands = np.exp(np.linspace(lo, hi, 201))
        k = int(np.argmin([dispersion(c) for c in cands]))
        step = (hi - lo) / 200
        lo, hi = np.log(cands[k]) - 2 * step, np.log(cands[k]) + 2 * step
    return float(cands[k])


def scale_values(points, scaling: str = "auto") -> np.ndarray:
    """Features of a 1-D grid's points in [0, 1]: shape (n, F), F = 1 or 2.

    ``"linear"``: (x - x_0)/(x_{n-1} - x_0). ``"log"``: log((x - x_0 + c)/c) / log((x_{n-1} - x_0 + c)/c)
    with the pivot c of :func:`_log_pivot` (the paper's geometric scaling, spec §C3). ``"auto"``:
    both on a non-uniform grid, linear only on a uniform one.
    """
    x = np.asarray(points, np.float64)
    if x.size == 1:
        return np.zeros((1, 0))
    lin = (x - x[0]) / (x[-1] - x[0])
    if scaling == "linear":
        return lin[:, None]
    c = _log_pivot(x)
    if c is None:
        if scaling == "log":
            raise ValueError("scaling='log' needs a non-uniform grid; this one is uniform: use 'linear'.")
        return lin[:, None]
    log = np.log((x - x[0] + c) / c) / np.log((x[-1] - x[0] + c) / c)
    if scaling == "log":
        return log[:, None]
    if scaling == "auto":
        return np.stack([lin, log], axis=1)
    raise ValueError(f"grid_scaling = {scaling!r}: use 'auto', 'linear' or 'log'.")


def state_features(game, scaling: str = "auto") -> np.ndarray:
    """Normalised features of every individual state, shape (n * m, F), as 2 u - 1 in [-1, 1].

    Grid features from :func:`scale_values` of ``game.grid.points``; chain features likewise from
    ``game.chain.values`` (none for a one-state chain). Row s = i * m + j, as ``mu.reshape(-1)``.
    """
    g = scale_values(np.asarray(game.grid.points), scaling)
    vals = np.asarray(game.chain.values)
    order = np.argsort(vals)
    c_sorted = scale_values(vals[order], scaling) if vals.size > 1 else np.zeros((1, 0))
    c = np.empty_like(c_sorted)
    c[order] = c_sorted
    n, m = g.shape[0], vals.size
    feats = np.concatenate(
        [np.repeat(g[:, None, :], m, axis=1), np.repeat(c[None, :, :], n, axis=0)], axis=2
    ).reshape(n * m, -1)
    if feats.shape[1] == 0:
        feats = np.zeros((n * m, 1))
    return 2.0 * feats - 1.0


# --- distributions over ordinal action cells ---------------------------------------------------------


def _cells_from_survival(surv_inner):
    """Cell masses from the survival function 1 - F at the interior edges (..., A - 1) -> (..., A).

    p_k = S(u_k) - S(u_{k+1}) with S(u_0) = 1, S(u_A) = 0: the masses telescope to 1 exactly up
    to rounding. The optimisation barrier keeps XLA from fusing (and so recomputing) the
    transcendental survival function into every difference: 25 times faster on CPU.
    """
    surv = jax.lax.optimization_barrier(surv_inner)
    ones = jnp.ones(surv.shape[:-1] + (1,), surv.dtype)
    full = jnp.concatenate([ones, surv, jnp.zeros_like(ones)], axis=-1)
    return jnp.maximum(full[..., :-1] - full[..., 1:], 0.0)


def kumaraswamy_cell_probs(a, b, u_edges):
    """P(cell k) of Kumaraswamy(a, b) on [0, 1], cells [u_k, u_{k+1}]: shape a.shape + (A,).

    F(u) = 1 - (1 - u^a)^b; the survival (1 - u^a)^b is evaluated as exp(b log(-expm1(a log u))),
    finite with finite gradients for a, b >= 1 and interior edges 0 < u < 1.
    """
    lu = jnp.log(u_edges[1:-1]).astype(a.dtype)
    log_one_minus = jnp.log(-jnp.expm1(a[..., None] * lu))  # log(1 - u^a) < 0
    return _cells_from_survival(jnp.exp(b[..., None] * log_one_minus))


#: Cap on log(a - 1) of the median-parameterised Kumaraswamy head (a <= 1 + e^6 ~ 404: a relative
#: width of the distribution ~ 1/a far below any action grid's spacing, and gradients that never
#: vanish through a hard clip).
KUMARASWAMY_MAX_LOG_SHAPE = 6.0


def _log_minus_log1m_exp(z):
    """log(-log(1 - e^z)) for z < 0, stable for very negative z (where it tends to z)."""
    tiny = z < -30.0
    z_safe = jnp.where(tiny, -1.0, z)  # keep the unused branch finite for its gradient
    return jnp.where(tiny, z, jnp.log(-jnp.log1p(-jnp.exp(z_safe))))


def kumaraswamy_median_cell_probs(log_median, a, u_edges):
    """P(cell k) of the Kumaraswamy(a, b) distribution with median m and shape a: shape a.shape + (A,).

    The median of Kumaraswamy(a, b) is m = (1 - 2^(-1/b))^(1/a), so for a given median
    b = -log 2 / log(1 - m^a) and the survival function is

        1 - F(u) = (1 - u^a)^b = 2^(-R(u)),   R(u) = log(1 - u^a) / log(1 - m^a),

    evaluated in log space (log R = g(a log u) - g(a log m), g(z) = log(-log(1 - e^z))) so that very
    concentrated distributions (large a, m^a below the float range) stay exact. For large a,
    R(u) ~ (u/m)^a: a distribution around m with relative width ~ 1/a. This is the same family as
    :func:`kumaraswamy_cell_probs`, parameterised so that location (m) and precision (a) are
    separate outputs: with (a, b) = 1 + softplus(.) a concentrated share near 0.15 needs b ~ 0.15^-a,
    out of a network's reach. Unimodal while m^a <= 1/2 (b >= 1); otherwise the density rises to
    u = 1 (the mass still sits at and above m).

    Args:
        log_median: log m, m in (0, 1), any shape.
        a: shape a >= 1, same shape.
        u_edges: (A + 1,) cell edges on [0, 1], increasing, first 0 and last 1.
    """
    lu = jnp.log(u_edges[1:-1]).astype(a.dtype)
    z_m = jnp.minimum(a * log_median, -1e-6)[..., None]  # a log m < 0 (m < 1 in floating point)
    log_r = _log_minus_log1m_exp(a[..., None] * lu) - _log_minus_log1m_exp(z_m)
    # Beyond R = e^4.5 the survival 2^(-R) < 1e-27 is zero to every float; capping keeps the
    # gradient 0 * inf out of the backward pass.
    log_r = jnp.minimum(log_r, 4.5)
    return _cells_from_survival(jnp.exp(-jnp.log(2.0).astype(a.dtype) * jnp.exp(log_r)))


def _gauss_legendre_cells(u_edges, nodes: int):
    x, w = np.polynomial.legendre.leggauss(nodes)
    e = np.asarray(u_edges, np.float64)
    lo, width = e[:-1, None], np.diff(e)[:, None]
    t = lo + width * (x + 1.0) / 2.0
    return np.log(t), np.log1p(-t), width / 2.0 * w


def beta_cell_probs(a, b, u_edges, nodes: int = 8):
    """P(cell k) of Beta(a, b) on [0, 1], cells [u_k, u_{k+1}]: shape a.shape + (A,).

    Values: exact CDF differences with ``jax.scipy.special.betainc`` (regularised incomplete
    beta). Gradients in (a, b): those of an ``nodes``-point Gauss-Legendre quadrature of each
    cell's mass (JAX does not differentiate ``betainc`` in a or b), passed through with
    p = q + stop_gradient(p_exact - q). Slow on CPU (the continued fraction of ``betainc`` runs
    to convergence for every entry): prefer ``kumaraswamy_cell_probs`` for large games.
    """
    dtype = a.dtype
    a_s, b_s = jax.lax.stop_gradient(a), jax.lax.stop_gradient(b)
    inner = jnp.asarray(np.asarray(u_edges)[1:-1], dtype)
    exact = _cells_from_survival(jax.scipy.special.betainc(b_s[..., None], a_s[..., None], 1.0 - inner))
    lt, l1t, w = (jnp.asarray(v, dtype) for v in _gauss_legendre_cells(np.asarray(u_edges), nodes))
    log_b = jax.scipy.special.betaln(a, b)[..., None, None]
    dens = jnp.exp((a[..., None, None] - 1) * lt + (b[..., None, None] - 1) * l1t - log_b)
    q = jnp.sum(dens * w, axis=-1)
    q = q / jnp.sum(q, axis=-1, keepdims=True)
    return q + jax.lax.stop_gradient(exact - q)


# --- networks -------------------------------------------------------------------------------------


#: Time-to-go scales (periods) of the clock input: exp(-(T - 1 - t) / k) rises sharply near the end.
CLOCK_SCALES = (1.0, 3.0, 10.0)


def clock_features(t, horizon: int, dtype=jnp.float32):
    """The clock input of a policy with ``time_feature``: t / T and exp(-(T - 1 - t) / k) for k in
    :data:`CLOCK_SCALES`. Elapsed time alone makes end-of-horizon behaviour (spending down wealth in
    the last few periods) a sharp function of the input that a ReLU network learns slowly; the
    time-to-go terms make it smooth."""
    t = jnp.asarray(t, dtype)
    togo = (horizon - 1) - t
    return jnp.concatenate([t[None] / horizon, jnp.exp(-togo / jnp.asarray(CLOCK_SCALES, dtype))])


class SignalEncoder(eqx.Module):
    """Shared-signal encoder: a GRU over o_0..o_t (recurrent) or an MLP of o_t (memoryless).

    Recurrent: h_t = GRU(o_t, h_{t-1}), h_{-1} = 0, and g_t = MLP(relu(h_t)). The GRU's update-gate
    biases are "chrono"-initialised (Tallec and Ollivier 2018, "Can recurrent neural networks warp
    time?", ICLR): b_z = log u with u ~ U(1, T - 1), so that its units start as leaky integrators with
    time constants spread over the horizon and the history can tell early dates from late ones.
    Memoryless: g_t = MLP(o_t). With ``time_feature`` the clock (:func:`clock_features`) is appended
    to the MLP's input (not the GRU's): the memoryless SPG otherwise cannot tell dates apart
    (mfax_spec.md §G22). Output: the signal part g_t (width,) of the head's first layer.
    """

    cell: eqx.nn.GRUCell | None
    mlp: eqx.nn.MLP
    recurrent: bool = eqx.field(static=True)
    time_feature: bool = eqx.field(static=True)
    horizon: int = eqx.field(static=True)
    hidden: int = eqx.field(static=True)
    signal_center: tuple | None = eqx.field(static=True, default=None)
    signal_scale: tuple | None = eqx.field(static=True, default=None)

    def __init__(
        self,
        d: int,
        width: int,
        hidden: int,
        depth: int,
        recurrent: bool,
        time_feature: bool,
        horizon: int,
        *,
        key,
        signal_center=None,
        signal_scale=None,
    ):
        k1, k2, k3 = jax.random.split(key, 3)
        # Fixed standardisation of the signals, (o - center) / scale (not trained): on an economy's
        # ergodic set prices move by a few percent of their level, too little for a GRU to read at
        # initialisation scales.
        self.signal_center = None if signal_center is None else tuple(float(x) for x in signal_center)
        self.signal_scale = None if signal_scale is None else tuple(float(x) for x in signal_scale)
        n_clock = (len(CLOCK_SCALES) + 1) * int(time_feature)
        self.recurrent, self.time_feature, self.horizon, self.hidden = (
            recurrent,
            time_feature,
            horizon,
            hidden,
        )
        if recurrent:
            cell = eqx.nn.GRUCell(d, hidden, key=k1)
            u = jax.random.uniform(k3, (hidden,), minval=1.0, maxval=max(float(horizon) - 1.0, 1.0 + 1e-3))
            bias = cell.bias.at[hidden : 2 * hidden].set(jnp.log(u))
            self.cell = eqx.tree_at(lambda c: c.bias, cell, bias)
        else:
            self.cell = None
        d_mlp = (hidden if recurrent else d) + n_clock
        self.mlp = eqx.nn.MLP(d_mlp, width, hidden, depth, jax.nn.relu, key=k2)

    def initial_carry(self, dtype=jnp.float32):
        return jnp.zeros((self.hidden if self.recurrent else 1,), dtype)

    def step(self, carry, o, t):
        """One date: (carry, o_t, t) -> (carry', g_t)."""
        if self.signal_center is not None:
            o = (o - jnp.asarray(self.signal_center, o.dtype)) / jnp.asarray(self.signal_scale, o.dtype)
        if self.recurrent:
            carry = self.cell(o, carry)
            x = jax.nn.relu(carry)
        else:
            x = o
        if self.time_feature:
            x = jnp.concatenate([x, clock_features(t, self.horizon, x.dtype)])
        return carry, self.mlp(x)

    def sequence(self, signals, ts):
        """g_t for a whole signal history, signals (T, d), ts (T,) -> (T, width)."""
        if not self.recurrent:
            return jax.vmap(lambda o, t: self.step(None, o, t)[1])(signals, ts)

        def body(h, xs):
            return self.step(h, *xs)

        return jax.lax.scan(body, self.initial_carry(signals.dtype), (signals, ts))[1]


class ActionHead(eqx.Module):
    """relu(e(s) + g_t) -> ``layers`` (width x width, relu) -> output -> probabilities over A cells."""

    layers: tuple
    out: eqx.nn.Linear
    kind: str = eqx.field(static=True)
    u_edges: tuple = eqx.field(static=True)
    beta_nodes: int = eqx.field(static=True)

    def __init__(
        self, width: int, n_actions: int, kind: str, u_edges, layers: int, beta_nodes: int = 8, *, key
    ):
        if kind not in HEADS:
            raise ValueError(f"head = {kind!r}: use one of {HEADS}.")
        keys = jax.random.split(key, layers + 1)
        self.layers = tuple(eqx.nn.Linear(width, width, key=k) for k in keys[:-1])
        n_out = n_actions if kind == "categorical" else 2
        out = eqx.nn.Linear(width, n_out, key=keys[-1])
        # Small output layer: the initial policy is close to uniform (categorical) or to a symmetric
        # bell (a = b = 1 + log 2) over the action interval.
        self.out = eqx.tree_at(lambda o: (o.weight, o.bias), out, (out.weight * 0.01, jnp.zeros(n_out)))
        self.kind = kind
        self.u_edges = tuple(float(u) for u in np.asarray(u_edges))
        self.beta_nodes = beta_nodes

    def __call__(self, pre):
        """Probabilities (rows, A) from the first layer's pre-activation e(s) + g_t, shape (rows, width)."""
        return self.distribution(self.outputs(pre))

    def outputs(self, pre):
        """The head's raw outputs (rows, A) logits or (rows, 2) shape parameters before the link."""
        h = jax.nn.relu(pre)
        for layer in self.layers:
            h = jax.nn.relu(h @ layer.weight.T + layer.bias)
        return h @ self.out.weight.T + self.out.bias

    def distribution(self, y):
        """Probabilities over the A action cells from the raw outputs."""
        if self.kind == "categorical":
            return jax.nn.softmax(y, axis=-1)
        if self.kind == "kumaraswamy":
            # Median m = sigmoid(y0), shape a = 1 + exp(y1) with y1 softly capped: the relative
            # width ~ 1/a is on a log scale, so a policy can become as precise as the grid needs.
            log_m = jax.nn.log_sigmoid(y[..., 0])
            a = 1.0 + jnp.exp(KUMARASWAMY_MAX_LOG_SHAPE * jnp.tanh(y[..., 1] / KUMARASWAMY_MAX_LOG_SHAPE))
            return kumaraswamy_median_cell_probs(log_m, a, jnp.asarray(self.u_edges, y.dtype))
        a = 1.0 + jax.nn.softplus(y[..., 0])
        b = 1.0 + jax.nn.softplus(y[..., 1])
        return beta_cell_probs(a, b, np.asarray(self.u_edges), self.beta_nodes)


class StateEncoder(eqx.Module):
    """e(s) = MLP(features(s)) [+ table[s]]: the state part of the head's first layer, (S, width).

    The optional per-state table (zero at initialisation) gives every state its own parameters, so
    Adam scales each state's update separately: on integer lattices (LQ, Beach Bar), where the policy
    is a staircase in the position, this frees states whose softmax has saturated on a neighbouring
    move (the paper uses an embedding per index there, mfax_spec.md §D2).
    """

    mlp: eqx.nn.MLP
    table: jnp.ndarray | None

    def __init__(self, n_features: int, width: int, depth: int, n_states: int | None, *, key):
        self.mlp = eqx.nn.MLP(n_features, width, width, depth, jax.nn.relu, key=key)
        self.table = None if n_states is None else jnp.zeros((n_states, width))

    def __call__(self, features):
        out = jax.vmap(self.mlp)(features)
        return out if self.table is None else out + self.table


class PolicyNetwork(eqx.Module):
    """The household policy: state encoder, signal encoder, action head (see the module docstring).

    pi_t(. | s) = head(encoder(features)(s) + signal.step(...)_t).
    """

    encoder: StateEncoder
    signal: SignalEncoder
    head: ActionHead

    def __init__(
        self,
        n_features: int,
        d_signal: int,
        n_actions: int,
        u_edges,
        horizon: int,
        *,
        recurrent: bool = True,
        head: str = "categorical",
        width: int = 128,
        hidden: int = 128,
        encoder_depth: int = 2,
        signal_depth: int = 1,
        head_layers: int = 0,
        time_feature: bool = False,
        beta_nodes: int = 8,
        state_table: int | None = None,
        signal_center=None,
        signal_scale=None,
        key,
    ):
        k1, k2, k3 = jax.random.split(key, 3)
        self.encoder = StateEncoder(n_features, width, encoder_depth, state_table, key=k1)
        self.signal = SignalEncoder(
            d_signal,
            width,
            hidden,
            signal_depth,
            recurrent,
            time_feature,
            horizon,
            key=k2,
            signal_center=signal_center,
            signal_scale=signal_scale,
        )
        self.head = ActionHead(width, n_actions, head, u_edges, head_layers, beta_nodes, key=k3)

    def state_part(self, features):
        """e(s) for all states, (S, F) -> (S, width): once per iteration."""
        return self.encoder(features)

    def probs(self, state_part, signal_part):
        """pi(. | s) for all states at one date, (S, width), (width,) -> (S, A)."""
        return self.head(state_part + signal_part)


class NetworkPolicy(eqx.Module):
    """A trained network bound to its game's state features: usable as ``game.rollout``'s policy.

    ``pol(carry, agg) -> (carry, pi)`` with pi (n, m, A) reads only ``game.signal(agg)`` and
    ``agg.t``; start from ``pol.init_carry()``. Example::

        flow = game.rollout(key, sol.policy, sol.policy.init_carry())

    ``spec()`` and ``from_spec(game, **spec)`` let :func:`hetmacro.hmx.save` store the network.
    """

    network: PolicyNetwork
    features: jnp.ndarray
    game: object
    config: tuple = eqx.field(static=True)

    def __init__(self, network: PolicyNetwork, features, game, config: dict | None = None):
        self.network, self.features, self.game = network, features, game
        items = (config or {}).items()
        self.config = tuple(sorted((k, tuple(v) if isinstance(v, list | tuple) else v) for k, v in items))

    def spec(self) -> dict:
        """The constructor settings (JSON) that rebuild this policy's structure for ``from_spec``."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.config}

    @classmethod
    def from_spec(cls, game, **spec):
        """A policy of the structure ``spec`` on ``game`` (parameters from a fixed key; load them after)."""
        spec = dict(spec)
        scaling = spec.pop("grid_scaling", "auto")
        features = jnp.asarray(state_features(game, scaling), game.dtype)
        net = PolicyNetwork(key=jax.random.PRNGKey(0), **{**spec, "u_edges": np.asarray(spec["u_edges"])})
        net = jax.tree.map(lambda x: x.astype(game.dtype) if eqx.is_inexact_array(x) else x, net)
        return cls(net, features, game, {**spec, "grid_scaling": scaling})

    def init_carry(self):
        return self.network.signal.initial_carry(self.features.dtype)

    def carry_after(self, history):
        """The memory after the shared-signal history (L, d) (a start taken mid-history)."""
        from .starts import warm_carry

        return warm_carry(self.network.signal, jnp.asarray(history, self.features.dtype))

    def __call__(self, carry, agg):
        g = self.game
        carry, sv = self.network.signal.step(carry, g.signal(agg), agg.t)
        pi = self.network.probs(self.network.state_part(self.features), sv)
        return carry, pi.reshape(g.n, g.m, g.A)

    def table(self, signals, ts=None):
        """The policy table along a signal history: signals (T, d) -> pi (T, n, m, A)."""
        g = self.game
        ts = jnp.arange(signals.shape[0]) if ts is None else ts
        sp = self.network.state_part(self.features)
        svs = self.network.signal.sequence(signals, ts)
        return jax.vmap(lambda sv: self.network.probs(sp, sv))(svs).reshape(-1, g.n, g.m, g.A)


# --- construction -----------------------------------------------------------------------------------


@eqx.filter_jit
def init_network(key, spec: tuple, dtype):
    """The network of ``spec`` (sorted (name, value) pairs), initialised from ``key``, cast to dtype."""
    kw = dict(spec)
    net = PolicyNetwork(**{**kw, "u_edges": np.asarray(kw["u_edges"])}, key=key)
    return jax.tree.map(lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, net)


def new_network(game, opts: dict, recurrent: bool, T: int, key, extra: dict | None = None):
    """A freshly initialised policy network for ``game`` with the options ``opts`` (head, sizes, grid
    scaling, ...): RSPG's and the model-free baselines' actor.

    Returns:
        (net, features (S, F) the state features it reads, spec: the network's specification, saved with a
        Solution so that the network can be rebuilt).
    """
    features = jnp.asarray(state_features(game, opts["grid_scaling"]), game.dtype)
    d = int(game.signal(game.reset(jax.random.PRNGKey(0))).shape[0])
    u_edges = (np.asarray(game.actions.edges, np.float64) - game.actions.low) / (
        game.actions.high - game.actions.low
    )
    spec = {
        "n_features": int(features.shape[1]),
        "d_signal": d,
        "n_actions": int(game.A),
        "u_edges": [float(u) for u in u_edges],
        "horizon": int(T),
        "recurrent": bool(recurrent),
        "head": opts["head"],
        "width": int(opts["width"]),
        "hidden": int(opts["hidden"]),
        "encoder_depth": int(opts["encoder_depth"]),
        "signal_depth": int(opts["signal_depth"]),
        "head_layers": int(opts["head_layers"]),
        "time_feature": bool(opts["time_feature"]),
        "beta_nodes": int(opts["beta_nodes"]),
        "state_table": int(game.n * game.m) if opts["state_table"] else None,
        **(extra or {}),
    }
    key_spec = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in spec.items()))
    return init_network(key, key_spec, game.dtype), features, spec
