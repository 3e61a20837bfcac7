"""Shipped models, written with the public Model API; each file opens with its equations."""

from .aiyagari import Aiyagari
from .beach_bar import BeachBar
from .krusell_smith import KrusellSmith, ks_transition_matrix
from .lq import LinearQuadratic

__all__ = ["Aiyagari", "BeachBar", "KrusellSmith", "LinearQuadratic", "ks_transition_matrix"]
