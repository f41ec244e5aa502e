"""The `classify` job's contract: items and labels in, one checked label per item out, with the
items the model was unsure of confirmed by a person."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from core.contracts.human import OnTimeout
from core.contracts.job_type import JobProgress, JobType
from core.contracts.llm import ChatMessage, TokenUsage
from core.contracts.options import WithOptions
from core.contracts.plan import JobInput, JobPlan
from core.contracts.structured import StructuredRequest
from core.contracts.text import StorableText

# Every item travels in the workflow's input: this keeps it under Temporal's payload limit.
MAX_TOTAL_CHARS = 1_000_000

Label = Field(min_length=1, max_length=100)


class ClassifyInput(JobInput):
    """What a caller sends to start a `classify` job."""

    model_config = ConfigDict(extra="forbid")

    items: list[StorableText] = Field(min_length=1, max_length=500, description="Texts to label.")
    labels: list[StorableText] = Field(
        min_length=2, max_length=50, description="The labels to choose from, each once."
    )
    instructions: StorableText | None = Field(None, max_length=5000)
    confirm_below: float = Field(
        0.0, ge=0, le=1, description="Items answered with less confidence go to a person."
    )
    model: StorableText | None = Field(None, min_length=1, max_length=200)
    confirm_timeout_s: int = Field(86_400, ge=60, le=30 * 86_400)
    on_confirm_timeout: Literal["accept", "fail", "escalate"] = Field(
        "accept",
        description="keep the model's labels, fail the job, or notify and wait once more.",
    )
    max_repairs: int = Field(
        2, ge=0, le=5, description="Repairs after an answer that misfits; each counts as a call."
    )

    @field_validator("items")
    @classmethod
    def _items_fit(cls, items: list[str]) -> list[str]:
        if any(not item.strip() for item in items):
            raise ValueError("every item needs some text")
        if sum(len(item) for item in items) > MAX_TOTAL_CHARS:
            raise ValueError(f"the items hold more than {MAX_TOTAL_CHARS:,} characters")
        return items

    @field_validator("labels")
    @classmethod
    def _labels_unique(cls, labels: list[str]) -> list[str]:
        if any(not label.strip() or len(label) > 100 for label in labels):
            raise ValueError("each label has 1 to 100 characters")
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be unique")
        return labels

    def plan(self) -> JobPlan:
        calls = len(self.items) * (1 + self.max_repairs)
        return JobPlan(
            model_calls=calls,
            explanation=f"{len(self.items)} items, each with up to {self.max_repairs} repairs "
            "(max_repairs)",
        )

    def request(self, item: str) -> StructuredRequest:
        """The one call that labels `item`: at temperature 0, so the cross-run cache applies."""
        system = (
            "Classify the user's text with exactly one of these labels: "
            f"{', '.join(self.labels)}. Reply with JSON only: the label and your confidence "
            "from 0 to 1." + (f"\n\n{self.instructions}" if self.instructions else "")
        )
        return StructuredRequest(
            messages=[
                ChatMessage(role="system", content=system),
                ChatMessage(role="user", content=item),
            ],
            json_schema={
                "type": "object",
                "properties": {
                    "label": {"enum": self.labels},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                },
                "required": ["label", "confidence"],
                "additionalProperties": False,
            },
            model=self.model,
            temperature=0.0,
        )

    def on_timeout(self, unsure: list[ClassifiedItem]) -> OnTimeout:
        """What a `confirm` question nobody answered in time comes to."""
        if self.on_confirm_timeout == "accept":
            proposed = {str(item.index): item.label for item in unsure}
            return OnTimeout(action="default", default={"labels": proposed})
        return OnTimeout(action=self.on_confirm_timeout)


class ClassifyRun(ClassifyInput, WithOptions):
    """The workflow's input: the caller's, plus the job's options."""


class ClassifiedItem(BaseModel):
    index: int
    text: str
    label: str
    confidence: float
    # Who confirmed or corrected the label; None when the model's label stands.
    confirmed_by: str | None = None


class Confirmation(BaseModel):
    """The answer to `confirm`: a label for every listed item, by index."""

    model_config = ConfigDict(extra="forbid")
    listed: ClassVar[tuple[str, ...]] = ()

    labels: dict[str, str]

    @model_validator(mode="after")
    def _every_listed(self) -> Confirmation:
        if missing := [index for index in self.listed if index not in self.labels]:
            raise ValueError(f"give a label for every listed item; missing: {', '.join(missing)}")
        return self


def confirmation_model(unsure: list[ClassifiedItem], labels: list[str]) -> type[Confirmation]:
    """The answer schema for these items: only their indices, only the job's labels."""
    indices = tuple(str(item.index) for item in unsure)
    keys: Any = Literal[indices]
    values: Any = Literal[tuple(labels)]
    model = create_model(
        "Confirmation",
        __base__=Confirmation,
        labels=(dict[keys, values], Field(description="The label of each listed item.")),
    )
    model.listed = indices
    return model


class ClassifyProgress(JobProgress):
    stage: Literal["classifying", "confirming", "done"] = "classifying"


class ClassifyResult(BaseModel):
    items: list[ClassifiedItem]
    models: list[str] = Field(default_factory=list)
    usage: TokenUsage


CLASSIFY = JobType(
    name="classify",
    workflow_type="ClassifyWorkflow",
    input_model=ClassifyInput,
    description="Label each item with one of the given labels (structured calls at "
    "temperature 0, batched); a person confirms the items the model was unsure of.",
    accepts_input=True,
)
