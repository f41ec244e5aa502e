"""Ports for servers a test starts. Taken below the kernel's ephemeral range (32768-60999 here),
where outgoing connections take their local ports: a port picked by binding to 0 could be taken
by some client's connection before the server binds it (that failed a suite on two processes).
Each pytest-xdist process has its own slice, so two never pick the same port."""

from __future__ import annotations

import itertools
import os
import random
import socket

_FIRST, _LAST = 20_000, 32_000
_SLICES = 8


def _slice() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) % _SLICES if worker.isdigit() else 0
    size = (_LAST - _FIRST) // _SLICES
    return range(_FIRST + index * size, _FIRST + (index + 1) * size)


_candidates = itertools.cycle(random.sample(_slice(), len(_slice())))


def free_port() -> int:
    """A port of this process's slice that nothing listens on now."""
    for port in _candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("unreachable: the candidates cycle")
