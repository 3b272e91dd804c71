"""The LISTEN connection of a PostgreSQL replica: noticed when it dies, and listened again.

A backend the server terminates (pg_terminate_backend), and a connection that goes silent (a
TCP relay in between stops relaying without closing, as a dropped NAT flow does: no error
ever arrives) are both replaced by a new listener, and another replica's alert reaches this
one again long before the poll (30 s here)."""

from __future__ import annotations

import asyncio

from inferwatch.notifier.storage import Cluster
from tests.notifier.helpers import alert_body
from tests.support.webhook import until

LISTENER = "inferwatch-notifier b listen"  # replica b's listener, as pg_stat_activity names it


def config(url: str) -> str:
    return f"""
route: {{receiver: hook, group_by: [alertname], group_wait: 20s}}
receivers:
  - name: hook
    urls: ["{url}"]
"""


class Relay:
    """A TCP relay on 127.0.0.1 to the server; `freeze(port)` stops relaying, both ways, the
    connection whose server-side peer is that local port, and leaves it open."""

    def __init__(self, target: int):
        self.target, self.frozen, self.port = target, set(), 0
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> Relay:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def freeze(self, port: int) -> None:
        self.frozen.add(port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        port = up_writer.get_extra_info("sockname")[1]
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst, port))
            self.tasks.add(task)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                    port: int) -> None:
        try:
            while data := await src.read(65536):
                if port in self.frozen:
                    await asyncio.Event().wait()  # silent from now on, closed at stop()
                dst.write(data)
                await dst.drain()
        except OSError:
            pass
        finally:
            dst.close()

    async def stop(self) -> None:
        self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def alert_reaches(other, client) -> None:
    """An alert posted on replica a shows on replica b (whose poll is 30 s) within 3 s."""
    resp = await client.post("/api/v2/alerts", json=[alert_body("Prompt")])
    assert resp.status == 200, await resp.text()
    await until(lambda: any(a.labels.get("alertname") == "Prompt"
                            for a in other.active.values()), 3, what="the alert on replica b")


async def test_a_terminated_listener_backend_is_replaced(
        sink, start_notifier, pg_server, pg_url) -> None:
    db = pg_url.rsplit("/", 1)[1]
    other, _ = await start_notifier(config(sink.url()), storage=pg_url,
                                    cluster=Cluster("b", lease=5.0, poll=30.0))
    await until(lambda: other.storage.listening, what="replica b listening")
    [(killed,)] = pg_server.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                f"WHERE application_name = '{LISTENER}'", db)
    assert killed
    await until(lambda: other.storage.listens == 2 and other.storage.listening, 5,
                what="a new listener")
    _, client = await start_notifier(config(sink.url()), storage=pg_url,
                                     cluster=Cluster("a", lease=5.0, poll=30.0))
    await alert_reaches(other, client)


async def test_a_silent_listener_connection_is_noticed_and_replaced(
        sink, start_notifier, pg_server, pg_url) -> None:
    db = pg_url.rsplit("/", 1)[1]
    relay = await Relay(pg_server.port).start()
    relayed = pg_url.replace(f":{pg_server.port}/", f":{relay.port}/")
    try:
        other, _ = await start_notifier(
            config(sink.url()), storage=relayed,
            cluster=Cluster("b", lease=5.0, poll=30.0, keepalive=0.5))
        await until(lambda: other.storage.listening, what="replica b listening")
        [(port,)] = pg_server.sql("SELECT client_port FROM pg_stat_activity "
                                  f"WHERE application_name = '{LISTENER}'", db)
        relay.freeze(port)
        await until(lambda: other.storage.listens == 2 and other.storage.listening, 5,
                    what="a new listener once the silent one missed its check")
        _, client = await start_notifier(config(sink.url()), storage=pg_url,
                                         cluster=Cluster("a", lease=5.0, poll=30.0))
        await alert_reaches(other, client)
        await other.stop()
    finally:
        await relay.stop()
