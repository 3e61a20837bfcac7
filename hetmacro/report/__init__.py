r"""Tables from a :class:`~hetmacro.Solution`: tidy pandas frames with named index levels and units.

Every solver's Solution gets the same tables (DESIGN §6):

================================  =====================================================================
``paths(sol)``                    aggregates, prices and the common noise by (path, t); with
                                  ``summary=True`` the mean and quantiles across paths by t
``irf(sol, shock, size, ...)``    generalised impulse response: shocked minus unshocked path under the
                                  same policy and the same other noise, averaged over paths
``policy_table(sol, t, path)``    the policy at one date of one path by (grid, chain): action
                                  probabilities, expected action, next grid value, model quantities
``distribution(sol, t, path)``    the histogram mu_t by (grid, chain)
``inequality(sol, t, path)``      Gini, top 1% / 10% shares, share at the borrowing limit, per path
``lorenz(sol, t, path)``          the Lorenz curve of the grid variable, point by point
``compare(*solutions)``           one row per solution: method, exploitability, r, w, K, C, time
================================  =====================================================================

**Dates.** ``t`` is the model's date (0 = the initial distribution). Flows hold T + 1 distributions
(dates 0..T) and T policies (dates 0..T-1); negative ``t`` counts from the end as in Python. A stationary
solution has the single date 0 and the single path 0.

**Model quantities.** If the model defines ``policy_quantities(s, a, agg) -> {"c": ..., ...}`` (scalars
for one household in state s taking action a; vectorised by the toolkit like every model method), the
policy table shows their expectation over the policy's actions, and :func:`paths` and :func:`irf` show
their aggregates under mu and pi: a one-letter lowercase name becomes its uppercase aggregate
(``c`` -> ``C``), any other name ``E[name]``. Without the hook the policy table still shows the expected
next value of the grid variable (``a'``), computed from the model's ``transition`` and clipped to the grid
as the lottery does.

**Inequality** statistics use histogram weights (HARK's ``get_lorenz_shares`` convention): the grid
variable's values weighted by the marginal mass, the Lorenz curve linear between the histogram's
cumulative points (exact for a histogram: everyone at a grid point holds the same amount). The Gini
coefficient is the mean absolute difference over twice the mean,
G = sum_i sum_k w_i w_k |x_i - x_k| / (2 sum_i w_i x_i) = 1 - sum_i w_i (L_{i-1} + L_i).
"""

from ._data import noise_components
from .compare import compare
from .compare import total_seconds as total_seconds
from .inequality import gini, inequality, lorenz, lorenz_curve, mean_abs_difference, top_share
from .irf import RATE_NAMES as RATE_NAMES
from .irf import irf, irf_frame
from .paths import paths
from .policy import distribution, policy_table
from .rollout import TablePolicy, noise_path, policy_function, rollout_with_noise

__all__ = [
    "TablePolicy",
    "compare",
    "distribution",
    "gini",
    "inequality",
    "irf",
    "irf_frame",
    "lorenz",
    "lorenz_curve",
    "mean_abs_difference",
    "noise_components",
    "noise_path",
    "paths",
    "policy_function",
    "policy_table",
    "rollout_with_noise",
    "top_share",
]
