"""A TCP proxy in front of PostgreSQL that a test can cut and restore: the server under test sees its database go
away (every connection dropped, new ones refused) and come back, as in a crash and restart, while the test's own
database stays up."""

import asyncio
import contextlib
import threading


class DatabaseProxy:
    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.loop = asyncio.new_event_loop()
        self.down = False
        self.writers: set[asyncio.StreamWriter] = set()
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self.thread.start()
        started.wait()

    def _run(self, started):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._connection, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        started.set()
        self.loop.run_forever()

    async def _connection(self, reader, writer):
        if self.down:
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, upstream_writer}
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    async def _pipe(self, reader, writer):
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()
        self.writers.discard(writer)

    def cut(self) -> None:
        """The database goes away: open connections drop, new ones are refused until restore()."""

        async def close_all():
            self.down = True
            for writer in list(self.writers):
                writer.transport.abort()
            self.writers.clear()

        asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(5)

    def restore(self) -> None:
        async def open_again():
            self.down = False

        asyncio.run_coroutine_threadsafe(open_again(), self.loop).result(5)

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
