"""Checking model output against a schema, and the offline model's schema-valid answers."""

from __future__ import annotations

from jsonschema import Draft202012Validator

from activities.structured_output import check, offline_instance

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "kind": {"enum": ["person", "company"]},
    },
    "required": ["name", "age"],
}


def test_fitting_json_passes_and_a_fence_is_tolerated() -> None:
    """Valid JSON that fits returns the data; a ```json fence around it is not a failure."""
    assert check('{"name": "Ada", "age": 36}', SCHEMA) == ({"name": "Ada", "age": 36}, [])
    assert check('```json\n{"name": "Ada", "age": 36}\n```', SCHEMA)[1] == []


def test_misfits_say_where_and_why() -> None:
    """Each error names its path and the rule it breaks; not-JSON says where parsing stopped."""
    data, errors = check('{"name": 5, "age": "x"}', SCHEMA)
    assert data is None
    assert errors == ["age: 'x' is not of type 'integer'", "name: 5 is not of type 'string'"]
    assert check("nope", SCHEMA)[1][0].startswith("not valid JSON: Expecting value at line 1")


def test_the_offline_answer_always_fits() -> None:
    """Filled from the text where it can (the sentence naming a field, the first number)."""
    text = "Her name is Ada Lovelace and more.\nShe was 36 years old."
    instance = offline_instance(SCHEMA, text)
    assert not list(Draft202012Validator(SCHEMA).iter_errors(instance))
    assert instance["age"] == 36
    assert instance["kind"] == "person"
