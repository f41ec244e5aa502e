"""Model calls: what a workflow asks of the `complete_chat` and `complete_agent_step` activities."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from core.contracts.recording import Recording

# Activity type names: part of the public contract, recorded in every history.
COMPLETE_CHAT = "complete_chat"
COMPLETE_CHATS = "complete_chats"
COMPLETE_AGENT_STEP = "complete_agent_step"


# Error types after which a call moves to the next model at once: that model cannot answer.
MODEL_UNAVAILABLE = "ModelUnavailable"
PERMANENT_MODEL_ERRORS = frozenset(
    {"ModelNotFound", "InvalidRequest", "UnprocessableRequest", MODEL_UNAVAILABLE}
)

# A job's max_cost_usd is reached: no further model call starts.
BUDGET_EXCEEDED = "BudgetExceeded"

CachePolicy = Literal["use", "refresh", "off"]
# parent: a rerun took its parent's record of the step; recording: strict replay did.
AnswerSource = Literal["model", "cache", "journal", "parent", "recording"]


class TokenUsage(BaseModel):
    """Tokens billed, summed over calls."""

    input_tokens: int = 0
    output_tokens: int = 0
    llm_calls: int = 0
    # Dollars; None once any call was to a model without a known price (never a guess).
    cost_usd: float | None = 0.0
    # Answers served from the response cache (no model call), and what they would have cost.
    cache_hits: int = 0
    # Steps taken from a parent job or a recording (no model call), and what every answer
    # that needed no model call (a cache hit, a reused step) would have cost.
    reused: int = 0
    saved_cost_usd: float = 0.0

    def shown(self) -> str:
        """For the Temporal UI's details: `18,230 tokens · $0.0031`."""
        cost = "cost unknown" if self.cost_usd is None else f"${self.cost_usd:.4f}"
        hits = f" · {self.cache_hits} cache hits" if self.cache_hits else ""
        reused = f" · {self.reused} reused" if self.reused else ""
        return f"{self.input_tokens + self.output_tokens:,} tokens · {cost}{hits}{reused}"

    def __add__(self, other: TokenUsage) -> TokenUsage:
        cost = (
            None
            if self.cost_usd is None or other.cost_usd is None
            else round(self.cost_usd + other.cost_usd, 9)
        )
        return TokenUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            llm_calls=self.llm_calls + other.llm_calls,
            cost_usd=cost,
            cache_hits=self.cache_hits + other.cache_hits,
            reused=self.reused + other.reused,
            saved_cost_usd=round(self.saved_cost_usd + other.saved_cost_usd, 9),
        )


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    messages: list[ChatMessage] = Field(min_length=1)
    # None means the worker's default model (AIJOBS_MODEL), or `offline` when none is configured.
    model: str | None = None
    # Caps spend; the offline model writes at most half this many words.
    max_output_tokens: int | None = Field(default=None, gt=0)
    # The length the prompt asks for, in words: the offline model writes at most this many.
    # Not sent to a real model (the prompt says it), so it changes no cache key.
    max_words: int | None = Field(default=None, gt=0)
    # Names the step in the job's event stream; tokens are streamed there when it is set.
    step: str | None = None
    # Whose spend this is, for the ledger; the workflow fills it from JobOwner.
    owner: str | None = None
    # None: the provider's default. 0 makes the call cacheable by default.
    temperature: float | None = Field(default=None, ge=0, le=2)
    # The job's cache option; None picks `use` at temperature 0 and `off` otherwise.
    cache: CachePolicy | None = None
    # Another model follows if this one fails: skip it at once while it fails everywhere.
    fail_fast: bool = False
    # Where the step may be answered from instead of the model (a rerun, a replay).
    recording: Recording | None = None


class ChatResult(BaseModel):
    text: str
    # The model that actually answered, as the server reports it.
    model: str
    usage: TokenUsage
    # Where the answer came from: the model, the cross-run cache, or this step's journal.
    source: AnswerSource = "model"
    # For a call with a JSON Schema: the parsed answer when it fits, else why it does not.
    data: Any = None
    errors: list[str] = Field(default_factory=list)


class BatchedChat(BaseModel):
    """One call of a batch. `part` names it within the run: its journal entry and its
    `step_completed` event, so a retry or a fallback asks only the parts still unanswered."""

    part: str = Field(min_length=1)
    request: ChatRequest
    # Set: the answer must be JSON fitting this schema, checked (never retried) like
    # `complete_structured`; the result says where it does not fit.
    json_schema: dict[str, Any] | None = None


class ChatBatch(BaseModel):
    """Independent model calls run by one activity, at most `parallel` at a time: three
    history events for the lot instead of three per call."""

    calls: list[BatchedChat] = Field(min_length=1)
    parallel: int = Field(ge=1)
    # The job's max_cost_usd and what it spent before this batch: no call of the batch starts
    # once the two spends together reach the limit.
    max_cost_usd: float | None = None
    spent_usd: float = 0.0
    # An earlier activity of this run may have answered some parts (this batch follows a
    # fallback): look them up first. A first try has nothing to look up.
    may_be_answered: bool = False


class ChatBatchResult(BaseModel):
    results: list[ChatResult]


class ProposedCall(BaseModel):
    """A tool call as the model proposed it: nothing here is trusted yet."""

    id: str
    name: str
    arguments: str


class AgentStepRequest(BaseModel):
    """One model step. The activity stores `append` at positions start.., asks the model with
    the whole stored conversation, and stores the model's reply right after: the reply's
    tool-call arguments reach history once (in the result), never again in the next input
    (unless storing the reply failed; see AgentStepResult.stored)."""

    conversation_id: str
    start: int = Field(ge=0)
    append: list[dict[str, Any]]
    tools: list[str]
    model: str | None = None
    max_output_tokens: int = Field(1000, gt=0)
    # Names the step in the job's event stream; tokens are streamed there when it is set.
    step: str | None = None
    # Whose spend this is, for the ledger; the workflow fills it from JobOwner.
    owner: str | None = None
    cache: CachePolicy | None = None
    fail_fast: bool = False
    recording: Recording | None = None


class AgentStepResult(BaseModel):
    content: str | None
    tool_calls: list[ProposedCall]
    model: str
    usage: TokenUsage
    source: AnswerSource = "model"
    # False when the reply could not be stored after the model answered: the answer is paid
    # for and returned anyway, and the workflow sends it along with the next step instead.
    stored: bool = True


def assistant_message(content: str | None, calls: list[ProposedCall]) -> dict[str, Any]:
    """The model's turn as Chat Completions wants it back in the conversation."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in calls
        ]
    return message
