"""Sending an HTTP request to addresses already checked, never to a name: the Host header, TLS
SNI and certificate check still use the URL's host, so a second DNS answer cannot send the
request elsewhere (fetch_url, webhooks)."""

from __future__ import annotations

import httpx

from core.addresses import IPAddress


async def send_to(
    http: httpx.AsyncClient,
    method: str,
    url: httpx.URL,
    addresses: list[IPAddress],
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    stream: bool = False,
) -> httpx.Response:
    """`method url` on a connection to one of `addresses`, tried in order (the next one when a
    connection cannot be made, as browsers do)."""
    sent_headers = {**(headers or {}), "Host": url.netloc.decode("ascii")}
    # httpcore gives TLS this name instead of the connection's (an IP); plain HTTP ignores it.
    extensions = {"sni_hostname": url.raw_host.decode("ascii")}

    async def send(address: IPAddress) -> httpx.Response:
        request = http.build_request(
            method,
            url.copy_with(host=str(address)),
            content=content,
            headers=sent_headers,
            extensions=extensions,
        )
        return await http.send(request, stream=stream, follow_redirects=False)

    for address in addresses[:-1]:
        try:
            return await send(address)
        except httpx.ConnectError:
            continue
    return await send(addresses[-1])
