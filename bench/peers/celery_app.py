"""The Celery + Redis row of bench/compare.py: the same map-reduce job as a chord of four
model calls and a reduce call, on a thread pool, as this field's usual tutorial builds it."""

from __future__ import annotations

import os

import openai
from celery import Celery

app = Celery(
    "aijobs-bench",
    broker=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
    backend=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
)
app.conf.update(task_acks_late=True, worker_prefetch_multiplier=4, result_expires=600)
_client = openai.OpenAI(
    base_url=os.environ.get("BENCH_MODEL_URL"), api_key="sk-bench", max_retries=2
)


def _ask(prompt: str) -> str:
    reply = _client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": prompt}]
    )
    return reply.choices[0].message.content or ""


@app.task
def call_model(prompt: str) -> str:
    return _ask(prompt)


@app.task
def reduce_parts(parts: list[str]) -> str:
    return _ask("Combine: " + " | ".join(parts))
