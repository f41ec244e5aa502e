"""What a job will cost at most, known before it starts: the API refuses what is too big."""

from __future__ import annotations

from pydantic import BaseModel


class JobPlan(BaseModel):
    model_calls: int
    # How the count comes about, for the error message: "5,000 chunks and 5,001 combines".
    explanation: str


class JobInput(BaseModel):
    """The base of every job type's input: it says what the job may cost before it starts."""

    def plan(self) -> JobPlan:
        raise NotImplementedError(f"{type(self).__name__} must say how many calls it plans")
