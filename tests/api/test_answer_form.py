"""The review page's form comes from the question's schema, and reads back into the answer's
value; its context is laid out by shape, with a draft's changes marked word by word."""

from __future__ import annotations

import pytest
from starlette.datastructures import FormData

from api.answer_form import form_fields, place_errors, read_form
from api.question_view import context_view
from core.contracts.classify import confirmation_model
from core.contracts.draft_review import Review

pytestmark = pytest.mark.unit


def test_a_review_is_decision_buttons_and_text_areas() -> None:
    """The enum is the decision; optional strings are text areas labelled by name."""
    fields = form_fields(Review.model_json_schema())
    assert [(f.path, f.kind) for f in fields] == [
        ("decision", "decision"),
        ("feedback", "textarea"),
        ("edited_text", "textarea"),
    ]
    assert fields[0].options == ["approve", "revise", "reject"]
    assert fields[1].label == "Feedback"
    value = read_form(
        fields, FormData({"decision": "revise", "feedback": "Shorter.", "edited_text": ""})
    )
    assert value == {"decision": "revise", "feedback": "Shorter."}
    assert Review.model_validate(value).feedback == "Shorter."


def test_nested_labels_are_choices_preset_to_the_proposal() -> None:
    """`classify`'s confirmation: one choice per item, the model's label chosen already."""
    from core.contracts.classify import ClassifiedItem

    unsure = [ClassifiedItem(index=3, text="Money back?", label="refund", confidence=0.3)]
    schema = confirmation_model(unsure, ["billing", "refund"]).model_json_schema()
    [group] = form_fields(schema, {"labels": {"3": "refund"}})
    assert group.kind == "group"
    [choice] = group.children
    assert (choice.path, choice.kind, choice.default) == ("labels.3", "choice", "refund")
    assert choice.options == ["billing", "refund"]
    assert read_form([group], FormData({"labels.3": "billing"})) == {"labels": {"3": "billing"}}


def test_errors_land_beside_their_fields() -> None:
    fields = form_fields(Review.model_json_schema())
    loose = place_errors(
        fields,
        [
            {"loc": ["feedback"], "msg": "feedback is required to revise"},
            {"loc": [], "msg": "something about the whole answer"},
        ],
    )
    assert fields[1].error == "feedback is required to revise"
    assert loose == ["something about the whole answer"]


def test_a_second_draft_shows_what_changed_and_why() -> None:
    view = context_view(
        {
            "draft": "The picnic is on Saturday by the lake.",
            "previous_draft": "The picnic is on Saturday.",
            "feedback": "Say where.",
            "round": 2,
        }
    )
    assert view.feedback == "Say where."
    assert [(p.text, p.change) for p in view.draft or []] == [
        ("The picnic is on ", "same"),
        ("Saturday.", "removed"),
        ("Saturday by the lake.", "added"),
    ]
    assert view.other == [("round", "2")]


def test_a_tool_call_is_a_table_of_its_arguments() -> None:
    view = context_view(
        {"tool": "create_ticket", "arguments": {"title": "Printer", "priority": 2}, "why": "x"}
    )
    assert view.tool == "create_ticket"
    assert view.arguments == [("title", "Printer"), ("priority", "2")]
    assert view.other == [("why", "x")]
