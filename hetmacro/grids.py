"""Individual-state dimensions and the ordinal action grid.

A household's state is one endogenous dimension (a grid whose off-grid values are split onto the two
neighbouring points, a *lottery*) times one exogenous Markov chain (income, employment, ...). Several
exogenous chains combine into one with :func:`product_chain`.

All constructors validate eagerly (on concrete values) and raise ``ValueError`` naming the field, the
offending value and the fix.
"""

from __future__ import annotations

import operator
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
    """Raise unless ``P`` is a (square, if ``square``) matrix of finite probabilities whose rows sum to one."""
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or (square and P.shape[0] != P.shape[1]):
        kind = "square 2-D array" if square else "2-D array"
        raise ValueError(f"{name}: a transition matrix must be a {kind}, got shape {P.shape}.")
    finite = np.isfinite(P)
    if not np.all(finite):
        # NaN < 0 and |NaN - 1| > atol are both False: without this check a NaN passes and LAPACK
        # fails much later ("SVD did not converge").
        i, j = np.argwhere(~finite)[0]
        raise ValueError(
            f"{name}: transition probabilities must be finite, got P[{i}, {j}] = {float(P[i, j])!r} "
            f"({int(np.sum(~finite))} non-finite entries in all; the first is shown). Fix: recompute "
            "that row (a NaN often comes from normalising a row of zeros, 0 / 0)."
        )
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


def _describe_states(idx, values, symbol: str | None, limit: int = 6) -> str:
    """'states [0, 1] (e = 0.5, 1.5)', truncated after ``limit`` states."""
    idx = [int(k) for k in idx]
    shown = idx[:limit]
    more = f", ... ({len(idx)} states)" if len(idx) > limit else ""
    text = "states [" + ", ".join(str(k) for k in shown) + more + "]"
    if values is not None:
        vals = ", ".join(f"{float(values[k]):.6g}" for k in shown) + (", ..." if more else "")
        text += f" ({symbol or 'value'} = {vals})"
    return text


def check_unique_stationary(name: str, P, values=None, symbol: str | None = None) -> None:
    """Raise unless the Markov chain ``P`` has one stationary distribution that any distribution converges to.

    That holds when the chain has exactly one closed (recurrent) communicating class, which is aperiodic;
    transient states (ones the chain leaves for good) are fine. A chain with several closed classes has
    one stationary distribution per class (and all their mixtures), so "the" stationary cross-section
    is arbitrary; a periodic chain cycles, so iterating a distribution forward never settles.

    Args:
        name: what ``P`` is, for the message (``"Chain 'e'.P"``).
        P: (m, m) transition matrix (checked with :func:`check_stochastic` first).
        values, symbol: optional state values and their symbol, to name the states in the message.

    The class structure is that of the graph of positive entries, from ``quantecon.MarkovChain``.
    """
    import quantecon as qe

    P = np.asarray(P)
    # A Chain's P is a JAX array, float32 outside x64: allow its rounding in the row sums.
    eps = np.finfo(P.dtype).eps if np.issubdtype(P.dtype, np.floating) else 0.0
    P = P.astype(np.float64)
    check_stochastic(name, P, atol=max(1e-8, 10.0 * P.shape[-1] * eps))
    vals = None if values is None else np.asarray(values, dtype=np.float64).reshape(-1)
    # Only the pattern of positive entries matters below; renormalised rows pass quantecon's own check.
    mc = qe.MarkovChain(P / P.sum(axis=1, keepdims=True))
    closed = sorted(mc.recurrent_classes_indices, key=lambda c: int(np.min(c)))
    if len(closed) > 1:
        shown = "; ".join(_describe_states(c, vals, symbol) for c in closed[:4])
        more = f"; and {len(closed) - 4} more" if len(closed) > 4 else ""
        raise ValueError(
            f"{name}: the chain has {len(closed)} closed classes of states that it never leaves once in "
            f"them: {shown}{more}. Its long-run distribution then depends on where it starts, so it has no "
            "unique stationary distribution, and the stationary cross-section of households (and "
            "aggregates such as labour supply) would be arbitrary; a solver would fail later for reasons "
            "that look unrelated (e.g. blaming a_max). Fix: make every state reachable from every other, "
            "e.g. add a small probability of leaving each class (P = (1 - eps) P + eps / m for a small eps), "
            "or drop all but one class."
        )
    period = int(mc.period)
    if period > 1:
        c = np.asarray(closed[0])
        cycle = qe.MarkovChain(P[np.ix_(c, c)]).cyclic_classes
        groups = " -> ".join(_describe_states(c[g], vals, symbol, limit=4) for g in cycle[:4])
        if len(cycle) > 4:
            groups += " -> ..."
        raise ValueError(
            f"{name}: the chain is periodic with period {period}: it moves in a cycle {groups} -> back "
            "to the first. A distribution of households that does not start exactly at the stationary "
            "distribution then cycles for ever instead of converging to it, so the stationary "
            "distribution cannot be found by iterating the distribution forward (the stationary "
            "solvers, Young's method) and is not the long-run cross-section. Fix: give some state a "
            "positive probability of staying (P[j, j] > 0), e.g. P = (1 - eps) P + eps I for a small eps."
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
        if not np.all(np.isfinite(vals)):
            k = int(np.argmax(~np.isfinite(vals)))
            raise ValueError(
                f"Chain '{name}': state values must be finite, got values[{k}] = {float(vals[k])!r}. "
                "Fix: recompute the values (e.g. exp of a finite log-income grid)."
            )
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
        """The stationary distribution pi = pi P, shape (m,).

        Raises ValueError for a chain without a unique, convergent one (several closed classes, or
        periodic): see :func:`stationary_distribution`.
        """
        return stationary_distribution(
            np.asarray(self.P),
            name=f"Chain '{self.name}'.P",
            values=np.asarray(self.values),
            symbol=self.name,
        )


def stationary_distribution(
    P: np.ndarray, name: str = "Markov chain", values=None, symbol: str | None = None
) -> np.ndarray:
    """Stationary distribution of a finite Markov chain by solving pi (I - P) = 0, sum(pi) = 1.

    The one place the stationary distribution of an exogenous chain (income, TFP, joint) is computed.
    The chain is checked first (:func:`check_unique_stationary`): a ValueError names the closed
    classes of a reducible chain, or the period of a periodic one, instead of returning one of many
    solutions (for the identity matrix, [0.5, 0.5] would be as good as [1, 0]).

    Args:
        P: (m, m) transition matrix.
        name: what P is, for error messages; values, symbol: the states' values and symbol, likewise.
    """
    check_unique_stationary(name, P, values, symbol)
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
    def geometric(cls, name: str, n: int, smallest: float, high: float = 1.0, low: float = 0.0) -> ActionGrid:
        """``n`` actions spaced geometrically from ``smallest`` to ``high`` (both included), in [low, high].

        Adjacent actions differ by the same ratio (high / smallest)^(1 / (n - 1)): the grid for a share
        whose relevant values span orders of magnitude. A savings economy's consumption share c / x is
        about 1 for hand-to-mouth households and a few percent for the rich, who hold most of the
        capital; with 20 shares from 0.02 to 1 adjacent shares differ by 23% everywhere, where 20 equal
        cells (0.025, 0.075, ...) differ by 200% at the bottom and cannot consume all of cash on hand.
        Cell edges are the midpoints between actions, as for every grid.
        """
        if n < 2:
            raise ValueError(f"ActionGrid.geometric '{name}': need n >= 2 actions, got {n}.")
        if not 0 < smallest < high or smallest < low:
            raise ValueError(
                f"ActionGrid.geometric '{name}': need max(0, low) < smallest < high, got smallest = {smallest}, "
                f"[low, high] = [{low}, {high}]."
            )
        return cls(name, np.geomspace(smallest, high, n), low, high)

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


def _check_grid_args(fn: str, low, high, n) -> int:
    """Validate the common arguments of the grid constructors; return n as an int."""
    for arg, v in (("low", low), ("high", high)):
        if not np.isfinite(float(v)):
            raise ValueError(f"{fn}: {arg} = {v!r} must be a finite number.")
    if not high > low:
        raise ValueError(
            f"{fn}: need low < high, got low = {low!r}, high = {high!r}. "
            "Fix: pass the lower end first, with high strictly above it."
        )
    try:
        n_int = operator.index(n)
    except TypeError:
        raise ValueError(f"{fn}: n = {n!r} must be an integer >= 2 (the number of points).") from None
    if n_int < 2:
        raise ValueError(f"{fn}: n = {n_int!r}: a grid needs n >= 2 points (low and high at least).")
    return n_int


def _finite_grid(fn: str, pts: np.ndarray, args: str, shrink: str = "a narrower [low, high]") -> np.ndarray:
    """Raise instead of returning a grid with non-finite points (overflow in the construction)."""
    bad = ~np.isfinite(pts)
    if np.any(bad):
        k = int(np.argmax(bad))
        raise ValueError(
            f"{fn}({args}): point {k} is {float(pts[k])!r}: the construction overflowed. "
            f"Fix: use arguments of smaller magnitude ({shrink})."
        )
    return pts


def geometric_grid(low: float, high: float, n: int, pivot: float = 0.25) -> np.ndarray:
    """Points denser near ``low``: geomspace(low + pivot, high + pivot, n) - pivot.

    Needs low < high, n >= 2 and low + pivot > 0 (so that the geometric sequence is of positive numbers);
    for a negative ``low`` pass a ``pivot`` above -low. A larger pivot gives a more nearly uniform grid.
    With low 0, high 99, n 200, pivot 0.25 this is the wealth grid of the paper's macro game.

    Raises:
        ValueError: naming the argument and its valid range.
    """
    n = _check_grid_args("geometric_grid", low, high, n)
    if not np.isfinite(float(pivot)):
        raise ValueError(f"geometric_grid: pivot = {pivot!r} must be a finite number.")
    if not low + pivot > 0:
        raise ValueError(
            f"geometric_grid: low + pivot = {low!r} + {pivot!r} = {low + pivot!r} must be > 0 (the points are "
            f"geomspace(low + pivot, high + pivot, n) - pivot). Fix: pass pivot > {-low!r}, e.g. "
            f"pivot={-low + 0.25!r} (a larger pivot spreads the points more evenly)."
        )
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, by name
        pts = np.geomspace(low + pivot, high + pivot, n) - pivot
    args = f"{low!r}, {high!r}, {n!r}, pivot={pivot!r}"
    return _finite_grid("geometric_grid", pts, args, "a narrower [low, high] or a smaller pivot")


def double_exponential_grid(low: float, high: float, n: int) -> np.ndarray:
    """a = low + exp(exp(u) - 1) - 1 on a uniform u grid, so that a runs from low to high.

    The asset grid of sequence-jacobian's ``asset_grid``; very dense near the borrowing limit. Needs
    finite low < high and n >= 2.

    Raises:
        ValueError: naming the argument and its valid range.
    """
    n = _check_grid_args("double_exponential_grid", low, high, n)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, by name
        umax = np.log(1.0 + np.log(1.0 + high - low))
        u = np.linspace(0.0, umax, n)
        pts = low + np.exp(np.exp(u) - 1.0) - 1.0
    return _finite_grid("double_exponential_grid", pts, f"{low!r}, {high!r}, {n!r}")


def _quantecon_chain(method: str, **kw):
    import quantecon as qe

    with warnings.catch_warnings():
        # quantecon warns on every call about a future change of argument names; nothing to act on.
        warnings.simplefilter("ignore")
        return getattr(qe.markov, method)(**kw)


_SD_KINDS = (
    "'unconditional' (sd is the stationary cross-sectional s.d. of log e, sequence-jacobian's sd_e) or "
    "'innovation' (sd is the s.d. of the shock eps in log e' = rho log e + eps, Aiyagari's 1994 "
    "convention; unconditional = innovation / sqrt(1 - rho^2))"
)


def _finish_income_chain(name: str, mc, normalise: bool) -> Chain:
    log_e = np.asarray(mc.state_values, dtype=np.float64)
    P = np.asarray(mc.P, dtype=np.float64)
    e = np.exp(log_e)
    if normalise:
        e = e / (stationary_distribution(P, name=f"income chain '{name}'.P", values=e, symbol=name) @ e)
    return Chain(name, e, P)


def rouwenhorst(
    name: str, n: int, rho: float, sd: float, *, sd_kind: str | None = None, normalise: bool = True
) -> Chain:
    """A log-AR(1) income chain log e' = rho log e + eps discretised by Rouwenhorst's method.

    Args:
        n: number of states.
        rho: persistence, |rho| < 1.
        sd: standard deviation; ``sd_kind`` (required, keyword) says of what: ``"unconditional"``
            (the stationary cross-sectional s.d. of log e, sequence-jacobian's convention) or
            ``"innovation"`` (the s.d. of eps; unconditional = innovation / sqrt(1 - rho^2)).
        normalise: rescale e so that its stationary mean is 1 (so aggregate labour L = 1). The same
            default as :func:`tauchen`.

    Uses ``quantecon.markov.rouwenhorst``. Reference: Kopecky and Suen (2010), RED 13(3).
    """
    sig_eps = _innovation_sd("rouwenhorst", rho, sd, sd_kind)
    mc = _quantecon_chain("rouwenhorst", n=n, rho=rho, sigma=sig_eps)
    return _finish_income_chain(name, mc, normalise)


def tauchen(
    name: str,
    n: int,
    rho: float,
    sd: float,
    *,
    sd_kind: str | None = None,
    n_std: float = 3.0,
    normalise: bool = True,
) -> Chain:
    """A log-AR(1) income chain discretised by Tauchen's method (``quantecon.markov.tauchen``).

    ``sd_kind`` (required, keyword) and ``normalise`` (default True) as in :func:`rouwenhorst`;
    ``n_std``: the grid of log e spans +-n_std unconditional s.d. Aiyagari (1994) used innovation
    s.d. and no normalisation (``sd_kind="innovation", normalise=False``).
    Reference: Tauchen (1986), Economics Letters 20(2).
    """
    sig_eps = _innovation_sd("tauchen", rho, sd, sd_kind)
    if not (np.isfinite(n_std) and n_std > 0):
        raise ValueError(f"tauchen: n_std = {n_std!r}: the grid's half-width in s.d.s must be positive.")
    mc = _quantecon_chain("tauchen", n=n, rho=rho, sigma=sig_eps, n_std=n_std)
    return _finish_income_chain(name, mc, normalise)


def _innovation_sd(fn: str, rho: float, sd: float, sd_kind: str | None) -> float:
    if sd_kind is None:
        raise ValueError(
            f"{fn}: say what sd = {sd!r} is the standard deviation of, with sd_kind={_SD_KINDS}. "
            f'E.g. {fn}("e", 7, rho=0.9, sd=0.2, sd_kind="unconditional").'
        )
    if not abs(rho) < 1:
        raise ValueError(f"income persistence rho = {rho!r}: need |rho| < 1 for a stationary AR(1).")
    if not sd > 0:
        raise ValueError(f"income s.d. = {sd!r}: need sd > 0 (use a one-state chain for no risk).")
    if sd_kind == "unconditional":
        return float(sd * np.sqrt(1.0 - rho**2))
    if sd_kind == "innovation":
        return float(sd)
    raise ValueError(f"{fn}: sd_kind = {sd_kind!r}: use {_SD_KINDS}.")


def product_chain(name: str, first: Chain, second: Chain) -> Chain:
    """Two independent chains as one: state (j1, j2) -> j1 * m2 + j2, P = kron(P1, P2).

    The value of the product state is the product of the two values (e.g. employment x skill).
    """
    vals = np.kron(np.asarray(first.values), np.asarray(second.values))
    P = np.kron(np.asarray(first.P), np.asarray(second.P))
    return Chain(name, vals, P)
