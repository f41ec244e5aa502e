"""The built-in tools and the `run_tool` activity, each against real parts (PostgreSQL, HTTP)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.tool_runner import MAX_RESULT_CHARS, ToolActivities
from activities.tools import TOOLS
from activities.tools.calculator import evaluate
from activities.tools.fetch_url import PublicAddresses, tool_http_client
from activities.tools.registry import ToolError
from core.contracts.tools import TOOL_SPECS, ToolRequest
from store import Stores
from tests.support.webhook import Webhook


@pytest.fixture
def site() -> Iterator[Webhook]:
    with Webhook().running() as running:
        yield running


@pytest.fixture
async def tools(stores: Stores) -> AsyncIterator[ToolActivities]:
    # The test site is on 127.0.0.1: a lab, so private addresses are allowed here.
    async with tool_http_client(timeout=5) as http:
        yield ToolActivities(
            http,
            stores.documents,
            stores.tickets,
            frozenset({"127.0.0.1"}),
            fetch_max_bytes=1000,
            fetch_addresses=PublicAddresses(allow_private=True),
        )


async def run(
    tools: ToolActivities,
    tool: str,
    key: str = "job-1/step-1/call_0",
    job_id: str = "job-1",
    **args: object,
) -> str:
    request = ToolRequest(
        tool=tool, arguments=args, idempotency_key=key, owner="alice", job_id=job_id
    )
    return (await ActivityEnvironment().run(tools.run_tool, request)).content


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("6 * 7", 42),
        ("(2 + 3) * 4 / 8", 2.5),
        ("-2 ** 2", -4),
        ("7 // 2 + 7 % 2", 4),
        ("1.5e3", 1500),
    ],
)
def test_calculator_does_arithmetic(expression: str, value: float) -> None:
    """Operators, precedence, unary minus, floats."""
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('true')", "unsupported"),
        ("x + 1", "unsupported"),
        ("True + 1", "unsupported"),
        ("1 / 0", "division by zero"),
        ("9 ** 9 ** 9", "exponent"),
        ("10.0 ** 999", "too large"),
        ("2 +", "not an arithmetic expression"),
    ],
)
def test_calculator_refuses_everything_else(expression: str, message: str) -> None:
    """Names, calls, booleans, runaway powers and syntax errors are refused, never evaluated."""
    with pytest.raises(ToolError, match=message):
        evaluate(expression)


async def test_tool_errors_are_permanent_and_readable(tools: ToolActivities) -> None:
    """A tool's own refusal is a non-retryable ToolFailed with its message."""
    with pytest.raises(ApplicationError) as caught:
        await run(tools, "calculator", expression="1 / 0")
    assert (caught.value.type, caught.value.non_retryable, caught.value.message) == (
        "ToolFailed",
        True,
        "division by zero",
    )


async def test_run_tool_checks_name_and_arguments_again(tools: ToolActivities) -> None:
    """Defence in depth: the activity refuses unknown tools and bad arguments itself."""
    with pytest.raises(ApplicationError, match="no tool named"):
        await run(tools, "shell", cmd="ls")
    with pytest.raises(ApplicationError) as caught:
        await run(tools, "calculator", expr="1")
    assert caught.value.type == "InvalidArguments"


async def test_fetch_url_reads_allowed_pages_as_text(tools: ToolActivities, site: Webhook) -> None:
    """HTML comes back as its visible text, with the status."""
    site.pages["/page"] = (
        200,
        {"Content-Type": "text/html"},
        b"<html><script>var x;</script><h1>Hours</h1><p>Open 9 to 5.</p></html>",
    )
    assert (
        await run(tools, "fetch_url", url=f"{site.base}/page") == "HTTP 200\n\nHours\nOpen 9 to 5."
    )


async def test_fetch_url_refuses_other_hosts_and_schemes(
    tools: ToolActivities, site: Webhook
) -> None:
    """Only allow-listed hosts, only http(s), and every redirect hop is checked."""
    for url, message in (
        ("http://localhost/page", "not on the allow-list"),
        ("file:///etc/passwd", "only http and https"),
    ):
        with pytest.raises(ApplicationError, match=message):
            await run(tools, "fetch_url", url=url)
    site.pages["/away"] = (302, {"Location": "http://example.com/"}, b"")
    with pytest.raises(ApplicationError, match=r"'example\.com' is not on the allow-list"):
        await run(tools, "fetch_url", url=f"{site.base}/away")


async def test_fetch_url_cuts_large_bodies(tools: ToolActivities, site: Webhook) -> None:
    """Bodies past the byte limit are cut, and the result says so."""
    site.pages["/big"] = (200, {"Content-Type": "text/plain"}, b"a" * 5000)
    content = await run(tools, "fetch_url", url=f"{site.base}/big")
    assert content == "HTTP 200 (cut at 1000 bytes)\n\n" + "a" * 1000


async def test_tickets_are_written_once_per_key(tools: ToolActivities, stores: Stores) -> None:
    """The same idempotency key (a retry) returns the same ticket instead of a second one."""
    job = f"job-{uuid.uuid4().hex}"
    key = f"{job}/step-1/call_0"
    first = await run(tools, "create_ticket", key=key, job_id=job, title="Printer", body="Fire.")
    again = await run(tools, "create_ticket", key=key, job_id=job, title="Printer", body="Fire.")
    other = await run(
        tools, "create_ticket", key=f"{job}/step-2/call_0", job_id=job, title="Fax", body="Gone."
    )
    ticket = first.split()[-1]
    assert first == f"created ticket {ticket}"
    assert again == f"ticket {ticket} already exists"
    assert other.startswith("created ticket")
    assert ticket not in other
    assert len(await stores.tickets.for_job(job)) == 2


async def test_long_results_are_truncated(tools: ToolActivities, site: Webhook) -> None:
    """What goes back to the model and into history is capped."""
    tools._max_bytes = 100_000
    site.pages["/huge"] = (200, {"Content-Type": "text/plain"}, b"b" * 10_000)
    request = ToolRequest(
        tool="fetch_url",
        arguments={"url": f"{site.base}/huge"},
        idempotency_key="k",
        owner="a",
        job_id="j",
    )
    result = await ActivityEnvironment().run(tools.run_tool, request)
    assert result.truncated
    assert len(result.content) == MAX_RESULT_CHARS


def test_every_tool_spec_has_code_behind_it() -> None:
    """The specs the workflow checks against and the code the worker runs name the same tools;
    each schema comes from its argument model."""
    assert set(TOOLS) == set(TOOL_SPECS)
    assert set(TOOLS) == {"calculator", "fetch_url", "search_documents", "create_ticket"}
    assert [name for name, t in TOOL_SPECS.items() if t.side_effects] == ["create_ticket"]
    schema = TOOL_SPECS["create_ticket"].openai_schema()["function"]
    assert schema["description"].startswith("Open a support ticket")
    assert schema["parameters"]["properties"]["priority"]["enum"] == ["low", "normal", "high"]
