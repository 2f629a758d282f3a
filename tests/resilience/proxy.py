"""A TCP proxy in front of Redis that can stall: while stalled it accepts connections and
holds every byte sent to Redis, and delivers them once it flows again, as a server stuck for a
while does (the commands still run, after their clients gave up). It can also drop the
connections open at a moment silently, as a NAT or load balancer that forgets them does: their
bytes vanish both ways, with no FIN or RST, while new connections flow. It runs on an event
loop of its own, in a thread, so it serves whichever loop or thread the gateway runs on."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class _Link:
    """One proxied connection; once ``dropped``, whatever either side sends vanishes."""

    dropped: bool = False


class StallingProxy:
    def __init__(
        self, loop: asyncio.AbstractEventLoop, target: tuple[str, int] = ("127.0.0.1", 6379)
    ) -> None:
        self.loop = loop
        self.target = target
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.trigger: bytes | None = None
        self._server: asyncio.Server | None = None
        self._pumps: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._links: list[_Link] = []
        self.port = 0
        self.accepted = 0  # connections accepted so far

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> StallingProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stall(self) -> None:
        self.loop.call_soon_threadsafe(self.flowing.clear)

    def stall_at(self, pattern: bytes) -> None:
        """Stall just before forwarding the first data that contains ``pattern``."""
        self.trigger = pattern

    def resume(self) -> None:
        self.loop.call_soon_threadsafe(self.flowing.set)

    def drop_existing(self) -> None:
        """From now on, the bytes of every connection open now vanish, silently, both ways."""

        def drop() -> None:
            for link in self._links:
                link.dropped = True

        self.loop.call_soon_threadsafe(drop)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers += [writer, up_writer]
        link = _Link()
        self._links.append(link)
        for pump in (
            self._to_redis(reader, up_writer, link),
            self._to_client(up_reader, writer, link),
        ):
            task = asyncio.create_task(pump)
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def _to_redis(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if link.dropped:
                    continue
                if self.trigger is not None and self.trigger in data:
                    self.trigger = None
                    self.flowing.clear()
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
            await self.flowing.wait()  # the client left; what it sent still reaches Redis
        await asyncio.sleep(0.05)
        writer.close()

    async def _to_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if link.dropped:
                    continue
                writer.write(data)
                await writer.drain()
        writer.close()

    async def aclose(self) -> None:
        self.flowing.set()
        for task in list(self._pumps):
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@contextlib.contextmanager
def stalling_proxy(target: tuple[str, int] = ("127.0.0.1", 6379)) -> Iterator[StallingProxy]:
    """A started proxy on its own loop and thread; closed at the end."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def make() -> StallingProxy:
        return await StallingProxy(loop, target).start()

    proxy = asyncio.run_coroutine_threadsafe(make(), loop).result(timeout=10)
    try:
        yield proxy
    finally:
        asyncio.run_coroutine_threadsafe(proxy.aclose(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
