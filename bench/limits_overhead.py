"""What the model limiter and the cost ledger add to each model call.

    .venv/bin/python bench/limits_overhead.py [--calls 1000] [--concurrency 20]

Runs the real `ModelGate` and `Billing` against the embedded PostgreSQL, with a model call
that answers at once, so only their own work is timed: admitting the call under a model
limit (a locked window check and an insert), correcting its tokens afterwards, pricing it
and writing its ledger line. Reported as p50/p99 per call, one caller at a time and with
`--concurrency` callers on the same model (they take turns on its lock).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from temporalio import activity  # noqa: E402
from temporalio.testing import ActivityEnvironment  # noqa: E402

from activities.billing import Billing  # noqa: E402
from activities.chat_completions import Completion  # noqa: E402
from activities.model_gate import ModelGate  # noqa: E402
from core.config import ModelLimit  # noqa: E402
from core.contracts.llm import TokenUsage  # noqa: E402
from core.logging import configure_logging  # noqa: E402
from core.pricing import ModelPrices  # noqa: E402
from store import Stores  # noqa: E402
from tests.support.database import embedded_stores  # noqa: E402

MODEL = "gpt-4o-mini"
USAGE = TokenUsage(input_tokens=800, output_tokens=200, llm_calls=1)


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1]


async def instant() -> Completion:
    return Completion(content="ok", model=MODEL, usage=USAGE)


async def measure(stores: Stores, calls: int, concurrency: int) -> list[float]:
    # Limits high enough never to make a call wait: only the bookkeeping is timed.
    limits = {MODEL: ModelLimit(requests=1_000_000, tokens=1_000_000_000)}
    gate = ModelGate(stores.model_calls, stores.events, limits, timedelta(seconds=60))
    billing = Billing(stores.ledger, ModelPrices())
    timings: list[float] = []

    @activity.defn(name="complete_chat")
    async def one_call() -> None:
        started = time.perf_counter()
        completion = await gate.call(MODEL, 1000, None, instant)
        await billing.charge("bench", MODEL, completion.model, completion.usage)
        timings.append((time.perf_counter() - started) * 1000)

    async def caller(index: int) -> None:
        for n in range(calls // concurrency):
            env = ActivityEnvironment()
            env.info = replace(env.info, activity_id=f"{index}-{n}", workflow_id="bench")
            await env.run(one_call)

    await asyncio.gather(*(caller(i) for i in range(concurrency)))
    return timings


async def main(calls: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with embedded_stores(Path(tmp)) as (_, stores):
            await measure(stores, 50, 1)  # warm the pool and the plans
            alone = await measure(stores, calls, 1)
            together = await measure(stores, calls, concurrency)
    print(f"limiter + ledger per model call ({calls} calls, embedded PostgreSQL):")
    for label, timings in (("one caller", alone), (f"{concurrency} callers", together)):
        print(
            f"  {label:>10}: p50 {quantile(timings, 0.5):.1f} ms, "
            f"p99 {quantile(timings, 0.99):.1f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    configure_logging("WARNING")
    asyncio.run(main(args.calls, args.concurrency))
