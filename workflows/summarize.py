"""The `summarize` job: split a long text, summarize chunks in parallel, combine the partials."""

from __future__ import annotations

from temporalio import workflow

from workflows.job import JobWorkflow

with workflow.unsafe.imports_passed_through():
    from core.chunking import combine_fan_in, plan_combine, split_text
    from core.contracts.llm import ChatMessage, ChatRequest
    from core.contracts.summarize import SummarizeProgress, SummarizeResult, SummarizeRun


@workflow.defn(name="SummarizeWorkflow")
class SummarizeWorkflow(JobWorkflow[SummarizeRun, SummarizeProgress, SummarizeResult]):
    """Map-reduce summary. Every model call is an activity; this code only decides their order."""

    async def steps(self, input: SummarizeRun) -> SummarizeResult:
        chunks = split_text(input.text, input.chunk_chars)
        # The combine tree is planned up front, so the total is known now and never changes.
        plan = plan_combine(len(chunks), combine_fan_in(input.chunk_chars, input.max_words))
        self.show("summarizing", total=len(chunks) + sum(len(level) for level in plan))
        workflow.logger.info("summarize.split", extra={"chunks": len(chunks)})
        asked = [
            (f"chunk-{i + 1}", _chunk_prompt(chunk, i, len(chunks), input))
            for i, chunk in enumerate(chunks)
        ]
        partials = await self.ask_batch(asked, "summarize chunks", input.max_parallel, advance=True)
        parts = [p.text for p in partials]
        if plan:
            self.show("combining")
        for level, sizes in enumerate(plan, start=1):
            groups, start = [], 0
            for size in sizes:
                groups.append(parts[start : start + size])
                start += size
            asked = [
                (f"combine-{level}-{n}", _combine_prompt(group, input))
                for n, group in enumerate(groups, start=1)
            ]
            label = f"combine level {level}"
            combined = await self.ask_batch(asked, label, input.max_parallel, advance=True)
            parts = [c.text for c in combined]
        return SummarizeResult(
            summary=parts[0],
            chunk_count=len(chunks),
            model=partials[0].model,
            models=sorted(self.models),
            usage=self.progress.usage,
        )


def _prompt(system: str, text: str, job: SummarizeRun) -> ChatRequest:
    # A faithful summary wants no sampling; at temperature 0 the answer is also cacheable.
    return ChatRequest(
        messages=[
            ChatMessage(role="system", content=f"{system} Reply with the summary only."),
            ChatMessage(role="user", content=text),
        ],
        model=job.model,
        max_output_tokens=job.max_words * 2 + 64,
        max_words=job.max_words,
        temperature=0.0,
    )


def _chunk_prompt(chunk: str, index: int, count: int, job: SummarizeRun) -> ChatRequest:
    where = f" It is part {index + 1} of {count} of a longer document." if count > 1 else ""
    system = f"Summarize the user's text faithfully in at most {job.max_words} words.{where}"
    return _prompt(system, chunk, job)


def _combine_prompt(parts: list[str], job: SummarizeRun) -> ChatRequest:
    system = (
        "The user's message holds summaries of consecutive parts of one document, separated "
        f"by blank lines. Combine them into one summary of at most {job.max_words} words."
    )
    return _prompt(system, "\n\n".join(parts), job)
