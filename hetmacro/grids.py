"""Individual-state dimensions and the ordinal action grid.

A household's state is one endogenous dimension (a grid whose off-grid values are split onto the two
neighbouring points, a *lottery*) times one exogenous Markov chain (income, employment, ...). Several
exogenous chains combine into one with :func:`product_chain`.

All constructors validate eagerly (on concrete values) and raise ``ValueError`` naming the field, the
offending value and the fix.
"""

from __future__ import annotations

import warnings

import equinox as eqx
import jax.numpy as jnp
import numpy as np

__all__ = [
    "ActionGrid",
    "Chain",
    "Grid",
    "double_exponential_grid",
    "geometric_grid",
    "lottery",
    "product_chain",
    "rouwenhorst",
    "tauchen",
]


def _check_increasing(name: str, points: np.ndarray) -> None:
    if points.ndim != 1 or points.size < 2:
        raise ValueError(f"{name}: a grid needs at least 2 points in a 1-D array, got shape {points.shape}.")
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{name}: grid points must be finite, got {points[~np.isfinite(points)][:3]}.")
    d = np.diff(points)
    if np.any(d <= 0):
        k = int(np.argmax(d <= 0))
        raise ValueError(
            f"{name}: grid points must be strictly increasing, but point {k + 1} ({float(points[k + 1])!r}) "
            f"<= point {k} ({float(points[k])!r}). Fix: sort the points and drop duplicates."
        )


def check_stochastic(name: str, P: np.ndarray, atol: float = 1e-8, square: bool = True) -> None:
    """Raise unless ``P`` is a (square, if ``square``) matrix of probabilities whose rows sum to one."""
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or (square and P.shape[0] != P.shape[1]):
        raise ValueError(f"{name}: a transition matrix must be square, got shape {P.shape}.")
    if np.any(P < 0):
        i, j = np.argwhere(P < 0)[0]
        raise ValueError(
            f"{name}: transition probabilities must be non-negative, got P[{i}, {j}] = {float(P[i, j])!r}. "
            "Fix: set negative entries to 0 and renormalise each row."
        )
    rows = P.sum(axis=1)
    bad = np.abs(rows - 1.0) > atol
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(
            f"{name}: transition matrix rows must sum to 1, but row {i} sums to {float(rows[i])!r}. "
            "Fix: normalise each row (P / P.sum(axis=1, keepdims=True))."
        )


class Grid(eqx.Module):
    """An endogenous individual-state dimension on a strictly increasing grid.

    A next value x between points g_i <= x <= g_{i+1} is split onto both by the lottery of
    :func:`lottery`, which preserves the mean inside the grid (Young, 2010). Values outside
    [g_0, g_{n-1}] are put on the nearest end point.

    Attributes:
        name: the symbol used in tables and in model code (``"a"`` for assets).
        points: shape (n,), in the model's units (e.g. units of the consumption good).
        spacing: detected at construction: ("uniform", g_0, h, exact) for g_i = g_0 + i h,
            ("geometric", g_0, pivot, log ratio) for g_i + pivot = (g_0 + pivot) ratio^i, or None.
            A known spacing locates a value in closed form instead of by binary search, which is
            the most expensive part of building a kernel on CPU.
    """

    name: str = eqx.field(static=True)
    points: jnp.ndarray
    spacing: tuple | None = eqx.field(static=True)

    def __init__(self, name: str, points):
        pts = np.asarray(points, dtype=np.float64)
        _check_increasing(f"Grid '{name}'", pts)
        self.name = name
        self.points = jnp.asarray(pts)
        self.spacing = _detect_spacing(pts)

    @property
    def size(self) -> int:
        return int(self.points.shape[0])

    def lottery(self, x):
        """:func:`lottery` on this grid, locating x in closed form when the spacing is known.

        The neighbouring points are read from ``points`` (so means are preserved to rounding), except
        on grids whose points are exactly g_0 + i h in floating point (integer lattices), where the
        weight is u - i without any lookup: XLA's gathers cost several nanoseconds each on CPU.
        """
        if self.spacing is None:
            return lottery(self.points, x)
        n = self.size
        if self.spacing[0] == "uniform":
            _, g0, h, exact = self.spacing
            u = (x - g0) / h
            i = jnp.clip(jnp.floor(u), 0, n - 2)
            if exact:
                return i.astype(jnp.int32), jnp.clip(u - i, 0.0, 1.0)
        else:
            _, g0, pivot, log_ratio = self.spacing
            u = (jnp.log(jnp.maximum(x + pivot, 1e-30)) - np.log(g0 + pivot)) / log_ratio
            i = jnp.clip(jnp.floor(u), 0, n - 2)
        # Rounding may put x one cell off only within an ulp of a grid point: the clipped weight
        # then moves at most an ulp of mass.
        i = i.astype(jnp.int32)
        return i, _lottery_weight(self.points, i, x)


def _detect_spacing(pts: np.ndarray) -> tuple | None:
    d = np.diff(pts)
    if np.allclose(d, d[0], rtol=1e-9, atol=0.0):
        exact = bool(np.array_equal(pts[0] + d[0] * np.arange(pts.size), pts))
        return ("uniform", float(pts[0]), float(d[0]), exact)
    if pts.size >= 3 and not np.isclose(pts[0] + pts[2], 2 * pts[1], rtol=1e-12, atol=0.0):
        # (g_1 + p)^2 = (g_0 + p)(g_2 + p) gives the pivot p of a shifted geometric grid.
        pivot = (pts[1] ** 2 - pts[0] * pts[2]) / (pts[0] + pts[2] - 2 * pts[1])
        shifted = pts + pivot
        if np.all(shifted > 0):
            ratios = shifted[1:] / shifted[:-1]
            if np.allclose(ratios, ratios[0], rtol=1e-9, atol=0.0) and ratios[0] > 1:
                return ("geometric", float(pts[0]), float(pivot), float(np.log(ratios[0])))
    return None


class Chain(eqx.Module):
    """An exogenous individual Markov chain (income, employment, ...).

    Attributes:
        name: the symbol used in tables and model code (``"e"`` for productivity).
        values: shape (m,), the value of each state (e.g. efficiency units of labour).
        P: shape (m, m), P[j, j'] = Prob(e' = values[j'] | e = values[j]).
    """

    name: str = eqx.field(static=True)
    values: jnp.ndarray
    P: jnp.ndarray

    def __init__(self, name: str, values, P):
        vals = np.asarray(values, dtype=np.float64).reshape(-1)
        Pm = np.asarray(P, dtype=np.float64)
        check_stochastic(f"Chain '{name}'.P", Pm)
        if Pm.shape[0] != vals.size:
            raise ValueError(
                f"Chain '{name}': {vals.size} values but P has shape {Pm.shape}; they must agree."
            )
        self.name = name
        self.values = jnp.asarray(vals)
        self.P = jnp.asarray(Pm)

    @property
    def size(self) -> int:
        return int(self.values.shape[0])

    def stationary(self) -> np.ndarray:
        """The stationary distribution pi = pi P, shape (m,) (eigenvector of P^T for eigenvalue 1)."""
        return stationary_distribution(np.asarray(self.P))


def stationary_distribution(P: np.ndarray) -> np.ndarray:
    """Stationary distribution of a finite Markov chain by solving pi (I - P) = 0, sum(pi) = 1."""
    P = np.asarray(P, dtype=np.float64)
    m = P.shape[0]
    A = np.vstack([(np.eye(m) - P).T, np.ones((1, m))])
    b = np.zeros(m + 1)
    b[-1] = 1.0
    pi, *_ = np.linalg.lstsq(A, b, rcond=None)
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


class ActionGrid(eqx.Module):
    """An ordinal grid of A actions inside a declared interval [low, high].

    Policies that are continuous distributions on [low, high] (the Beta head of RSPG) integrate
    their mass over the cells whose edges are ``edges``; a categorical policy ignores the order.

    Attributes:
        name: what the action is (``"consumption share"``, ``"move"``).
        values: shape (A,), the action each index stands for, strictly increasing.
        low, high: the interval the values live in.
        edges: shape (A + 1,), cell boundaries; cell k is [edges[k], edges[k+1]] and contains values[k].
    """

    name: str = eqx.field(static=True)
    values: jnp.ndarray
    low: float = eqx.field(static=True)
    high: float = eqx.field(static=True)
    edges: jnp.ndarray

    def __init__(self, name: str, values, low: float | None = None, high: float | None = None):
        vals = np.asarray(values, dtype=np.float64)
        _check_increasing(f"ActionGrid '{name}'", vals)
        low = float(vals[0]) if low is None else float(low)
        high = float(vals[-1]) if high is None else float(high)
        if vals[0] < low or vals[-1] > high:
            raise ValueError(
                f"ActionGrid '{name}': values span [{vals[0]}, {vals[-1]}] but the declared interval is "
                f"[{low}, {high}]. Fix: widen low/high or drop the actions outside it."
            )
        mids = 0.5 * (vals[1:] + vals[:-1])
        self.name = name
        self.values = jnp.asarray(vals)
        self.low = low
        self.high = high
        self.edges = jnp.asarray(np.concatenate([[low], mids, [high]]))

    @classmethod
    def midpoints(cls, name: str, n: int, low: float = 0.0, high: float = 1.0) -> ActionGrid:
        """``n`` equal cells of [low, high], each action at its cell's midpoint.

        The paper's macro game uses ``ActionGrid.midpoints("consumption share", 20)``:
        0.025, 0.075, ..., 0.975.
        """
        e = np.linspace(low, high, n + 1)
        return cls(name, 0.5 * (e[1:] + e[:-1]), low, high)

    @classmethod
    def integers(cls, name: str, low: int, high: int) -> ActionGrid:
        """The integer actions low, low + 1, ..., high (e.g. moves on a lattice)."""
        return cls(name, np.arange(low, high + 1, dtype=np.float64), low - 0.5, high + 0.5)

    @property
    def size(self) -> int:
        return int(self.values.shape[0])


def lottery(points: jnp.ndarray, x: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Split a value onto its two neighbouring grid points (Young's lottery).

    For g_i <= x <= g_{i+1}: mass 1 - t on i and t on i + 1 with t = (x - g_i)/(g_{i+1} - g_i),
    so that the expected grid value equals x. Outside the grid x is clipped to the end points.

    Args:
        points: shape (n,), strictly increasing.
        x: any shape.

    Returns:
        (i, t): lower index, int32 in [0, n-2], and the weight on i + 1 in [0, 1], both shaped like x.

    Reference: Young, E. (2010), "Solving the incomplete markets model with aggregate uncertainty
    using the Krusell-Smith algorithm and non-stochastic simulations", JEDC 34(1).
    """
    n = points.shape[0]
    i = jnp.clip(jnp.searchsorted(points, x, side="right") - 1, 0, n - 2).astype(jnp.int32)
    return i, _lottery_weight(points, i, x)


def _lottery_weight(points, i, x):
    lo, hi = points[i], points[i + 1]
    u = (x - lo) / (hi - lo)
    # Clipped with where, not clip: at a grid point the derivative is the cell's (one-sided), so a value
    # resting on the grid's first point (a binding borrowing limit) moves mass when the limit moves.
    return jnp.where(u < 0.0, 0.0, jnp.where(u > 1.0, 1.0, u))


def geometric_grid(low: float, high: float, n: int, pivot: float = 0.25) -> np.ndarray:
    """Points denser near ``low``: geomspace(low + pivot, high + pivot, n) - pivot.

    With low 0, high 99, n 200, pivot 0.25 this is the wealth grid of the paper's macro game.
    """
    return np.geomspace(low + pivot, high + pivot, n) - pivot


def double_exponential_grid(low: float, high: float, n: int) -> np.ndarray:
    """a = low + exp(exp(u) - 1) - 1 on a uniform u grid, so that a runs from low to high.

    The asset grid of sequence-jacobian's ``asset_grid``; very dense near the borrowing limit.
    """
    umax = np.log(1.0 + np.log(1.0 + high - low))
    u = np.linspace(0.0, umax, n)
    return low + np.exp(np.exp(u) - 1.0) - 1.0


def _quantecon_chain(method: str, **kw):
    import quantecon as qe

    with warnings.catch_warnings():
        # quantecon warns on every call about a future change of argument names; nothing to act on.
        warnings.simplefilter("ignore")
        return getattr(qe.markov, method)(**kw)


def _finish_income_chain(name: str, mc, normalise: bool) -> Chain:
    log_e = np.asarray(mc.state_values, dtype=np.float64)
    P = np.asarray(mc.P, dtype=np.float64)
    e = np.exp(log_e)
    if normalise:
        e = e / (stationary_distribution(P) @ e)
    return Chain(name, e, P)


def rouwenhorst(
    name: str, n: int, rho: float, sd: float, sd_kind: str = "unconditional", normalise: bool = True
) -> Chain:
    """A log-AR(1) income chain log e' = rho log e + eps discretised by Rouwenhorst's method.

    Args:
        n: number of states.
        rho: persistence, |rho| < 1.
        sd: standard deviation; ``sd_kind`` says of what: ``"unconditional"`` (the stationary
            cross-sectional s.d. of log e, sequence-jacobian's convention) or ``"innovation"``
            (the s.d. of eps; unconditional = innovation / sqrt(1 - rho^2)).
        normalise: rescale e so that its stationary mean is 1 (so aggregate labour L = 1).

    Uses ``quantecon.markov.rouwenhorst``. Reference: Kopecky and Suen (2010), RED 13(3).
    """
    sig_eps = _innovation_sd(rho, sd, sd_kind)
    mc = _quantecon_chain("rouwenhorst", n=n, rho=rho, sigma=sig_eps)
    return _finish_income_chain(name, mc, normalise)


def tauchen(
    name: str,
    n: int,
    rho: float,
    sd: float,
    sd_kind: str = "innovation",
    n_std: float = 3.0,
    normalise: bool = False,
) -> Chain:
    """A log-AR(1) income chain discretised by Tauchen's method (``quantecon.markov.tauchen``).

    ``sd_kind`` as in :func:`rouwenhorst`; Aiyagari (1994) used innovation s.d. and no normalisation.
    Reference: Tauchen (1986), Economics Letters 20(2).
    """
    sig_eps = _innovation_sd(rho, sd, sd_kind)
    mc = _quantecon_chain("tauchen", n=n, rho=rho, sigma=sig_eps, n_std=n_std)
    return _finish_income_chain(name, mc, normalise)


def _innovation_sd(rho: float, sd: float, sd_kind: str) -> float:
    if not abs(rho) < 1:
        raise ValueError(f"income persistence rho = {rho!r}: need |rho| < 1 for a stationary AR(1).")
    if not sd > 0:
        raise ValueError(f"income s.d. = {sd!r}: need sd > 0 (use a one-state chain for no risk).")
    if sd_kind == "unconditional":
        return float(sd * np.sqrt(1.0 - rho**2))
    if sd_kind == "innovation":
        return float(sd)
    raise ValueError(f"sd_kind = {sd_kind!r}: use 'unconditional' or 'innovation'.")


def product_chain(name: str, first: Chain, second: Chain) -> Chain:
    """Two independent chains as one: state (j1, j2) -> j1 * m2 + j2, P = kron(P1, P2).

    The value of the product state is the product of the two values (e.g. employment x skill).
    """
    vals = np.kron(np.asarray(first.values), np.asarray(second.values))
    P = np.kron(np.asarray(first.P), np.asarray(second.P))
    return Chain(name, vals, P)
