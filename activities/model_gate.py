"""Keeping each model within the limits the whole fleet shares: a call waits its turn
(heartbeating, and saying so in the job's events), and a provider's 429 pauses every worker's
calls to that model instead of failing the job."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol, TypeVar

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import heartbeat, model_metrics
from core.config import ModelLimit
from core.contracts.llm import TokenUsage
from core.events import RateLimitedEvent
from store import JobEventLog, ModelCallLog
from store.job_events import NewEvent
from store.model_calls import Admission

log = structlog.get_logger(__name__)

RATE_LIMITED = "RateLimited"
# A 429 without Retry-After pauses the model this long, doubling up to the maximum.
FIRST_PAUSE_S = 1.0
MAX_PAUSE_S = 60.0
# A long wait is checked again this often (another worker's estimate may have shrunk).
RECHECK_S = 2.0


class _Metered(Protocol):
    """A model's answer as the gate needs it: what it used, and any pause it asked for."""

    @property
    def usage(self) -> TokenUsage: ...

    @property
    def pause_s(self) -> float | None: ...


Metered = TypeVar("Metered", bound=_Metered)


class ModelGate:
    def __init__(
        self,
        calls: ModelCallLog,
        events: JobEventLog,
        limits: dict[str, ModelLimit],
        window: timedelta,
    ) -> None:
        self._calls = calls
        self._events = events
        self._limits = limits
        self._window = window

    async def call(
        self,
        model: str,
        estimate: int,
        step: str | None,
        make_call: Callable[[], Awaitable[Metered]],
    ) -> Metered:
        """Make the call once the model has room, as often as the provider answers 429."""
        pause = FIRST_PAUSE_S
        while True:
            admission = await self._admitted(model, estimate, step)
            try:
                completion = await make_call()
            except ApplicationError as err:
                if err.type != RATE_LIMITED:
                    raise
                said = err.next_retry_delay.total_seconds() if err.next_retry_delay else None
                wait = pause if said is None else said
                pause = min(pause * 2, MAX_PAUSE_S)
                log.warning("llm.provider_rate_limited", model=model, pause_s=wait)
                model_metrics.rate_limit_wait(model, wait)
                await self._calls.pause(model, wait)
                continue
            if admission.call_id is not None:
                used = completion.usage.input_tokens + completion.usage.output_tokens
                await self._calls.settle(admission.call_id, used)
            if completion.pause_s:
                await self._calls.pause(model, completion.pause_s)
            return completion

    async def _admitted(self, model: str, estimate: int, step: str | None) -> Admission:
        told = False
        started = time.monotonic()
        while True:
            admission = await self._calls.admit(
                model, estimate, self._limits.get(model), self._window
            )
            if admission.admitted:
                if told:
                    heartbeat.say(None)
                    model_metrics.rate_limit_wait(model, time.monotonic() - started)
                return admission
            heartbeat.say(f"waiting {admission.wait_s:.1f}s for {model}'s rate limit")
            if not told:
                await self._tell(step, model, admission.wait_s)
                told = True
            # Pacing a wait the database computed, while heartbeating: not synchronisation.
            await asyncio.sleep(min(max(admission.wait_s, 0.01), RECHECK_S))

    async def _tell(self, step: str | None, model: str, wait_s: float) -> None:
        """One `rate_limited` event per wait, best effort: the call matters more."""
        info = activity.info()
        event = RateLimitedEvent(step=step, model=model, wait_s=round(wait_s, 1))
        key = f"{info.workflow_run_id}/{info.activity_id}/{info.attempt}/wait/{time.monotonic_ns()}"
        try:
            await self._events.append(
                info.workflow_id or "", [NewEvent(key, event.type, event.model_dump(mode="json"))]
            )
        except Exception as err:
            log.warning("events.rate_limited_lost", reason=type(err).__name__)


def estimate_tokens(messages: list[dict[str, object]], max_output_tokens: int | None) -> int:
    """Before the call: about four characters a token in, plus the most it may write."""
    characters = sum(len(str(m.get("content") or "")) for m in messages)
    return characters // 4 + (max_output_tokens or 1000)
