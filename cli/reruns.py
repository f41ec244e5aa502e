"""`aijobs rerun`, `aijobs steps` and `aijobs cassette ...`: rerun a job from a step with
edits, list its steps, and carry its recorded answers between deployments."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cli.client import ApiClient, CliError


def add_commands(commands: Any) -> None:
    """The `rerun`, `steps` and `cassette` commands, on the CLI's subparsers."""
    rerun = commands.add_parser("rerun", help="rerun a job, reusing its steps before --from")
    rerun.add_argument("id")
    rerun.add_argument("--from", dest="from_step", help="the step to run fresh from")
    rerun.add_argument(
        "--set",
        dest="edits",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="input.NAME=VALUE or options.NAME=VALUE (VALUE as JSON, else text); repeatable",
    )
    rerun.add_argument(
        "--reuse-answers", action="store_true", help="take people's answers to the parent"
    )
    rerun.add_argument("--idempotency-key")
    commands.add_parser("steps", help="list a job's steps").add_argument("id")
    cassette = commands.add_parser("cassette", help="export or import recorded answers")
    actions = cassette.add_subparsers(dest="action", required=True, parser_class=type(cassette))
    actions.add_parser("export", help="print a job's cassette (JSON)").add_argument("id")
    actions.add_parser("import", help="import a cassette file; prints its id").add_argument(
        "file", type=Path
    )


def run(args: argparse.Namespace, api: ApiClient) -> int:
    if args.command == "rerun":
        body: dict[str, Any] = {"input": {}, "options": {}, "reuse_answers": args.reuse_answers}
        if args.from_step:
            body["from_step"] = args.from_step
        for edit in args.edits:
            where, name, value = _edit(edit)
            body[where][name] = value
        headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else {}
        job = api.request("POST", f"/v1/jobs/{args.id}/rerun", json=body, headers=headers)
        print(job["id"])
    elif args.command == "steps":
        for step in api.request("GET", f"/v1/jobs/{args.id}/steps")["steps"]:
            tokens = step["input_tokens"] + step["output_tokens"]
            print(
                f"{step['name']:<24} {step['kind']:<10} {step['source']:<9} "
                f"{step['model'] or '-':<20} {tokens:>7} tokens"
            )
    elif args.action == "export":
        json.dump(api.request("GET", f"/v1/jobs/{args.id}/cassette"), sys.stdout, indent=1)
        print()
    else:
        try:
            cassette = json.loads(args.file.read_text())
        except (OSError, ValueError) as err:
            raise CliError(f"cannot read {args.file}: {err}") from None
        print(api.request("POST", "/v1/cassettes", json=cassette)["id"])
    return 0


def _edit(raw: str) -> tuple[str, str, Any]:
    """`input.max_words=30` → ("input", "max_words", 30); the value is JSON when it parses."""
    field, sep, text = raw.partition("=")
    where, dot, name = field.partition(".")
    if not sep or not dot or not name or where not in ("input", "options"):
        raise CliError(f"--set {raw!r}: write input.NAME=VALUE or options.NAME=VALUE")
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    return where, name, value
