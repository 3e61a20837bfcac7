"""Savings economies: households who save in one asset (:class:`SavingsEconomy`), and the solvers that
read that structure: the endogenous grid method (:mod:`.egm`), the stationary equilibrium
(:mod:`.stationary`), first-order sequence-space impulse responses (:mod:`.sequence`) and the
Krusell–Smith algorithm (:mod:`.krusell_smith`)."""

from .economy import SavingsEconomy, assets_from, consumption_from
from .utility import CARA, CRRA, Utility

__all__ = ["CARA", "CRRA", "SavingsEconomy", "Utility", "assets_from", "consumption_from"]
