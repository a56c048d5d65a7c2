"""Shared torch set-up: device choice, seeds and thread limits."""
from __future__ import annotations

import logging
import random

import numpy as np
import torch

logger = logging.getLogger(__name__)


def torch_device(prefer: str | None = None) -> torch.device:
    """``cuda`` when a GPU is present (or ``prefer`` names a device), else ``cpu``."""
    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; return a torch generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def limit_threads(n: int = 1) -> None:
    """Cap torch's intra-op threads (the machine is shared)."""
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


class MinMaxScaler:
    """Affine map of each column to ``[lo, hi]`` (the paper scales to [-1, 1]).

    Constant columns map to the middle of the range.
    """

    def __init__(self, lo: float = -1.0, hi: float = 1.0) -> None:
        self.lo, self.hi = lo, hi

    def fit(self, x: np.ndarray) -> MinMaxScaler:
        x = np.asarray(x, dtype=float)
        self.min_ = x.min(axis=0)
        span = x.max(axis=0) - self.min_
        self.span_ = np.where(span > 0, span, 1.0)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=float) - self.min_) / self.span_
        return self.lo + (self.hi - self.lo) * z

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return (np.asarray(z, dtype=float) - self.lo) / (self.hi - self.lo) * self.span_ + self.min_
