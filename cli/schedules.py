"""`aijobs schedule ...`: jobs on a timetable (create, list, show, pause, resume, trigger,
delete)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from cli.client import ApiClient


def add_commands(commands: Any, json_arg: Callable[[str], dict[str, Any]]) -> None:
    """The `schedule` command and its subcommands, on the CLI's subparsers."""
    schedule = commands.add_parser("schedule", help="run a job on a timetable")
    actions = schedule.add_subparsers(dest="action", required=True, parser_class=type(schedule))
    create = actions.add_parser("create", help="put a job on a schedule")
    create.add_argument("type", help="job type, e.g. summarize")
    create.add_argument("--input", required=True, type=json_arg, help="JSON object or @file")
    when = create.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help='five fields, e.g. "0 2 * * *"')
    when.add_argument("--every", help="an interval, e.g. 15m, 2h, 1d")
    create.add_argument("--timezone", default="UTC", help="IANA name (default UTC)")
    create.add_argument("--id", help="your name for it (default: made up)")
    create.add_argument(
        "--overlap",
        choices=["skip", "buffer_one", "allow_all", "cancel_other"],
        default="skip",
        help="when a run is due while the last job still runs (default skip)",
    )
    create.add_argument("--note")
    actions.add_parser("list", help="list your schedules")
    for name, text in (
        ("show", "show a schedule, its next runs and its recent runs"),
        ("trigger", "run it now"),
        ("delete", "delete it (jobs already started go on)"),
        ("resume", "resume a paused schedule"),
    ):
        actions.add_parser(name, help=text).add_argument("id")
    pause = actions.add_parser("pause", help="pause it")
    pause.add_argument("id")
    pause.add_argument("--note", help="why, shown with the schedule")


def run(args: argparse.Namespace, api: ApiClient) -> int:
    path = f"/v1/schedules/{getattr(args, 'id', None) or ''}".rstrip("/")
    if args.action == "create":
        body: dict[str, Any] = {
            "job": {"type": args.type, "input": args.input},
            "timezone": args.timezone,
            "overlap": args.overlap,
        }
        for field in ("cron", "every", "id", "note"):
            if getattr(args, field) is not None:
                body[field] = getattr(args, field)
        print(api.request("POST", "/v1/schedules", json=body)["id"])
    elif args.action == "list":
        for item in api.request("GET", "/v1/schedules", params={"limit": 100})["schedules"]:
            state = "paused" if item["paused"] else f"next {item['next_run']}"
            note = f"  ({item['note']})" if item["note"] else ""
            print(f"{item['id']:<24} {item['job_type']:<13} {state}{note}")
    elif args.action == "show":
        print(json.dumps(api.request("GET", path), indent=2))
    elif args.action == "pause":
        api.request("PATCH", path, json={"paused": True, "note": args.note or "paused"})
        print(f"paused {args.id}")
    elif args.action == "resume":
        api.request("PATCH", path, json={"paused": False})
        print(f"resumed {args.id}")
    elif args.action == "trigger":
        api.request("POST", f"{path}/trigger")
        print(f"triggered {args.id}")
    else:
        api.request("DELETE", path)
        print(f"deleted {args.id}")
    return 0
