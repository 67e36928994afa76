"""Retry timing shared by every sweep."""

from __future__ import annotations

import random
from datetime import timedelta

BACKOFF_CAP_S = 900.0


def backoff(attempts: int, base: float = 2.0, cap: float = BACKOFF_CAP_S) -> timedelta:
    """Exponential backoff with full jitter, capped."""
    return timedelta(seconds=random.uniform(0.5, 1.0) * min(cap, base * 2 ** min(attempts, 16)))
