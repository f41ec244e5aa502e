"""`fetch_url`: HTTP GET, only to allow-listed hosts on public addresses, with size and time limits.

Each hop (the first URL and every redirect) is resolved once and every address checked; the
connection then goes to a checked address, so a second DNS answer cannot send it elsewhere.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from html.parser import HTMLParser
from http.cookiejar import Cookie, CookieJar
from ipaddress import ip_address

import httpx

from activities.pinned_http import send_to
from activities.tools.registry import ToolContext, ToolError, implements
from core.addresses import IPAddress, is_metadata, non_public
from core.contracts.tools import FetchUrlArgs
from core.tls import trusted_roots

MAX_REDIRECTS = 3
DEFAULT_PORTS = {"http": 80, "https": 443}
_LAB_HINT = " (set AIJOBS_FETCH_ALLOW_PRIVATE=true only for a lab)"


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


class _NoCookies(CookieJar):
    """A jar that keeps nothing: cookies one page sets must not reach the next request."""

    def set_cookie(self, cookie: Cookie) -> None:
        """Drop it."""


def tool_http_client(
    timeout: float = 20.0, verify: ssl.SSLContext | None = None
) -> httpx.AsyncClient:
    """The worker's HTTP client for tools, apart from the webhook client: no cookies kept, no
    proxy variables or .netrc (`trust_env=False`), no auth, bounded so a stuck server cannot
    hang a task. `verify` is what TLS trusts (default: certifi's roots)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        verify=verify or trusted_roots(trust_env=False),
        trust_env=False,
        cookies=_NoCookies(),
        # A fresh connection per request: the pool matches connections by IP and port only, so
        # a kept one could carry a request for a host whose certificate it never checked.
        limits=httpx.Limits(max_keepalive_connections=0),
    )


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address of `host` (a literal IP is itself), through the event loop's resolver."""
    try:
        return [ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        if err.errno == socket.EAI_AGAIN:
            raise  # the DNS server failed, the name may well exist: Temporal retries
        raise ToolError(f"fetch_url cannot resolve {host}: {err.strerror}") from None
    except UnicodeError:
        raise ToolError(f"fetch_url cannot resolve {host}: not a valid host name") from None
    addresses = list(dict.fromkeys(ip_address(info[4][0]) for info in infos))
    if not addresses:
        raise ToolError(f"fetch_url cannot resolve {host}: no addresses")
    return addresses


class PublicAddresses:
    """The worker's `AddressCheck`: resolves a host once and returns its addresses if every one
    is public, else refuses the host (one bad address is enough: any could be the one used)."""

    def __init__(self, allow_private: bool = False) -> None:
        self._allow_private = allow_private

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        addresses = await resolve(host, port)
        for address in addresses:
            why = non_public(address)
            if why is None or (self._allow_private and not is_metadata(address)):
                continue
            said = "it is" if str(address) == host else f"it resolves to {address},"
            hint = (
                ", refused even with AIJOBS_FETCH_ALLOW_PRIVATE"
                if is_metadata(address)
                else _LAB_HINT
            )
            raise ToolError(f"fetch_url refuses {host}: {said} {why}{hint}")
        return addresses


def _parse(raw: str, base: httpx.URL | None = None) -> httpx.URL:
    try:
        return httpx.URL(raw) if base is None else base.join(raw)
    except httpx.InvalidURL as err:
        raise ToolError(f"not a URL fetch_url can use: {err}") from None


def _check(url: httpx.URL, allowed: frozenset[str]) -> None:
    if url.scheme not in DEFAULT_PORTS:
        raise ToolError(f"only http and https URLs can be fetched, not {url.scheme!r}")
    if url.host not in allowed:
        raise ToolError(
            f"host {url.host!r} is not on the allow-list ({', '.join(sorted(allowed)) or 'empty'})"
        )


async def _read(response: httpx.Response, max_bytes: int) -> str:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            break
    truncated = len(body) > max_bytes
    text = bytes(body[:max_bytes]).decode(response.encoding or "utf-8", "replace")
    if "html" in response.headers.get("content-type", ""):
        parser = _Text()
        parser.feed(text)
        text = "\n".join(parser.parts)
    note = f" (cut at {max_bytes} bytes)" if truncated else ""
    return f"HTTP {response.status_code}{note}\n\n{text}"


@implements("fetch_url")
async def fetch_url(args: FetchUrlArgs, ctx: ToolContext) -> str:
    # Transport errors propagate: Temporal retries them under the tool's retry policy.
    url = _parse(args.url)
    for _ in range(MAX_REDIRECTS + 1):
        # Every hop is checked, allow-list and addresses, not just the first.
        _check(url, ctx.fetch_allowed_hosts)
        port = url.port or DEFAULT_PORTS[url.scheme]
        addresses = await ctx.fetch_addresses(url.raw_host.decode("ascii"), port)
        response = await send_to(ctx.http, "GET", url, addresses, stream=True)
        try:
            if response.is_redirect and "location" in response.headers:
                url = _parse(response.headers["location"], base=url)
                continue
            return await _read(response, ctx.fetch_max_bytes)
        finally:
            await response.aclose()
    raise ToolError(f"more than {MAX_REDIRECTS} redirects")
