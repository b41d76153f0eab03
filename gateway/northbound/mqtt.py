"""The MQTT bridge: publishes the outbox (events) and executes commands (docs/mqtt.md).

    bridge = MqttBridge(gateway, "mqtt://user:pass@broker:1883?client_id=gw-1")
    await bridge.start()      # returns at once; connects (and reconnects) in the background
    ...
    await bridge.stop()       # answers commands in flight, publishes what is queued, disconnects

- Events: a loop reads ``storage.outbox_pending()`` in id order, publishes each row with QoS 1,
  awaits the PUBACKs and only then marks the rows published. An event produced while the broker
  is away stays in the outbox and is published after it comes back, in order; a row may be
  published twice (crash or disconnect between PUBACK and marking): at-least-once, deduplicate
  on ``event_id``.
- Commands: ``pilegate/v1/cmd/{pile_id}/{command}``, executed only by the instance that holds
  the pile's connection; the reply goes to the MQTT 5 response topic with the request's
  correlation data.
- The bridge never blocks the gateway: everything runs in its own task, every failure is
  logged and retried with exponential back-off and jitter (capped at ``max_backoff_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import ssl
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiomqtt
import orjson
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.northbound.commands import BadRequest, parse, topic_pile_id
from gateway.northbound.outbox import OutboxLease, purge_published
from protocol.error_root import PilegateError

EVENTS_PREFIX = "pilegate/v1/events"
COMMANDS_PREFIX = "pilegate/v1/cmd"
COMMANDS_FILTER = f"{COMMANDS_PREFIX}/+/+"


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None
    client_id: str | None = None

    @property
    def where(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_url(url: str) -> BrokerSettings:
    """``mqtt[s]://[user[:password]@]host[:port][?client_id=ID]``; ValueError if malformed."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {url.split(':')[0]}")
    if not parts.hostname:
        raise ValueError("MQTT URL has no host")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ValueError("MQTT URL has a bad port") from None
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"client_id"}
    if unknown:
        raise ValueError(f"unknown MQTT URL parameter(s): {', '.join(sorted(unknown))}")
    client_id = query.get("client_id", [None])[-1] or None
    return BrokerSettings(
        host=parts.hostname,
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        client_id=client_id,
    )


class _PublishFailed(PilegateError):
    """Publishing to the broker failed: reconnect (the rows stay in the outbox)."""


def _first_error(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _payload_bytes(payload: Any) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    return str(payload).encode()


class MqttBridge:
    def __init__(
        self,
        gateway: Any,
        url: str,
        *,
        client_id: str | None = None,
        instance_id: str | None = None,
        poll_interval_s: float = 0.1,
        batch_size: int = 200,
        publish_timeout_s: float = 10.0,
        retention_s: float = 86_400.0,
        purge_interval_s: float = 3_600.0,
        min_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        max_commands: int = 1_000,
        keepalive_s: int = 30,
    ) -> None:
        self.gateway = gateway
        self.storage = gateway.storage
        self.settings = parse_url(url)
        self.instance_id = instance_id or f"{socket.gethostname()}-{os.getpid()}"
        self.client_id = client_id or self.settings.client_id or f"pilegate-{self.instance_id}"
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self.publish_timeout_s = publish_timeout_s
        self.retention_s = retention_s
        self.purge_interval_s = purge_interval_s
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_commands = max_commands
        self.keepalive_s = keepalive_s
        self.log = gateway.log.bind(component="mqtt", broker=self.settings.where)
        # health, for /metrics
        self.connected = False
        self.connects = 0
        self.published = 0
        self.publish_failures = 0
        self.publish_dropped = 0  # rows the broker library refused outright (bad topic)
        self.reply_failures = 0
        self.commands: Counter[str] = Counter()  # outcome (accepted, ..., ignored) -> count
        self.last_error: str | None = None
        self._lease = OutboxLease(self.storage, self.log)
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._command_tasks: set[asyncio.Task[None]] = set()
        self._drain_lock = asyncio.Lock()
        self._stopping = False
        self._tls_context: ssl.SSLContext | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background; returns at once (the broker may be away)."""
        if self._task is not None:
            return
        if self.settings.tls:
            # Loading the system CA store reads files: do it off the event loop, once.
            self._tls_context = await asyncio.to_thread(ssl.create_default_context)
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="pilegate-mqtt")
        self._task.add_done_callback(self._run_done)

    async def stop(self, grace_s: float = 5.0) -> None:
        """Answer commands in flight, publish what the outbox holds (within grace_s), then
        disconnect. Call it before ``gateway.stop()``, which closes the storage."""
        if self._task is None:
            return
        self._stopping = True
        if self._command_tasks:
            await asyncio.wait(list(self._command_tasks), timeout=grace_s)
        client = self._client
        if client is not None and self.connected:
            try:
                async with asyncio.timeout(grace_s):
                    await self.storage.flush()
                    async with self._drain_lock:
                        while await self._drain_once(client) >= self.batch_size:
                            pass
            except Exception as exc:
                self.log.warning("mqtt_final_drain_incomplete", error=repr(_first_error(exc)))
        for task in [*self._command_tasks, self._task]:
            task.cancel()
        await asyncio.wait([self._task, *self._command_tasks], timeout=grace_s + 10)
        self._task = None
        with contextlib.suppress(Exception):
            await self._lease.release()
        self.log.info("mqtt_bridge_stopped", published=self.published)

    def _run_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("mqtt_bridge_crashed", error=repr(task.exception()))

    def stats(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "connects": self.connects,
            "published": self.published,
            "publish_failures": self.publish_failures,
            "publish_dropped": self.publish_dropped,
            "reply_failures": self.reply_failures,
            "commands": dict(self.commands),
            "commands_in_flight": len(self._command_tasks),
            "outbox_lease": (not self._lease.shared) or self._lease.holding,
            "last_error": self.last_error,
        }

    # --- connection -------------------------------------------------------------------------

    def _new_client(self) -> aiomqtt.Client:
        s = self.settings
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=True,  # no session: commands sent while we were away are not run late
            keepalive=self.keepalive_s,
            timeout=self.publish_timeout_s,
            tls_context=self._tls_context,
            max_inflight_messages=self.batch_size,
        )
        client.pending_calls_threshold = self.batch_size + self.max_commands
        return client

    def backoff(self, attempt: int) -> float:
        """Exponential back-off with jitter: in [cap/2, cap], cap = min(max, min * 2^attempt)."""
        cap = min(self.max_backoff_s, self.min_backoff_s * 2 ** min(attempt, 30))
        return random.uniform(cap / 2, cap)

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            client = self._new_client()
            began = time.monotonic()
            error: BaseException | None = None
            try:
                async with client:
                    self._client, self.connected = client, True
                    self.connects += 1
                    self.log.info("mqtt_connected", client_id=self.client_id)
                    async with asyncio.TaskGroup() as group:
                        group.create_task(self._publisher(client))
                        group.create_task(self._command_loop(client))
            except Exception as exc:
                error = _first_error(exc)
            finally:
                self._client, self.connected = None, False
            if self._stopping:
                return
            if time.monotonic() - began > 30:
                attempt = 0  # it was a working connection: start backing off afresh
            delay = self.backoff(attempt)
            attempt += 1
            self.last_error = repr(error)
            self.log.warning("mqtt_disconnected", error=repr(error), retry_in_s=round(delay, 2))
            await asyncio.sleep(delay)

    # --- outbox -----------------------------------------------------------------------------

    async def _publisher(self, client: aiomqtt.Client) -> None:
        next_purge = time.monotonic() + min(60.0, self.purge_interval_s)
        while True:
            published = 0
            try:
                async with self._drain_lock:
                    published = await self._drain_once(client)
            except _PublishFailed:
                raise  # reconnect
            except Exception as exc:  # the database: log, wait, retry; the broker is fine
                self.log.warning("mqtt_outbox_read_failed", error=repr(exc))
                await asyncio.sleep(1.0)
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + self.purge_interval_s
                await self.purge()
            if published < self.batch_size:
                await asyncio.sleep(self.poll_interval_s)

    async def _drain_once(self, client: aiomqtt.Client) -> int:
        """Publish one batch of pending rows (QoS 1, PUBACKs awaited), mark the acknowledged
        prefix published; the number of rows done. Raise _PublishFailed on a broker error."""
        if not await self._lease.held():
            return 0
        rows = await self.storage.outbox_pending(self.batch_size)
        if not rows:
            return 0
        sends = []
        for row_id, topic, body in rows:
            if isinstance(body, dict):
                body = {**body, "event_id": row_id}
            props = Properties(PacketTypes.PUBLISH)
            props.ContentType = "application/json"
            props.UserProperty = [("event_id", str(row_id))]
            sends.append(
                client.publish(
                    topic,
                    orjson.dumps(body),
                    qos=1,
                    properties=props,
                    timeout=self.publish_timeout_s,
                )
            )
        # Published concurrently: the broker keeps one client's QoS 1 messages in order.
        results = await asyncio.gather(*sends, return_exceptions=True)
        done: list[int] = []
        failure: BaseException | None = None
        for (row_id, topic, _), result in zip(rows, results, strict=True):
            if isinstance(result, ValueError | TypeError):
                # Refused before sending (e.g. a wildcard in the topic): retrying cannot help.
                self.publish_dropped += 1
                self.log.error(
                    "mqtt_event_dropped", event_id=row_id, topic=topic, error=repr(result)
                )
            elif isinstance(result, BaseException):
                failure = result
                break
            else:
                self.published += 1
            done.append(row_id)
        if done:
            await self.storage.outbox_published(done, self.gateway.now_ms())
        if failure is not None:
            self.publish_failures += len(rows) - len(done)
            raise _PublishFailed(repr(failure)) from failure
        return len(done)

    async def purge(self) -> int:
        """Delete outbox rows published more than retention_s ago (the lease holder only)."""
        if not await self._lease.held():
            return 0
        try:
            cutoff = self.gateway.now_ms() - int(self.retention_s * 1000)
            purged = await purge_published(self.storage, cutoff)
        except Exception as exc:
            self.log.warning("mqtt_outbox_purge_failed", error=repr(exc))
            return 0
        if purged:
            self.log.info("mqtt_outbox_purged", rows=purged)
        return purged

    # --- commands ---------------------------------------------------------------------------

    async def _command_loop(self, client: aiomqtt.Client) -> None:
        await client.subscribe(COMMANDS_FILTER, qos=1)
        async for message in client.messages:
            try:
                self._dispatch(message)
            except Exception:  # never let one message end the connection
                self.log.exception("mqtt_command_dispatch_failed", topic=str(message.topic))

    def _dispatch(self, message: aiomqtt.Message) -> None:
        parts = message.topic.value.split("/")
        if len(parts) != 5 or "/".join(parts[:3]) != COMMANDS_PREFIX:
            return
        pile_id, command = topic_pile_id(parts[3]), parts[4]
        if pile_id is None and parts[3] in self.gateway.piles:
            pile_id = parts[3]  # a pile of another dialect (an OCPP charge point id)
        pile = self.gateway.piles.get(pile_id) if pile_id is not None else None
        stopping = self._stopping or self.gateway.stopping
        if pile_id is None or pile is None or not pile.online or stopping:
            # Not ours: the instance holding the pile's connection answers.
            self.commands["ignored"] += 1
            self.log.debug("mqtt_command_ignored", pile=parts[3], command=command)
            return
        props = message.properties
        response_topic = getattr(props, "ResponseTopic", None) if props is not None else None
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        payload = _payload_bytes(message.payload)
        if len(self._command_tasks) >= self.max_commands:
            coro = self._reply_only(
                command, pile_id, response_topic, correlation, "busy: too many commands in flight"
            )
        else:
            coro = self._execute(command, pile_id, payload, response_topic, correlation)
        task = asyncio.create_task(coro, name=f"pilegate-mqtt-cmd-{pile_id}-{command}")
        self._command_tasks.add(task)
        task.add_done_callback(self._command_tasks.discard)

    async def _execute(
        self,
        command: str,
        pile_id: str,
        payload: bytes,
        response_topic: str | None,
        correlation: bytes | None,
    ) -> None:
        try:
            _, call = parse(command, pile_id, payload)
        except BadRequest as exc:
            await self._reply_only(
                command, pile_id, response_topic, correlation, f"bad_request: {exc}"
            )
            return
        try:
            result = (await call(self.gateway)).as_dict()
        except Exception as exc:
            self.log.exception("mqtt_command_failed", pile=pile_id, command=command)
            result = {"outcome": "rejected", "reason": f"error: {exc!r}", "transaction_id": None}
        await self._reply(command, pile_id, response_topic, correlation, result)

    async def _reply_only(
        self,
        command: str,
        pile_id: str,
        response_topic: str | None,
        correlation: bytes | None,
        reason: str,
    ) -> None:
        result = {"outcome": "rejected", "reason": reason, "transaction_id": None}
        await self._reply(command, pile_id, response_topic, correlation, result)

    async def _reply(
        self,
        command: str,
        pile_id: str,
        response_topic: str | None,
        correlation: bytes | None,
        result: dict[str, Any],
    ) -> None:
        self.commands[str(result["outcome"])] += 1
        if not response_topic:
            self.log.info("mqtt_command_without_response_topic", pile=pile_id, command=command)
            return
        body = {"command": command, "pile_id": pile_id, **result}
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = "application/json"
        if correlation is not None:
            props.CorrelationData = correlation
        client = self._client  # the current connection (it may have changed meanwhile)
        try:
            if client is None:
                raise ConnectionError("not connected to the broker")
            await client.publish(
                response_topic,
                orjson.dumps(body),
                qos=1,
                properties=props,
                timeout=self.publish_timeout_s,
            )
        except Exception as exc:
            self.reply_failures += 1
            self.log.warning("mqtt_reply_failed", pile=pile_id, command=command, error=repr(exc))
