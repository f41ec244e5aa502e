"""The job SDK's side of reruns and strict replay: which steps may still come from the
parent's records (or the recording), decided here so every job module gets it unchanged."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.contracts.human import AnswerRecord
    from core.contracts.recording import Recording

TAKEN = frozenset({"parent", "recording"})


class Reuse:
    """A rerun without `from_step` takes its parent's steps while they ask exactly what the
    parent asked, and runs fresh from the first that differs; a fork takes every step the
    parent finished before `from_step` started; a replay takes every step or fails."""

    def __init__(self) -> None:
        self.recording: Recording | None = None
        self._diverged = False

    def reuse(self) -> Recording | None:
        """What the next step's request carries: where it may be answered from, if anywhere."""
        if self.recording is None or (self.recording.mode == "identical" and self._diverged):
            return None
        return self.recording

    def took(self, source: str) -> None:
        """A step ended, answered from `source`: one that ran fresh ends an identical run."""
        if source not in TAKEN:
            self._diverged = True

    def reused_answer(self, step: str) -> AnswerRecord | None:
        """The parent's answer to the question asked at `step`, if the rerun reuses it."""
        recording = self.reuse()
        if recording is None:
            return None
        found = recording.answers.get(step)
        return None if found is None else found.model_copy(update={"via": "parent"})
