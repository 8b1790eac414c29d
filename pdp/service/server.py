"""The HTTP server of `pdp serve`: uvicorn's h11 protocol, with every client bounded.

uvicorn closes a kept-alive connection after `timeout_keep_alive` idle
seconds, but nothing bounds the time a client takes to *send* a request: a
connection that sends half a header and stops is held forever, and a few
thousand of them starve the service (slowloris). `BoundedH11Protocol`, a
small subclass of uvicorn's h11 protocol, adds the two missing bounds:

- a read deadline: a request — its head and its body — must arrive within
  `limits.read_timeout` seconds of its first byte (or of the connection,
  for the first request), else the connection is closed, quietly;
- a connection cap: beyond `limits.max_connections` open connections, a new
  one is closed as soon as it is accepted.

Why uvicorn and h11, and not hypercorn or granian: uvicorn already serves
pdp, with the single-decision throughput the service is measured by; the
bounds it lacks take three protocol hooks here, in one module, tested by an
attack on a real `pdp serve` (tests/service/test_attacks.py). uvicorn's
`httptools` protocol is not used: pdp does not install it, and the h11 hooks
are the ones subclassed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle

from pdp.service.config import Limits

log = logging.getLogger("pdp.service")


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration plus the bounds `BoundedH11Protocol` enforces."""

    def __init__(self, app: Any, *, limits: Limits, **options: Any) -> None:
        super().__init__(
            app,
            http=BoundedH11Protocol,
            timeout_keep_alive=limits.keep_alive_timeout,
            **options,
        )
        self.read_timeout = limits.read_timeout
        self.max_connections = limits.max_connections


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a read deadline per request and a cap on connections."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        limits = Limits()
        self.read_timeout: float = getattr(config, "read_timeout", limits.read_timeout)
        self.max_connections: int = getattr(config, "max_connections", limits.max_connections)
        self._deadline: asyncio.TimerHandle | None = None
        self._before: RequestResponseCycle | None = None  # the cycle before the one being read

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.debug("connection refused: %d open connections", len(self.connections) - 1)
            transport.close()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # a new request begins: it must arrive whole in time
        super().data_received(data)
        cycle = self.cycle
        if (
            self._deadline is not None
            and cycle is not None
            and cycle is not self._before
            and not cycle.more_body
        ):
            self._disarm()  # the request is read; the application answers it

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._before = self.cycle
        self._deadline = self.loop.call_later(self.read_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.debug("closed a connection that sent no whole request in %ss", self.read_timeout)
            self.transport.close()
