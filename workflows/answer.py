"""The `answer` job: retrieve, then answer from the passages alone, with every citation
checked against the passage it quotes; an honest `grounded: false` when they do not answer."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.job import JobWorkflow
from workflows.model_calls import job_owner

with workflow.unsafe.imports_passed_through():
    from core.contracts.answer import (
        ANSWER_REPAIRS,
        ANSWER_SCHEMA,
        RETRIEVE_PASSAGES,
        AnswerProgress,
        AnswerResult,
        AnswerRun,
        Citation,
        Retrieved,
        RetrievedPassage,
        RetrieveRequest,
    )
    from core.contracts.llm import ChatMessage
    from core.contracts.structured import StructuredRequest
    from core.events import RetrievedEvent, TokenEvent
    from core.grounding import checked_citations, extractive_answer

OFFLINE_MODEL = "offline"
NOT_FOUND = "The documents in this collection do not answer the question."


@workflow.defn(name="AnswerWorkflow")
class AnswerWorkflow(JobWorkflow[AnswerRun, AnswerProgress, AnswerResult]):
    async def steps(self, input: AnswerRun) -> AnswerResult:
        self.show("retrieving", total=2)
        retrieved: Retrieved = await workflow.execute_activity(
            RETRIEVE_PASSAGES,
            RetrieveRequest(
                owner=job_owner() or "",
                collection=input.collection,
                question=input.question,
                top_k=input.top_k,
                recording=self.reuse(),
            ),
            result_type=Retrieved,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=5),
            summary=f"retrieve {input.top_k} passages from {input.collection}",
        )
        passages = retrieved.passages
        chunk_ids = [p.chunk_id for p in passages]
        self.progress.usage = self.progress.usage + retrieved.usage
        self.events.publish(
            RetrievedEvent(step="retrieve", chunk_ids=chunk_ids, took_ms=retrieved.took_ms)
        )
        self.show("answering", completed=1, chunk_ids=chunk_ids)
        model = input.model or retrieved.default_model
        if not passages:
            return self._result(NOT_FOUND, [], False, 0, chunk_ids, model)
        if model == OFFLINE_MODEL:
            # The offline model answers extractively: the passages' own sentences, cited.
            text, citations = extractive_answer(input.question, passages)
            if not citations:
                return self._result(NOT_FOUND, [], False, 0, chunk_ids, model)
            self.events.publish(TokenEvent(step="answer", text=text))
            return self._result(text, citations, True, 0, chunk_ids, model)
        answer = await self.ask_data(
            _request(input, passages), "answer", "answer from the passages", ANSWER_REPAIRS
        )
        data = answer.data if isinstance(answer.data, dict) else {}
        citations, dropped = checked_citations(data.get("citations") or [], passages)
        # Grounded only if the model says so and at least one citation holds.
        grounded = bool(data.get("grounded")) and bool(citations)
        text = str(data.get("answer") or "") if grounded else NOT_FOUND
        return self._result(text, citations, grounded, dropped, chunk_ids, answer.model)

    def _result(
        self,
        text: str,
        citations: list[Citation],
        grounded: bool,
        dropped: int,
        chunk_ids: list[int],
        model: str,
    ) -> AnswerResult:
        self.models.add(model)
        return AnswerResult.model_validate(
            {
                "answer": text,
                "citations": citations,
                "grounded": grounded,
                "dropped_citations": dropped,
                "chunk_ids": chunk_ids,
                "model": model,
                "usage": self.progress.usage,
            }
        )


def _request(input: AnswerRun, passages: list[RetrievedPassage]) -> StructuredRequest:
    numbered = "\n\n".join(
        f"[chunk {p.chunk_id}] {p.document}"
        + (f" > {' > '.join(p.headings)}" if p.headings else "")
        + f"\n{p.text}"
        for p in passages
    )
    length = f" Answer in at most {input.max_words} words." if input.max_words else ""
    system = (
        "Answer the question from the passages below and nothing else. Cite every claim with "
        "the chunk number and a quote copied word for word from that passage. If the passages "
        "do not answer the question, set grounded to false and say so in the answer." + length
    )
    return StructuredRequest(
        messages=[
            ChatMessage(role="system", content=system),
            ChatMessage(role="user", content=f"{numbered}\n\nQuestion: {input.question}"),
        ],
        json_schema=ANSWER_SCHEMA,
        model=input.model,
        stream_field="answer",
    )
