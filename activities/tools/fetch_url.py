"""`fetch_url`: HTTP GET, only to allow-listed hosts, with size and time limits."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from activities.tools.registry import ToolContext, ToolError, implements
from core.contracts.tools import FetchUrlArgs

MAX_REDIRECTS = 3


class _Text(HTMLParser):
    """Visible text of an HTML page; scripts and styles dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def _check(url: str, allowed: frozenset[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ToolError(f"only http and https URLs can be fetched, not {parts.scheme!r}")
    host = (parts.hostname or "").lower()
    if host not in allowed:
        raise ToolError(
            f"host {host!r} is not on the allow-list ({', '.join(sorted(allowed)) or 'empty'})"
        )


@implements("fetch_url")
async def fetch_url(args: FetchUrlArgs, ctx: ToolContext) -> str:
    # Transport errors propagate: Temporal retries them under the tool's retry policy.
    url = args.url
    for _ in range(MAX_REDIRECTS + 1):
        _check(url, ctx.fetch_allowed_hosts)
        async with ctx.http.stream("GET", url, follow_redirects=False) as response:
            if response.is_redirect and "location" in response.headers:
                # Every hop is checked against the allow-list, not just the first.
                url = urljoin(url, response.headers["location"])
                continue
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > ctx.fetch_max_bytes:
                    break
            truncated = len(body) > ctx.fetch_max_bytes
            text = bytes(body[: ctx.fetch_max_bytes]).decode(
                response.encoding or "utf-8", "replace"
            )
            if "html" in response.headers.get("content-type", ""):
                parser = _Text()
                parser.feed(text)
                text = "\n".join(parser.parts)
            note = f" (cut at {ctx.fetch_max_bytes} bytes)" if truncated else ""
            return f"HTTP {response.status_code}{note}\n\n{text}"
    raise ToolError(f"more than {MAX_REDIRECTS} redirects")
