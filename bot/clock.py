"""The desk's two clocks.

Wall time (UTC) is what the database stores and people read: when a post came, when a row is due.
Monotonic time is what waiting uses: the repeating loops (bot/loops.py), X's back-off and pauses. An
NTP step or an operator moving the wall clock changes the first and never the second, so no wait is
stretched by it; `StepWatch` notices the step so rows already due in wall time can be moved with it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

# Seconds added to the system's wall clock. Always 0 in service; tests and simulations step it to show
# that a jump of the wall clock stalls nothing (`step_wall_clock`).
_step = 0.0


def utcnow() -> datetime:
    now = datetime.now(UTC)
    return now + timedelta(seconds=_step) if _step else now


def step_wall_clock(seconds: float) -> None:
    """Move the desk's wall clock by `seconds` (negative: back), as an NTP step would."""
    global _step
    _step += seconds


def monotonic() -> float:
    return time.monotonic()


class StepWatch:
    """Notices the wall clock jumping against the monotonic one (NTP step, operator, a resumed VM).

    The offset between the two is constant while both run; a change beyond `tolerance` seconds is a step.
    """

    def __init__(self, tolerance: float = 2.0) -> None:
        self.tolerance = tolerance
        self._offset = self._read()

    @staticmethod
    def _read() -> float:
        return utcnow().timestamp() - time.monotonic()

    def check(self) -> float:
        """Seconds the wall clock moved since the last check (negative: back); 0.0 within the tolerance."""
        offset = self._read()
        moved = offset - self._offset
        if abs(moved) <= self.tolerance:
            return 0.0
        self._offset = offset
        return moved
