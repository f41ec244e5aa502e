"""The OpenAPI schema, made precise where FastAPI alone cannot: a job start's body is one of
the job types, each with its own input schema, so what the schema accepts the route accepts
(the route validates with the same models, to name fields by their place in the body)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from core.jobs import JOB_TYPES

_REF = "#/components/schemas/{model}"


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            _precise_start_body(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _precise_start_body(schema: dict[str, Any]) -> None:
    components: dict[str, Any] = schema["components"]["schemas"]
    mapping = {}
    for job in JOB_TYPES.values():
        input_schema = job.input_model.model_json_schema(ref_template=_REF)
        components.update(input_schema.pop("$defs", {}))
        input_name = job.input_model.__name__
        components[input_name] = input_schema
        start_name = f"Start{input_name.removesuffix('Input')}"
        components[start_name] = {
            "type": "object",
            "title": f"Start a {job.name} job",
            "properties": {
                "type": {"type": "string", "enum": [job.name]},
                "input": {"$ref": _REF.format(model=input_name)},
                "options": {"$ref": _REF.format(model="JobOptions")},
            },
            "required": ["type", "input"],
            "additionalProperties": False,
        }
        mapping[job.name] = _REF.format(model=start_name)
    body = schema["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"] = {
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }
