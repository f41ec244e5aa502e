"""What the process's HTTP clients trust for TLS, built once per process: loading the CA roots
takes about 20 ms a client, and a worker builds six."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def trusted_roots(trust_env: bool = True) -> ssl.SSLContext:
    """httpx's own default context (certifi's roots; with `trust_env`, SSL_CERT_FILE or
    SSL_CERT_DIR when set), shared by every client that asks for it. A context holds no
    per-connection state, so sharing it is safe."""
    return httpx.create_ssl_context(trust_env=trust_env)
