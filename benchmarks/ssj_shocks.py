"""Peer reference data: sequence-jacobian's Krusell–Smith IRFs to a discount-factor and a labour-tax shock.

Computes, with sequence-jacobian (SSJ, ``pip install sequence-jacobian``), first-order (sequence-space
Jacobian) general-equilibrium impulse responses of SSJ's Krusell–Smith model to two shocks that are not
TFP, and writes them to ``tests/data/ssj_ks_irf_beta.csv`` and ``tests/data/ssj_ks_irf_tax.csv``. The
TFP response is recomputed too and compared with ``tests/data/ssj_ks_irf.csv`` (SSJ's default
derivatives) and ``tests/data/ssj_ks_irf_converged.csv`` (two-sided, step 1e-6), which validates the set-up.
When ``sequence_jacobian`` is not importable the script says so and exits 0; it installs nothing and does
not import hetmacro (run it from any environment that has sequence-jacobian and numpy).

**Model** (as in SSJ's ``krusell_smith`` notebook and ``shared/reference/ssj_ks_irf.md``). Household:
SSJ's ``hetblocks.hh_sim.hh`` (EGM, log utility ``eis`` = 1, borrowing limit a >= 0), budget
c_t + a_t = (1 + r_t) a_{t-1} + y_t(e); income 7-state Rouwenhorst, ``rho_e`` = 0.966, ``sd_e`` = 0.5 (the
stationary s.d. of log e; e normalised so that E[e] = 1, L = 1); 500 assets on [0, 200] with
``grids.agrid`` (geomspace of a + 0.25, minus 0.25). Firm: Y_t = Z_t K_{t-1}^alpha L^(1-alpha),
r_t = alpha Z_t (K_{t-1}/L)^(alpha-1) - delta, w_t = (1-alpha) Z_t (K_{t-1}/L)^alpha, alpha = 0.11,
delta = 0.025. Equilibrium: A_t = K_t (unknown K, target ``asset_mkt``). Calibration: beta, Z, K solved
(scipy hybr) so that r = 0.01, Y = 1, A = K, with tau = 0.

**Shocks** (unanticipated at t = 0, then perfectly foreseen; truncation T = 300):

1. discount factor: dbeta_t = 0.001 * 0.9^t (level deviation of ``beta``; TFP unchanged). SSJ's
   household step at date t computes the marginal utility on tomorrow's grid as beta_t * Va_p with
   Va_p = E_t[Va_{t+1}] (``backward_nonlinear`` feeds the date-t inputs together with the expectation of
   the date-(t+1) Va), so beta_t discounts date t+1 from date t in the date-t Euler equation.
2. labour-income tax with a lump-sum rebate: the income hetinput is
   y_t(e) = (1 - tau_t) w_t e + tau_t w_t L, steady state tau = 0 (calibration unchanged);
   dtau_t = 0.01 * 0.9^t. Revenue tau_t w_t E[e] equals the rebate tau_t w_t L since E[e] = L = 1.
3. TFP (validation only, not written): dZ_t = 0.01 * Z_ss * 0.9^t.

**Timing.** K_t is end-of-period capital (A_t = K_t); production at t uses K_{t-1}, so Y_0, r_0 and w_0
move only through Z_0 (not at all under the beta and tax shocks); r_t is the return on assets carried into
t. C_t is aggregate consumption at t.

**Columns** (t = 0..39): ``X_dev`` is SSJ's raw level deviation from steady state (r in decimal per
quarter); ``r_dev_pp`` = 100 dr (percentage points); ``X_dev_pct`` = 100 dX / X_ss for w, C, K, Y.

**Derivatives.** SSJ differentiates the household's backward step by finite differences (default one-sided,
step 1e-4; hetinputs such as the income function always two-sided with the same step). The tables use
two-sided differences with step 1e-6; the script reports how far steps 5e-7 and 1e-7 and SSJ's default are
from them (max_t |diff| / max_t |IRF| per series). Convergence in the step is not clean (the policy has
kinks): steps from 5e-8 to 2e-6 stay within 1.8e-8 of each peak of the step-1e-6 result (step 1e-7: about
1e-8 for the tax shock, 1e-9 for the others), steps 3e-6 to 1e-5 differ by 2e-8 to 1e-7.
Steady-state tolerances are SSJ's defaults (backward 1e-8, forward 1e-10), as for the TFP tables; tightening
them to 1e-13 / 1e-14 moves the IRFs by about 3e-9 of each peak. So the tables are accurate to about 1e-8
of each series' peak.

Usage: python benchmarks/ssj_shocks.py [--quick] [--json] [--nonlinear] [--out-dir DIR] [--no-write]
(for instance ``/path/to/venv-with-ssj/bin/python benchmarks/ssj_shocks.py``). ``--quick`` skips the
derivative-step checks; ``--json`` prints one JSON object as the last line of stdout; ``--nonlinear`` also
compares with SSJ's nonlinear perfect-foresight solution (shocks at full and 1/10 size); ``--no-write``
computes and prints without writing the CSV files. A full run takes about 10 s (15 s with ``--nonlinear``) after numba compilation.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
T = 300
N_ROWS = 40
SERIES = ("r", "w", "C", "K", "Y")
H_TABLE, H_CHECK, H_DEFAULT = 1e-6, 1e-7, 1e-4
CALIBRATION = dict(eis=1.0, delta=0.025, alpha=0.11, rho_e=0.966, sd_e=0.5, L=1.0, n_e=7, min_a=0.0,
                   max_a=200.0, n_a=500, tau=0.0)  # fmt: skip
SS_GUESS = {"beta": 0.98, "Z": 0.85, "K": 3.0}
SS_TARGETS = {"r": 0.01, "Y": 1.0, "asset_mkt": 0.0}
FILES = {"beta": "ssj_ks_irf_beta.csv", "tau": "ssj_ks_irf_tax.csv"}


# --- model blocks (plain functions: SSJ reads their source for the output names) ---------------------------
def make_grids(rho_e, sd_e, n_e, min_a, max_a, n_a):
    from sequence_jacobian import grids

    e_grid, pi_e, Pi = grids.markov_rouwenhorst(rho_e, sd_e, n_e)
    a_grid = grids.agrid(max_a, n_a, min_a)
    return e_grid, pi_e, Pi, a_grid


def income(w, e_grid, tau, L):
    y = (1 - tau) * w * e_grid + tau * w * L
    return y


def firm(K, L, Z, alpha, delta):
    r = alpha * Z * (K(-1) / L) ** (alpha - 1) - delta
    w = (1 - alpha) * Z * (K(-1) / L) ** alpha
    Y = Z * K(-1) ** alpha * L ** (1 - alpha)
    return r, w, Y


def mkt_clearing(K, A, Y, C, delta):
    asset_mkt = A - K
    goods_mkt = Y - C - (K - (1 - delta) * K(-1))
    return asset_mkt, goods_mkt


def build():
    """The model and its calibrated steady state."""
    import sequence_jacobian as sj
    from sequence_jacobian.hetblocks.hh_sim import hh

    household = hh.add_hetinputs([make_grids, income]).rename("household")
    model = sj.create_model([household, sj.simple(firm), sj.simple(mkt_clearing)], name="Krusell-Smith")
    ss = model.solve_steady_state(CALIBRATION, SS_GUESS, SS_TARGETS, solver="hybr")
    return model, ss


def shocks(ss) -> dict:
    t = np.arange(T)
    return {"Z": 0.01 * ss["Z"] * 0.9**t, "beta": 0.001 * 0.9**t, "tau": 0.01 * 0.9**t}


def irfs(model, ss, h: float, twosided: bool) -> dict:
    """Linear GE responses {shock: {series: array(T)}} with the household differentiated at step h."""
    G = model.solve_jacobian(ss, ["K"], ["asset_mkt"], ["Z", "beta", "tau"], outputs=list(SERIES), T=T,
                             options={"household": {"h": h, "twosided": twosided}})  # fmt: skip
    return {name: {o: np.asarray(G[o][name] @ path) for o in SERIES} for name, path in shocks(ss).items()}


def columns(irf: dict, ss) -> dict:
    cols = {f"{o}_dev": irf[o] for o in SERIES}
    cols["r_dev_pp"] = 100 * irf["r"]
    for o in SERIES[1:]:
        cols[f"{o}_dev_pct"] = 100 * irf[o] / float(ss[o])
    return cols


def write_table(path: Path, irf: dict, ss) -> None:
    cols = columns(irf, ss)
    names = [f"{o}_dev" for o in SERIES] + ["r_dev_pp"] + [f"{o}_dev_pct" for o in SERIES[1:]]
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["t", *names])
        for t in range(N_ROWS):
            out.writerow([t, *(f"{cols[c][t]:.12e}" for c in names)])


def rel_diff(a: dict, b: dict) -> dict:
    """max_t |a - b| / max_t |b| per series."""
    return {o: float(np.max(np.abs(a[o] - b[o])) / np.max(np.abs(b[o]))) for o in SERIES}


def peaks(irf: dict, ss) -> dict:
    cols = columns(irf, ss)
    out = {}
    for o in SERIES:
        t = int(np.argmax(np.abs(irf[o])))
        norm = cols["r_dev_pp" if o == "r" else f"{o}_dev_pct"][t]
        out[o] = {"t": t, "level": float(irf[o][t]), "normalised": float(norm)}
    return out


def resource_residual(irf: dict, delta: float) -> float:
    """max_t |dY - dC - (dK_t - (1 - delta) dK_{t-1})| (the dynamic goods-market identity)."""
    dK_lag = np.concatenate([[0.0], irf["K"][:-1]])
    return float(np.max(np.abs(irf["Y"] - irf["C"] - irf["K"] + (1 - delta) * dK_lag)))


def read_reference(path: Path) -> dict | None:
    if not path.exists():
        return None
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def tfp_check(irf: dict, ss) -> dict:
    """Agreement of the TFP response with the project's two TFP reference tables (normalised columns)."""
    cols = columns(irf, ss)
    out = {}
    for label, name, suffix in (
        ("default", "ssj_ks_irf.csv", ""),
        ("converged", "ssj_ks_irf_converged.csv", "_fd2s"),
    ):
        ref = read_reference(DATA / name)
        if ref is None:
            continue
        diffs = {}
        for o in SERIES:
            col = "r_dev_pp" if o == "r" else f"{o}_dev_pct"
            n = len(ref[col + suffix])
            diffs[o] = float(
                np.max(np.abs(cols[col][:n] - ref[col + suffix])) / np.max(np.abs(ref[col + suffix]))
            )
        out[label] = diffs
    return out


def nonlinear_check(model, ss, table: dict) -> dict:
    """max_t |nonlinear - linear| / max_t |linear| for the beta and tax shocks at full and 1/10 size."""
    out = {}
    for name in ("beta", "tau"):
        for scale in (1.0, 0.1):
            path = scale * shocks(ss)[name]
            nl = model.solve_impulse_nonlinear(ss, ["K"], ["asset_mkt"], {name: path}, outputs=list(SERIES),
                                               verbose=False)  # fmt: skip
            lin = {o: scale * table[name][o] for o in SERIES}
            out[f"{name} x{scale:g}"] = rel_diff({o: np.asarray(nl[o]) for o in SERIES}, lin)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the derivative-step checks")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last stdout line")
    parser.add_argument("--out-dir", default=str(DATA), help="where to write the CSV files")
    parser.add_argument(
        "--nonlinear", action="store_true", help="compare with SSJ's nonlinear perfect foresight"
    )
    parser.add_argument("--no-write", action="store_true", help="do not write the CSV files")
    args = parser.parse_args(argv)

    if importlib.util.find_spec("sequence_jacobian") is None:
        print("sequence_jacobian is not importable: nothing to do (pip install sequence-jacobian)")
        return 0
    from importlib.metadata import version

    t0 = time.perf_counter()
    model, ss = build()
    ss_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    table = irfs(model, ss, H_TABLE, True)
    irf_s = time.perf_counter() - t0

    res = {
        "case": "SSJ Krusell-Smith, linear GE IRFs to beta and labour-tax shocks",
        "versions": {"sequence_jacobian": version("sequence-jacobian"), "numpy": np.__version__},
        "steady_state": {k: float(ss[k]) for k in ("beta", "Z", "K", "w", "C", "r", "Y", "A")},
        "timings_s": {"steady_state": ss_s, "jacobians_and_irfs": irf_s},
        "peaks": {name: peaks(table[name], ss) for name in ("beta", "tau", "Z")},
        "resource_residual": {name: resource_residual(table[name], CALIBRATION["delta"]) for name in table},
        "tfp_vs_reference": tfp_check(table["Z"], ss),
        "derivative_checks": {},
    }
    if not args.quick:
        checks = (("two-sided 5e-7", 5e-7, True), ("two-sided 1e-7", H_CHECK, True),
                  ("one-sided 1e-4 (default)", H_DEFAULT, False))  # fmt: skip
        for label, h, twosided in checks:
            other = irfs(model, ss, h, twosided)
            res["derivative_checks"][label] = {name: rel_diff(other[name], table[name]) for name in table}
    if args.nonlinear:
        res["nonlinear_vs_linear"] = nonlinear_check(model, ss, table)
    if not args.no_write:
        out_dir = Path(args.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, fname in FILES.items():
            write_table(out_dir / fname, table[name], ss)
        res["written"] = [str(out_dir / f) for f in FILES.values()]

    st = res["steady_state"]
    print(f"{res['case']} (sequence-jacobian {res['versions']['sequence_jacobian']}, T = {T})")
    print("steady state: " + ", ".join(f"{k} = {v:.10f}" for k, v in st.items()))
    print(f"steady state {ss_s:.1f} s; Jacobians and IRFs (two-sided, step {H_TABLE:g}) {irf_s:.1f} s")
    labels = {"beta": "dbeta = 0.001 * 0.9^t", "tau": "dtau = 0.01 * 0.9^t", "Z": "dZ = 0.01 Z 0.9^t"}
    for name, pk in res["peaks"].items():
        print(f"peaks, {labels[name]} (t, level, pp or % of ss):")
        for o, p in pk.items():
            print(f"  {o}: t = {p['t']:>2d}  {p['level']: .6e}  {p['normalised']: .6f}")
        print(f"  resource identity residual {res['resource_residual'][name]:.1e}")
    for label, diffs in res["tfp_vs_reference"].items():
        print(f"TFP vs ssj_ks_irf{'_converged' if label == 'converged' else ''}.csv (max |diff| / peak): "
              + ", ".join(f"{o} {v:.1e}" for o, v in diffs.items()))  # fmt: skip
    for label, by_shock in res["derivative_checks"].items():
        for name, diffs in by_shock.items():
            print(f"{label} vs two-sided 1e-6, {name} (max |diff| / peak): "
                  + ", ".join(f"{o} {v:.1e}" for o, v in diffs.items()))  # fmt: skip
    for label, diffs in res.get("nonlinear_vs_linear", {}).items():
        print(f"nonlinear vs linear, {label} shock (max |diff| / peak): "
              + ", ".join(f"{o} {v:.1e}" for o, v in diffs.items()))  # fmt: skip
    for path in res.get("written", []):
        print(f"wrote {path}")
    if args.json:
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
