"""`aijobs` entry point: submit, watch, status, list, input, cancel, usage, schedule."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from cli import reruns, schedules
from cli.client import ApiClient, CliError, CliSettings
from cli.watch import watch


class _Parser(argparse.ArgumentParser):
    """Argument errors are one line too (exit 2), like every other error of the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _json_arg(raw: str) -> dict[str, Any]:
    """A JSON object, inline or `@file`."""
    if raw.startswith("@"):
        try:
            text = Path(raw[1:]).read_text()
        except OSError as err:
            raise argparse.ArgumentTypeError(f"cannot read {raw[1:]}: {err.strerror}") from None
    else:
        text = raw
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aijobs",
        description="Durable AI jobs: talk to the aijobs API. AIJOBS_URL says where it is "
        "(default http://localhost:8000); AIJOBS_API_KEY is your key (default: make run's "
        "dev key in .data/dev-api-key).",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    submit = commands.add_parser("submit", help="start a job")
    submit.add_argument("type", help="job type, e.g. summarize, draft_review, agent")
    submit.add_argument("--input", required=True, type=_json_arg, help="JSON object or @file")
    submit.add_argument("--idempotency-key")
    submit.add_argument(
        "--max-cost-usd", type=float, help="stop the job's model calls once it cost this much"
    )
    submit.add_argument(
        "--webhook", metavar="URL", help="call this URL back, signed, when the job ends"
    )
    submit.add_argument("--watch", action="store_true", help="follow it to the end")
    submit.add_argument("--json", action="store_true", help="with --watch: one event per line")
    follow = commands.add_parser("watch", help="follow a job's events")
    follow.add_argument("id")
    follow.add_argument("--json", action="store_true", help="print one JSON event per line")
    for name, text in (("status", "show a job"), ("cancel", "cancel a job")):
        commands.add_parser(name, help=text).add_argument("id")
    listing = commands.add_parser("list", help="list your jobs")
    listing.add_argument("--type")
    listing.add_argument("--status")
    listing.add_argument("--limit", type=int, default=20)
    usage = commands.add_parser("usage", help="what your model calls used and cost")
    usage.add_argument("--group-by", choices=["day", "model", "type"], default="day")
    usage.add_argument("--from", dest="start", help="ISO date or time (default: month start)")
    usage.add_argument("--to", dest="end", help="ISO date or time (default: now)")
    answer = commands.add_parser("input", help="answer what a job waits for")
    answer.add_argument("id")
    answer.add_argument("name")
    answer.add_argument("--value", required=True, type=_json_arg, help="JSON object or @file")
    schedules.add_commands(commands, _json_arg)
    reruns.add_commands(commands)
    return parser


def run(args: argparse.Namespace, api: ApiClient) -> int:
    if args.command == "schedule":
        return schedules.run(args, api)
    if args.command in ("rerun", "steps", "cassette"):
        return reruns.run(args, api)
    if args.command == "submit":
        body: dict[str, Any] = {"type": args.type, "input": args.input}
        options: dict[str, Any] = {}
        if args.max_cost_usd is not None:
            options["max_cost_usd"] = args.max_cost_usd
        if args.webhook is not None:
            options["webhook"] = {"url": args.webhook}
        if options:
            body["options"] = options
        job = api.start_job(body, args.idempotency_key)
        print(job["id"], file=sys.stderr if args.watch else sys.stdout)
        return watch(api, job["id"], as_json=args.json) if args.watch else 0
    if args.command == "watch":
        return watch(api, args.id, as_json=args.json)
    if args.command == "status":
        print(json.dumps(api.request("GET", f"/v1/jobs/{args.id}"), indent=2))
        return 0
    if args.command == "list":
        params = {k: v for k, v in (("type", args.type), ("status", args.status)) if v}
        page = api.request("GET", "/v1/jobs", params=params | {"limit": args.limit})
        for job in page["jobs"]:
            print(f"{job['id']}  {job['type']:<13} {job['status']:<18} {job['created_at']}")
        return 0
    if args.command == "usage":
        window = {"from": args.start, "to": args.end, "group_by": args.group_by}
        report = api.request("GET", "/v1/usage", params={k: v for k, v in window.items() if v})
        for line in [*report["groups"], report["total"]]:
            unpriced = f" (+{line['unpriced_calls']} unpriced)" if line["unpriced_calls"] else ""
            print(
                f"{line['key']:<24} {line['calls']:>7} calls {line['input_tokens']:>10} in "
                f"{line['output_tokens']:>10} out  ${line['cost_usd']:.4f}{unpriced}"
            )
        return 0
    if args.command == "input":
        body = {"name": args.name, "value": args.value}
        print(json.dumps(api.request("POST", f"/v1/jobs/{args.id}/input", json=body), indent=2))
        return 0
    api.request("POST", f"/v1/jobs/{args.id}/cancel")
    print(f"cancel requested for {args.id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args, ApiClient(CliSettings()))
    except CliError as err:
        print(f"aijobs: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
