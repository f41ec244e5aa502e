"""A circuit breaker per model, shared by one worker's calls: a model failing everywhere is
skipped for a short while, so jobs with a fallback move on instead of queueing failures."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# This many failures in a row open the circuit, for this long; then one call may try.
FAILURES_TO_OPEN = 5
OPEN_FOR_S = 30.0


@dataclass
class _State:
    failures: int = 0
    opened_at: float | None = None


class CircuitBreaker:
    def __init__(
        self,
        failures_to_open: int = FAILURES_TO_OPEN,
        open_for_s: float = OPEN_FOR_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failures_to_open
        self._open_for = open_for_s
        self._clock = clock
        self._models: dict[str, _State] = {}

    def is_open(self, model: str) -> bool:
        """True while the model should be skipped. Once the pause is over, the next call is a
        trial: its outcome closes the circuit or opens it again."""
        state = self._models.get(model)
        if state is None or state.opened_at is None:
            return False
        if self._clock() - state.opened_at < self._open_for:
            return True
        state.opened_at = None
        state.failures = self._threshold - 1
        return False

    def succeeded(self, model: str) -> None:
        self._models.pop(model, None)

    def failed(self, model: str) -> None:
        state = self._models.setdefault(model, _State())
        state.failures += 1
        if state.failures >= self._threshold:
            state.opened_at = self._clock()
