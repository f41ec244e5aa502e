"""The `summarize` job: split a long text, summarize chunks in parallel, combine the partials."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio import workflow
from temporalio.contrib.workflow_streams import WorkflowStream

from workflows.events import EventLog, record_final_progress
from workflows.llm_step import ask_model, ask_model_batch, check_budget

with workflow.unsafe.imports_passed_through():
    from core.chunking import combine_fan_in, group_for_combine, plan_combine, split_text
    from core.contracts.llm import BatchedChat, ChatMessage, ChatRequest, ChatResult
    from core.contracts.summarize import (
        Stage,
        SummarizeInput,
        SummarizeProgress,
        SummarizeResult,
        SummarizeRun,
    )
    from core.events import StageEvent, StepCompletedEvent


Done = TypeVar("Done")

# Patch id: runs begun before the combine tree was planned up front keep their grouping.
PLANNED_COMBINE = "planned-combine-tree"
# Patch id: runs begun before over-long sentences were packed by words keep their chunks.
PACKED_CHUNKS = "packed-chunks"
# Design 1 (core.contracts.options.DESIGN): the patches above are decided by the input, and
# the calls of a level run as batches, one activity each.
BATCHED = 1
# Calls per batch activity: its input and result stay far below Temporal's payload limit.
BATCH_CALLS = 32
# A batch holds one worker slot and at most this many calls in flight: a slot stands for a
# few calls (AIJOBS_MAX_CONCURRENT_ACTIVITIES bounds calls within this factor), and owners'
# fair shares of slots stay fair shares of calls. A job's max_parallel runs as lanes.
CALLS_PER_SLOT = 4


@workflow.defn(name="SummarizeWorkflow")
class SummarizeWorkflow:
    """Map-reduce summary. Every model call is an activity; this code only decides their order."""

    @workflow.init
    def __init__(self, input: SummarizeRun) -> None:
        self._input = input
        self._batched = input.design >= BATCHED
        self._progress = SummarizeProgress()
        self.events = EventLog(to_database=True) if self._batched else EventLog(WorkflowStream())
        # The model label for the UI; learned from the first answer when the input names none.
        self._model_label = input.model
        self._models_used: set[str] = set()

    @workflow.query(name="progress")
    def progress(self) -> SummarizeProgress:
        return self._progress

    @workflow.run
    async def run(self, input: SummarizeRun) -> SummarizeResult:
        return await self.events.report(lambda: self._summarize(input))

    async def _summarize(self, input: SummarizeRun) -> SummarizeResult:
        packed = self._batched or workflow.patched(PACKED_CHUNKS)
        chunks = split_text(input.text, input.chunk_chars, packed=packed)
        plan: list[list[int]] | None = None
        if self._batched or workflow.patched(PLANNED_COMBINE):
            plan = plan_combine(len(chunks), combine_fan_in(input.chunk_chars, input.max_words))
        # With a plan, the total is known now and never changes: progress only moves forward.
        planned = sum(len(level) for level in plan or [])
        self._enter("summarizing", total=len(chunks) + planned)
        workflow.logger.info("summarize.split", extra={"chunks": len(chunks)})

        limit = asyncio.Semaphore(input.max_parallel)
        prompts = [_chunk_prompt(chunk, i, len(chunks), input) for i, chunk in enumerate(chunks)]
        steps = [f"chunk-{i + 1}" for i in range(len(chunks))]
        partials = await self._level(
            steps, prompts, limit, "chunks", lambda n, count: f"summarize chunk {n}/{count}"
        )
        summary = partials[0].text
        if len(partials) > 1:
            self._enter("combining", total=self._progress.total)
            parts = [p.text for p in partials]
            if plan is None:
                summary = await self._combine(parts, limit)
            else:
                summary = await self._combine_planned(parts, plan, limit)

        self._enter("done", total=self._progress.total)
        record_final_progress(self._progress, unpatched=self._batched)
        return SummarizeResult(
            summary=summary,
            chunk_count=len(chunks),
            model=partials[0].model,
            models=sorted(self._models_used),
            usage=self._progress.usage,
        )

    async def _combine_planned(
        self, parts: list[str], plan: list[list[int]], limit: asyncio.Semaphore
    ) -> str:
        """Combine partial summaries level by level, in the groups planned up front."""
        for level, sizes in enumerate(plan, start=1):
            groups, start = [], 0
            for size in sizes:
                groups.append(parts[start : start + size])
                start += size
            parts = await self._combine_level(groups, level, limit)
        return parts[0]

    async def _combine(self, parts: list[str], limit: asyncio.Semaphore) -> str:
        """Runs from before PLANNED_COMBINE: group by the partials' lengths as they arrive."""
        level = 1
        while len(parts) > 1:
            groups = group_for_combine(parts, self._input.chunk_chars)
            self._progress.total += len(groups)
            self._show()
            parts = await self._combine_level(groups, level, limit)
            level += 1
        return parts[0]

    async def _combine_level(
        self, groups: list[list[str]], level: int, limit: asyncio.Semaphore
    ) -> list[str]:
        """One combine call per group, in parallel under the fan-out limit."""
        prompts = [_combine_prompt(group, self._input) for group in groups]
        steps = [f"combine-{level}-{index + 1}" for index in range(len(groups))]
        results = await self._level(
            steps,
            prompts,
            limit,
            f"combine level {level} groups",
            lambda n, count: f"combine level {level} · group {n}/{count}",
        )
        return [r.text for r in results]

    async def _level(
        self,
        steps: list[str],
        prompts: list[ChatRequest],
        limit: asyncio.Semaphore,
        what: str,
        label: Callable[[int, int], str],
    ) -> list[ChatResult]:
        """One level's independent calls: as batches on design 1 when there are several, else
        each its own activity under the fan-out limit (a level of one call is the last, and
        streams). `label(n, count)` names call n in the Temporal UI."""
        calls = list(zip(steps, prompts, strict=True))
        if self._batched and len(calls) > 1:
            return await self._batches(calls, what)
        return await _all_or_nothing(
            [
                self._call(limit, prompt, step, label(n, len(calls)), final=len(calls) == 1)
                for n, (step, prompt) in enumerate(calls, start=1)
            ]
        )

    async def _batches(self, calls: list[tuple[str, ChatRequest]], what: str) -> list[ChatResult]:
        """Independent calls as batch activities: `max_parallel` calls at a time in lanes of
        CALLS_PER_SLOT, each lane running its share as batches of at most BATCH_CALLS, one
        after another. The activity writes each call's `step_completed` event as it lands;
        progress moves here once per batch."""
        in_flight = min(self._input.max_parallel, len(calls))
        lanes = -(-in_flight // CALLS_PER_SLOT)
        share, parallel = -(-len(calls) // lanes), -(-in_flight // lanes)
        done = await _all_or_nothing(
            [
                self._lane(calls, first, min(first + share, len(calls)), parallel, what)
                for first in range(0, len(calls), share)
            ]
        )
        return [result for lane in done for result in lane]

    async def _lane(
        self,
        calls: list[tuple[str, ChatRequest]],
        start: int,
        end: int,
        parallel: int,
        what: str,
    ) -> list[ChatResult]:
        options = self._input.options
        results: list[ChatResult] = []
        for first in range(start, end, BATCH_CALLS):
            batch = calls[first : min(first + BATCH_CALLS, end)]
            # Checked as each batch starts; the batch itself stops starting calls at the limit.
            check_budget(options, self._progress.usage)
            label = f"summarize {what} {first + 1}-{first + len(batch)}/{len(calls)}"
            model = self._model_label
            answers = await ask_model_batch(
                [BatchedChat(part=step, request=self._prepared(req)) for step, req in batch],
                parallel=parallel,
                options=options,
                spent_usd=self._progress.usage.cost_usd or 0.0,
                summary=f"{label} · {model}" if model else label,
                events=self.events,
            )
            for answer in answers:
                self._count(answer)
            self._show()
            results.extend(answers)
        return results

    def _prepared(self, request: ChatRequest, step: str | None = None) -> ChatRequest:
        # A faithful summary wants no sampling; at temperature 0 the answer is also cacheable.
        update: dict[str, object] = {"temperature": 0.0, "cache": self._input.options.cache}
        if step is not None:
            update["step"] = step
        return request.model_copy(update=update)

    def _count(self, result: ChatResult) -> None:
        self._models_used.add(result.model)
        self._model_label = self._model_label or result.model
        self._progress.completed += 1
        self._progress.usage = self._progress.usage + result.usage

    async def _call(
        self, limit: asyncio.Semaphore, request: ChatRequest, step: str, label: str, *, final: bool
    ) -> ChatResult:
        """One model call under the fan-out limit. Only the call that writes the final summary
        streams its tokens: partials run side by side, and their text would interleave."""
        request = self._prepared(request, step if final else None)
        async with limit:
            # Checked as each call starts: the calls already in flight may finish.
            check_budget(self._input.options, self._progress.usage)
            model = self._model_label
            result = await ask_model(
                request,
                f"{label} · {model}" if model else label,
                self._input.options.fallback_models,
                self.events,
            )
        self._count(result)
        self.events.publish(
            StepCompletedEvent(
                step=step,
                input_tokens=result.usage.input_tokens,
                output_tokens=result.usage.output_tokens,
                source=result.source,
            )
        )
        self._show()
        return result

    def _enter(self, stage: Stage, total: int) -> None:
        self._progress.stage = stage
        self._progress.total = total
        self._show()

    def _show(self) -> None:
        """Keep the event stream and the Temporal UI's details in step with the progress query."""
        p = self._progress
        self.events.publish(StageEvent(stage=p.stage, completed=p.completed, total=p.total))
        model = f" · {self._model_label}" if self._model_label else ""
        workflow.set_current_details(
            f"**{p.stage}** · {p.completed}/{p.total} calls{model} · {p.usage.shown()}"
        )


async def _all_or_nothing(calls: list[Awaitable[Done]]) -> list[Done]:
    """Await every call; on the first failure cancel the rest so no model is paid for nothing."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


def _chunk_prompt(chunk: str, index: int, count: int, job: SummarizeInput) -> ChatRequest:
    max_words = job.max_words
    where = f" It is part {index + 1} of {count} of a longer document." if count > 1 else ""
    return ChatRequest(
        messages=[
            ChatMessage(
                role="system",
                content=(
                    f"Summarize the user's text faithfully in at most {max_words} words.{where} "
                    "Reply with the summary only."
                ),
            ),
            ChatMessage(role="user", content=chunk),
        ],
        model=job.model,
        max_output_tokens=max_words * 2 + 64,
    )


def _combine_prompt(parts: list[str], job: SummarizeInput) -> ChatRequest:
    max_words = job.max_words
    return ChatRequest(
        messages=[
            ChatMessage(
                role="system",
                content=(
                    "The user's message holds summaries of consecutive parts of one document, "
                    "separated by blank lines. Combine them into one summary of at most "
                    f"{max_words} words. Reply with the summary only."
                ),
            ),
            ChatMessage(role="user", content="\n\n".join(parts)),
        ],
        model=job.model,
        max_output_tokens=max_words * 2 + 64,
    )
