"""hetmacro: heterogeneous-agent macroeconomics as mean-field games with common noise, in JAX."""

import os as _os

# Installed, models/ and calibrations/ are subpackages; in a source checkout they sit beside this
# folder. Let the checkout import them too (e.g. ``python -m hetmacro`` from the repository root).
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(_os.path.dirname(__file__), "models")) and _os.path.isfile(
    _os.path.join(_root, "models", "__init__.py")
):
    __path__.append(_root)

from . import grids, noise, results
from .cache import use_compilation_cache
from .game import Flow, Game, Kernel, compile
from .grids import (
    ActionGrid,
    Chain,
    Grid,
    double_exponential_grid,
    geometric_grid,
    lottery,
    product_chain,
    rouwenhorst,
    tauchen,
)
from .hmx import register_model
from .market import AssetSupply, CapitalMarket, Market, ZeroNetSupply
from .mfg import policies
from .mfg.policies import NetworkPolicy, PolicyNetwork
from .model import AggState, Distribution, Model, State, param, shipped_calibrations, static
from .noise import AR1, CommonNoise, Joint, MarkovChain, NoNoise, RareEvent
from .report import compare
from .savings import CARA, CRRA, SavingsEconomy, Utility
from .savings.gradients import calibrate, gradient
from .solution import Solution
from .solvers import DP, IPPO, KS, METHODS, RIPPO, RSPG, SPG, Linear, Solver, Stationary, configure, solve
from .sweeps import sweep

load = Solution.load

if _os.environ.get("HETMACRO_CACHE_DIR"):
    use_compilation_cache()

__version__ = "0.1.0"

__all__ = [
    "AR1",
    "ActionGrid",
    "AggState",
    "AssetSupply",
    "CARA",
    "CRRA",
    "CapitalMarket",
    "Chain",
    "CommonNoise",
    "DP",
    "Distribution",
    "Flow",
    "Game",
    "Grid",
    "IPPO",
    "Joint",
    "KS",
    "Kernel",
    "Linear",
    "METHODS",
    "Market",
    "MarkovChain",
    "Model",
    "NetworkPolicy",
    "NoNoise",
    "PolicyNetwork",
    "RIPPO",
    "RSPG",
    "RareEvent",
    "SPG",
    "SavingsEconomy",
    "Solution",
    "Solver",
    "State",
    "Stationary",
    "Utility",
    "ZeroNetSupply",
    "calibrate",
    "compare",
    "compile",
    "configure",
    "double_exponential_grid",
    "geometric_grid",
    "gradient",
    "grids",
    "load",
    "lottery",
    "noise",
    "param",
    "policies",
    "product_chain",
    "register_model",
    "results",
    "rouwenhorst",
    "shipped_calibrations",
    "solve",
    "static",
    "sweep",
    "tauchen",
    "use_compilation_cache",
]
