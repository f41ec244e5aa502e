"""`fetch_url` connects only to checked public addresses, on every hop, with a client of its own.

Real local HTTP(S) servers; the only stand-in is an `AddressCheck` that plays DNS for made-up
names (`.example` never resolves), so a public-looking first hop can be served here.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address, ip_address
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from activities.tools.fetch_url import PublicAddresses, fetch_url, tool_http_client
from activities.tools.registry import AddressCheck, ToolContext, ToolError
from core.addresses import IPAddress, non_public
from core.contracts.tools import FetchUrlArgs
from store import Stores

LOOPBACK = IPv4Address("127.0.0.1")
LAB_HINT = "(set AIJOBS_FETCH_ALLOW_PRIVATE=true only for a lab)"


@dataclass
class Site:
    """A local HTTP (or HTTPS) server: serves `pages` to GET and records every request, and the
    TLS server name (SNI) each client asked for."""

    tls: ssl.SSLContext | None = None
    # path -> (status, headers, body)
    pages: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)
    port: int = 0

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.seen]

    @contextmanager
    def running(self) -> Iterator[Site]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, so a client that reused connections across host names would show it.
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_GET(self) -> None:
                site.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                status, headers, body = site.pages.get(self.path, (404, {}, b"not found"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            def get_request(self) -> tuple[socket.socket, Any]:
                conn, address = super().get_request()
                if site.tls is None:
                    return conn, address
                # A failed handshake raises OSError here, which the server shrugs off.
                return site.tls.wrap_socket(conn, server_side=True), address

        if self.tls is not None:
            self.tls.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
        server = Server(("127.0.0.1", 0), Handler)
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    with Site().running() as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with tool_http_client(timeout=5) as client:
        yield client


def context(
    stores: Stores, http: httpx.AsyncClient, allowed: set[str], check: AddressCheck
) -> ToolContext:
    return ToolContext(
        http=http,
        documents=stores.documents,
        tickets=stores.tickets,
        fetch_allowed_hosts=frozenset(allowed),
        fetch_addresses=check,
        fetch_max_bytes=10_000,
        owner="alice",
        job_id="job-1",
        idempotency_key="job-1/step-1/call_0",
    )


class Pretend:
    """An AddressCheck that answers for made-up names and hands every other host to `otherwise`
    (a real check), recording each host it is asked about."""

    def __init__(self, names: dict[str, IPAddress], otherwise: AddressCheck | None = None) -> None:
        self.names = names
        self.otherwise = otherwise
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append(host)
        if host in self.names or self.otherwise is None:
            return [self.names[host]]
        return await self.otherwise(host, port)


def site_url(site: Site, host: str = "127.0.0.1", path: str = "/") -> str:
    return f"http://{host}:{site.port}{path}"


async def fetch(ctx: ToolContext, url: str) -> str:
    return await fetch_url(FetchUrlArgs(url=url), ctx)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("169.254.169.254", "the cloud metadata address"),
        ("fd00:ec2::254", "the cloud metadata address"),
        ("100.64.0.1", "a carrier-grade NAT address (100.64.0.0/10)"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("::ffff:127.0.0.1", "a loopback address (127.0.0.1 written as IPv6)"),
        ("::ffff:169.254.169.254", "the cloud metadata address (169.254.169.254 written as IPv6)"),
        ("2002:a00:1::", "a private address (10.0.0.1 written as IPv6)"),
        ("64:ff9b::7f00:1", "a loopback address (127.0.0.1 written as IPv6)"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
    ],
)
def test_non_public_names_what_is_wrong_with_an_address(address: str, why: str | None) -> None:
    """Loopback, private, link-local, metadata, CGNAT, multicast, reserved and unspecified
    addresses are caught, also inside IPv4-mapped, 6to4 and NAT64 forms; public ones pass."""
    assert non_public(ip_address(address)) == why


async def test_an_allowed_name_resolving_to_loopback_is_refused(
    stores: Stores, http: httpx.AsyncClient, site: Site
) -> None:
    """The allow-list names hosts, but where they resolve decides: `localhost` is refused, and
    nothing is sent."""
    ctx = context(stores, http, {"localhost"}, PublicAddresses())
    with pytest.raises(ToolError) as caught:
        await fetch(ctx, f"http://localhost:{site.port}/")
    assert str(caught.value) == (
        f"fetch_url refuses localhost: it resolves to 127.0.0.1, a loopback address {LAB_HINT}"
    )
    assert site.seen == []


async def test_literal_addresses_are_checked_too(
    stores: Stores, http: httpx.AsyncClient, site: Site
) -> None:
    """An IP in the URL goes through the same check; the metadata address is refused even in a
    lab, where other private addresses are allowed."""
    with pytest.raises(ToolError, match=r"^fetch_url refuses 127\.0\.0\.1: it is a loopback"):
        await fetch(context(stores, http, {"127.0.0.1"}, PublicAddresses()), site_url(site))
    lab = context(stores, http, {"169.254.169.254"}, PublicAddresses(allow_private=True))
    with pytest.raises(ToolError) as caught:
        await fetch(lab, "http://169.254.169.254/latest/meta-data/")
    assert str(caught.value) == (
        "fetch_url refuses 169.254.169.254: it is the cloud metadata address, "
        "refused even with AIJOBS_FETCH_ALLOW_PRIVATE"
    )
    assert site.seen == []


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "http://169.254.169.254/latest/meta-data/",
            "fetch_url refuses 169.254.169.254: it is the cloud metadata address, "
            "refused even with AIJOBS_FETCH_ALLOW_PRIVATE",
        ),
        (
            "http://localhost:{port}/secret",
            f"fetch_url refuses localhost: it resolves to 127.0.0.1, a loopback address {LAB_HINT}",
        ),
    ],
)
async def test_a_redirect_to_a_private_address_is_refused(
    stores: Stores, http: httpx.AsyncClient, site: Site, target: str, message: str
) -> None:
    """An allowed public site redirecting to the metadata service or to loopback is refused at
    that hop, though every host is allow-listed: without the check, `/secret` would be read."""
    site.pages["/away"] = (302, {"Location": target.format(port=site.port)}, b"")
    site.pages["/secret"] = (200, {"Content-Type": "text/plain"}, b"secret")
    # docs.example plays a public site: served here, while every other host is really checked.
    check = Pretend({"docs.example": LOOPBACK}, otherwise=PublicAddresses())
    allowed = {"docs.example", "169.254.169.254", "localhost"}
    with pytest.raises(ToolError) as caught:
        await fetch(context(stores, http, allowed, check), site_url(site, "docs.example", "/away"))
    assert str(caught.value) == message
    assert site.paths == ["/away"]
    assert check.asked[0] == "docs.example"
    assert len(check.asked) == 2


async def test_a_lab_fetches_local_servers(
    stores: Stores, http: httpx.AsyncClient, site: Site
) -> None:
    """With AIJOBS_FETCH_ALLOW_PRIVATE, a local server is fetched, by name, with its Host."""
    site.pages["/page"] = (200, {"Content-Type": "text/plain"}, b"hello")
    check = Pretend({}, otherwise=PublicAddresses(allow_private=True))
    ctx = context(stores, http, {"localhost"}, check)
    assert await fetch(ctx, site_url(site, "localhost", "/page")) == "HTTP 200\n\nhello"
    assert check.asked == ["localhost"]
    assert site.seen == [("/page", site.seen[0][1])]
    assert site.seen[0][1]["host"] == f"localhost:{site.port}"


async def test_the_connection_goes_to_the_checked_address(
    stores: Stores, http: httpx.AsyncClient, site: Site
) -> None:
    """The client never resolves the name again: docs.example (which has no DNS record) is
    reached at the address the check returned, and the server still sees its Host, on each hop."""
    site.pages["/a"] = (302, {"Location": "/b"}, b"")
    site.pages["/b"] = (200, {"Content-Type": "text/plain"}, b"b")
    check = Pretend({"docs.example": LOOPBACK})
    ctx = context(stores, http, {"docs.example"}, check)
    assert await fetch(ctx, site_url(site, "docs.example", "/a")) == "HTTP 200\n\nb"
    assert site.paths == ["/a", "/b"]
    assert {headers["host"] for _, headers in site.seen} == {f"docs.example:{site.port}"}
    assert check.asked == ["docs.example", "docs.example"]


def certificate(name: str, directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for `name` only (no IP in it), and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_https_uses_the_host_name_for_sni_and_the_certificate(
    stores: Stores, tmp_path: Path
) -> None:
    """Connected to an IP, TLS still asks for and verifies the URL's host name: a certificate
    for docs.example is accepted there and refused for another name at the same address (on a
    new connection: the one checked for docs.example is not reused)."""
    cert_file, key_file = certificate("docs.example", tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    trust = ssl.create_default_context(cafile=str(cert_file))
    check = Pretend({"docs.example": LOOPBACK, "other.example": LOOPBACK})
    with Site(tls=tls).running() as site:
        site.pages["/page"] = (200, {"Content-Type": "text/plain"}, b"over TLS")
        async with tool_http_client(timeout=5, verify=trust) as http:
            ctx = context(stores, http, {"docs.example", "other.example"}, check)
            url = f"https://docs.example:{site.port}/page"
            assert await fetch(ctx, url) == "HTTP 200\n\nover TLS"
            with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
                await fetch(ctx, f"https://other.example:{site.port}/page")
    assert site.server_names == ["docs.example", "other.example"]
    assert site.seen == [("/page", site.seen[0][1])]
    assert site.seen[0][1]["host"] == f"docs.example:{site.port}"


async def test_the_tool_client_keeps_no_cookies_and_ignores_proxy_variables(
    stores: Stores, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cookie one page sets is not sent with the next request, and proxy variables (pointing
    at a port nothing listens on) are not used."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    site.pages["/login"] = (200, {"Set-Cookie": "session=abc; Path=/"}, b"in")
    site.pages["/next"] = (200, {}, b"next")
    async with tool_http_client(timeout=5) as http:
        ctx = context(stores, http, {"127.0.0.1"}, PublicAddresses(allow_private=True))
        assert await fetch(ctx, site_url(site, path="/login")) == "HTTP 200\n\nin"
        assert await fetch(ctx, site_url(site, path="/next")) == "HTTP 200\n\nnext"
        assert list(http.cookies.jar) == []
    assert site.paths == ["/login", "/next"]
    assert "cookie" not in site.seen[1][1]


async def test_names_that_do_not_resolve_are_refused_and_dns_outages_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name DNS says does not exist is a ToolError; a failing DNS server propagates, so
    Temporal retries the call."""
    loop = asyncio.get_running_loop()
    errors = {
        "gone.example": socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        "flaky.example": socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
    }

    async def getaddrinfo(host: str, *args: object, **kwargs: object) -> list[Any]:
        raise errors[host]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    with pytest.raises(ToolError) as caught:
        await PublicAddresses()("gone.example", 80)
    assert str(caught.value) == "fetch_url cannot resolve gone.example: Name or service not known"
    with pytest.raises(socket.gaierror):
        await PublicAddresses()("flaky.example", 80)
