"""Shipped models, written with the public Model API; each file opens with its equations."""

from .beach_bar import BeachBar
from .lq import LinearQuadratic

__all__ = ["BeachBar", "LinearQuadratic"]
