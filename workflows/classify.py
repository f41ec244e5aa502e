"""The `classify` job: one label per item from a fixed set; a person confirms the unsure ones."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.job import JobWorkflow, require_valid

with workflow.unsafe.imports_passed_through():
    from core.contracts.classify import (
        ClassifiedItem,
        ClassifyProgress,
        ClassifyResult,
        ClassifyRun,
        confirmation_model,
    )


@workflow.defn(name="ClassifyWorkflow")
class ClassifyWorkflow(JobWorkflow[ClassifyRun, ClassifyProgress, ClassifyResult]):
    """Every item is one schema-checked model call, run in batches; the job decides only what
    a person must look at."""

    async def steps(self, input: ClassifyRun) -> ClassifyResult:
        self.show("classifying", total=len(input.items))
        calls = [(f"item-{i}", input.request(text)) for i, text in enumerate(input.items)]
        answers = await self.ask_data_batch(
            calls, "classify items", max_repairs=input.max_repairs, advance=True
        )
        items = [
            ClassifiedItem(index=i, text=text, **require_valid(answer, input.max_repairs).data)
            for i, (text, answer) in enumerate(zip(input.items, answers, strict=True))
        ]
        unsure = [item for item in items if item.confidence < input.confirm_below]
        if unsure:
            self.show("confirming")
            answer, record = await self.ask_human(
                "confirm",
                f"Confirm or correct the labels of the {len(unsure)} items the model was "
                f"unsure of (confidence below {input.confirm_below:g}).",
                confirmation_model(unsure, input.labels),
                within=timedelta(seconds=input.confirm_timeout_s),
                on_timeout=input.on_timeout(unsure),
                context={
                    "labels": input.labels,
                    "items": [item.model_dump(exclude={"confirmed_by"}) for item in unsure],
                },
            )
            # A label kept by the timeout policy was confirmed by nobody.
            confirmed_by = None if record.via == "timeout" else record.answered_by
            for item in unsure:
                item.label, item.confirmed_by = answer.labels[str(item.index)], confirmed_by
        return ClassifyResult(items=items, models=sorted(self.models), usage=self.progress.usage)
