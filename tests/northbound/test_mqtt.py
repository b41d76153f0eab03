"""The MQTT bridge against a real Mosquitto: events, commands, broker outages, instances."""

from __future__ import annotations

import asyncio
import uuid

import aiomqtt
import orjson
import pytest

from gateway.commands import Outcome
from gateway.northbound import parse_url
from gateway.northbound.commands import (
    BadRequest,
    idle_fee_from_json,
    parse,
    tariff_from_json,
    topic_pile_id,
)
from protocol.pilegate import MsgType
from tests.gateway.conftest import ACCOUNT
from tests.gateway.piles import ScriptedPile
from tests.northbound.support import (
    Listener,
    Mosquitto,
    Rig,
    client_for,
    free_port,
    full_session,
    listening,
    make_bridge,
    new_pile_id,
    online_pile,
    open_gateway,
    reply_topic,
    rig,
    send_command,
    until,
)

SESSION_KINDS = [
    "session_authorised",
    "session_starting",
    "session_charging",
    "session_stopping",
    "session_finished",
    "session_closed",
    "session_settled",
]

TARIFF = {
    "tariff_id": "t-mqtt-1",
    "effective_from_ms": 1_735_689_600_000,
    "prices": {
        "sharp": {"energy_e4": 12_000, "service_e4": 8_000},
        "peak": {"energy_e4": 10_000, "service_e4": 8_000},
        "flat": {"energy_e4": 7_000, "service_e4": 8_000},
        "valley": {"energy_e4": 3_500, "service_e4": 8_000},
    },
    "segments": [
        {"start_minute": 0, "kind": "valley"},
        {"start_minute": 480, "kind": "flat"},
        {"start_minute": 600, "kind": "peak"},
        {"start_minute": 1080, "kind": "sharp"},
        {"start_minute": 1260, "kind": "flat"},
    ],
}


def subsequence(wanted: list[str], seen: list[str]) -> bool:
    it = iter(seen)
    return all(kind in it for kind in wanted)


def first_copies(ids: list[str]) -> list[str]:
    out: list[str] = []
    for i in ids:
        if i not in out:
            out.append(i)
    return out


# --- events ---------------------------------------------------------------------------------


async def drained(r: Rig, pile_id: str, timeout: float = 5.0) -> list[int]:
    """Wait until every outbox row of this pile is marked published; their ids."""
    prefix = f"pilegate/v1/events/{pile_id}/"
    for _ in range(int(timeout / 0.05)):
        rows = [row for row in await r.all_outbox() if row[1].startswith(prefix)]
        if all(published is not None for *_, published in rows):
            return [row[0] for row in rows]
        await asyncio.sleep(0.05)
    raise TimeoutError("outbox not drained")


async def test_a_full_session_is_published_in_order(mqtt_url: str) -> None:
    pile_id = new_pile_id()
    async with (
        listening(mqtt_url, f"pilegate/v1/events/{pile_id}/#") as events,
        rig(mqtt_url, [pile_id]) as r,
    ):
        await until(lambda: r.bridge.connected, what="bridge connected")
        async with online_pile(r.gateway, pile_id) as pile:
            tx = await full_session(r.gateway, pile)
            await events.wait_for(lambda e: "bill" in e.kinds() and "session_settled" in e.kinds())
            published = await drained(r, pile_id)
        await events.wait_for(lambda e: len(e.messages) >= len(published))

        bodies = events.bodies()
        kinds = [b["kind"] for b in bodies]
        assert kinds[0] == "login"
        assert subsequence(SESSION_KINDS, kinds), kinds
        ids = [b["event_id"] for b in bodies]
        assert ids[: len(published)] == published  # each once, in outbox order
        for message, body in zip(events.messages, bodies, strict=True):
            assert message.topic.value == f"pilegate/v1/events/{pile_id}/{body['kind']}"
            assert message.properties is not None
            assert ("event_id", str(body["event_id"])) in message.properties.UserProperty
            assert body["pile_id"] == pile_id and isinstance(body["at_ms"], int)

        login = bodies[0]
        assert (login["vendor"], login["model"], login["guns"], login["enabled"]) == (
            "ACME", "DC120", 2, True,
        )  # fmt: skip
        by_kind = {b["kind"]: b for b in bodies}
        for kind in SESSION_KINDS:
            body = by_kind[kind]
            assert (body["gun"], body["transaction_id"], body["account"]) == (1, tx, ACCOUNT)
            assert body["phase"] == kind.removeprefix("session_")
            assert body["channel"] == "own_app"
        assert by_kind["session_starting"]["from_phase"] == "authorised"
        assert by_kind["session_charging"]["charge_start_ms"] is not None
        bill = by_kind["bill"]
        assert (bill["transaction_id"], bill["energy_dwh"], bill["gun"]) == (tx, 100_000, 1)
        assert bill["status"] in ("accepted", "flagged") and bill["pile_total_fen"] == 1542
        # the pile hung up: "offline" follows
        await events.wait_for(lambda e: "offline" in e.kinds())
        await until(lambda: r.bridge.published >= len(published) + 1)
        stats = r.bridge.stats()
        assert stats["connected"]
        assert stats["publish_failures"] == 0


async def test_gateway_serves_piles_while_the_broker_is_away() -> None:
    pile_id = new_pile_id()
    nowhere = f"mqtt://127.0.0.1:{free_port()}"  # nothing listens there
    async with rig(nowhere, [pile_id]) as r:
        async with online_pile(r.gateway, pile_id) as pile:
            tx = await full_session(r.gateway, pile)
        assert tx and not r.bridge.connected
        rows = await r.all_outbox()
        kinds = [orjson.loads(payload)["kind"] for _, _, payload, _ in rows]
        assert subsequence(["login", *SESSION_KINDS], kinds)
        assert all(published is None for *_, published in rows)
        await until(lambda: r.bridge.stats()["last_error"] is not None)


async def test_broker_down_then_up_loses_no_event(mosquitto: Mosquitto) -> None:
    pile_id = new_pile_id()
    subscriber_id = f"test-sub-{uuid.uuid4().hex[:8]}"
    # A persistent MQTT 3.1.1 session: the broker keeps it (and queues QoS 1 messages for
    # it) across its restart. (Mosquitto 2.0 does not restore MQTT 5 sessions from disk.)
    session = {
        "identifier": subscriber_id,
        "protocol": aiomqtt.ProtocolVersion.V311,
        "clean_session": False,
    }
    topic = f"pilegate/v1/events/{pile_id}/#"
    received: list[aiomqtt.Message] = []
    async with rig(mosquitto.url, [pile_id]) as r:
        await until(lambda: r.bridge.connected, what="bridge connected")
        pile = ScriptedPile(pile_id)
        try:
            async with client_for(mosquitto.url, **{**session, "clean_session": True}):
                pass  # start from an empty session
            async with listening(mosquitto.url, topic, **session) as first:
                await pile.login(r.gateway.tcp_port)
                await first.wait_for(lambda e: "login" in e.kinds())
                received.extend(first.messages)
            # the subscriber is away now; the broker keeps its session

            await mosquitto.stop()
            await until(lambda: not r.bridge.connected, what="bridge noticed the outage")
            tx = await full_session(r.gateway, pile)  # every session event while it is down
            rows = [row for row in await r.all_outbox() if row[1].startswith(topic[:-1])]
            assert sum(1 for *_, published in rows if published is None) >= len(SESSION_KINDS)
            expected = [str(row[0]) for row in rows]

            await mosquitto.start()
            await until(lambda: r.bridge.connected, timeout=8, what="bridge reconnected")
            async with listening(mosquitto.url, topic, **session) as again:

                def complete(e: Listener) -> bool:
                    return set(expected) <= {event_id(m) for m in [*received, *e.messages]}

                await again.wait_for(complete, timeout=8)
                received.extend(again.messages)
        finally:
            await pile.close()

    ids = [event_id(m) for m in received]
    firsts = [i for i in first_copies(ids) if int(i) <= int(expected[-1])]
    assert firsts == expected, (ids, expected)  # every event, once or more, in order
    bodies = [orjson.loads(m.payload) for m in received]  # type: ignore[arg-type]
    kinds = [b["kind"] for b in bodies]
    assert kinds[0] == "login" and subsequence(SESSION_KINDS, kinds) and "bill" in kinds, kinds
    assert all(b["transaction_id"] == tx for b in bodies if b["kind"].startswith("session_"))
    assert r.bridge.connects >= 2 and r.bridge.publish_failures >= 0


def event_id(message: aiomqtt.Message) -> str:
    return str(orjson.loads(message.payload)["event_id"])  # type: ignore[arg-type]


# --- commands -------------------------------------------------------------------------------


async def test_start_command_round_trips(mqtt_url: str) -> None:
    pile_id = new_pile_id()
    replies_to = reply_topic()
    async with (
        rig(mqtt_url, [pile_id]) as r,
        online_pile(r.gateway, pile_id) as pile,
        listening(mqtt_url, replies_to) as replies,
    ):
        await until(lambda: r.bridge.connected, what="bridge connected")
        body = {"gun": 1, "account": ACCOUNT, "channel": "own_app"}
        await send_command(
            replies.client, pile_id, "start", body, reply_to=replies_to, correlation=b"\x00c-1"
        )
        start = await pile.expect(MsgType.START_CHARGE)
        assert (start.message.gun, start.message.account) == (1, ACCOUNT)
        await replies.wait_for(lambda e: len(e.messages) == 1)
        (reply,) = replies.messages
        assert reply.properties is not None and reply.properties.CorrelationData == b"\x00c-1"
        assert orjson.loads(reply.payload) == {  # type: ignore[arg-type]
            "command": "start",
            "pile_id": pile_id,
            "outcome": "accepted",
            "reason": "",
            "transaction_id": start.message.transaction_id,
        }

        # stop, query_bills, set_tariff, disable, enable: each reaches the pile and is answered
        for n, (command, payload, frame) in enumerate(
            [
                ("stop", {"gun": 1}, MsgType.STOP_CHARGE),
                ("query_bills", {"gun": 0}, MsgType.QUERY_BILLS),
                ("set_tariff", TARIFF, MsgType.SET_TARIFF),
                ("disable", b"", MsgType.DISABLE),
                ("enable", {}, MsgType.ENABLE),
            ],
            start=2,
        ):
            await send_command(
                replies.client, pile_id, command, payload, reply_to=replies_to,
                correlation=f"c-{n}".encode(),
            )  # fmt: skip
            await pile.expect(frame)
            await replies.wait_for(lambda e, n=n: len(e.messages) == n)
            last = replies.messages[-1]
            assert last.properties is not None
            assert last.properties.CorrelationData == f"c-{n}".encode()
            answer = orjson.loads(last.payload)  # type: ignore[arg-type]
            assert (answer["command"], answer["outcome"]) == (command, "accepted"), answer
        tariffs = await r.gateway.storage.tariffs_for(pile_id)
        assert any(t.tariff_id == "t-mqtt-1" for t in tariffs)
        assert r.bridge.commands["accepted"] == 6


async def test_malformed_commands_are_rejected_as_bad_requests(mqtt_url: str) -> None:
    pile_id = new_pile_id()
    replies_to = reply_topic()
    async with (
        rig(mqtt_url, [pile_id]) as r,
        online_pile(r.gateway, pile_id) as pile,
        listening(mqtt_url, replies_to) as replies,
    ):
        await until(lambda: r.bridge.connected, what="bridge connected")
        mark = len(pile.received)  # after the login's own configuration
        cases = [
            ("start", b"{not json"),
            ("start", {"gun": 1}),  # no account
            ("start", {"gun": "1", "account": ACCOUNT}),
            ("start", {"gun": 1, "account": ACCOUNT, "channel": "carrier_pigeon"}),
            ("stop", [1]),
            ("set_tariff", {**TARIFF, "segments": [{"start_minute": 60, "kind": "flat"}]}),
            ("reboot", {}),
        ]
        for n, (command, payload) in enumerate(cases):
            await send_command(
                replies.client, pile_id, command, payload, reply_to=replies_to,
                correlation=str(n).encode(),
            )  # fmt: skip
        await replies.wait_for(lambda e: len(e.messages) == len(cases))
        answers = {
            m.properties.CorrelationData: orjson.loads(m.payload)  # type: ignore[union-attr, arg-type]
            for m in replies.messages
        }
        for n, (command, _) in enumerate(cases):
            answer = answers[str(n).encode()]
            assert answer["command"] == command and answer["outcome"] == "rejected"
            assert answer["reason"].startswith("bad_request: "), answer
        assert "account is required" in answers[b"1"]["reason"]
        assert "first segment" in answers[b"5"]["reason"]
        sent = [f.message.TYPE for f in pile.received[mark:]]
        assert MsgType.START_CHARGE not in sent and MsgType.SET_TARIFF not in sent
        assert r.bridge.commands["rejected"] == len(cases)


async def test_a_slow_pile_does_not_hold_up_other_piles(mqtt_url: str) -> None:
    slow_id, fast_id = new_pile_id(), new_pile_id()
    replies_to = reply_topic()
    async with (
        rig(mqtt_url, [slow_id, fast_id]) as r,
        online_pile(r.gateway, slow_id) as slow,
        online_pile(r.gateway, fast_id) as fast,
        listening(mqtt_url, replies_to) as replies,
    ):
        slow.auto_ack = lambda frame: None  # never answers: times out (command_timeout_s = 1)
        await until(lambda: r.bridge.connected, what="bridge connected")
        await send_command(replies.client, slow_id, "query_bills", {}, reply_to=replies_to)
        await slow.expect(MsgType.QUERY_BILLS)
        await send_command(replies.client, fast_id, "query_bills", {}, reply_to=replies_to)
        await fast.expect(MsgType.QUERY_BILLS)
        await replies.wait_for(lambda e: len(e.messages) == 2, timeout=5)
        first, second = replies.bodies()
        assert (first["pile_id"], first["outcome"]) == (fast_id, "accepted")
        assert (second["pile_id"], second["outcome"]) == (slow_id, Outcome.TIMED_OUT.value)


async def test_only_the_instance_holding_the_pile_answers(mqtt_url: str) -> None:
    """Two gateway instances on one broker (and one database): each pile's commands are
    answered once, by the instance its connection is on; a pile connected nowhere gets none."""
    here_id, there_id, nowhere_id = new_pile_id(), new_pile_id(), new_pile_id()
    replies_to = reply_topic()
    async with rig(mqtt_url, [here_id, there_id, nowhere_id]) as one:
        other = await open_gateway(one.db_url, mqtt_url, [])
        two = make_bridge(other, mqtt_url)
        await two.start()
        try:
            async with (
                online_pile(one.gateway, here_id),
                online_pile(other, there_id),
                listening(mqtt_url, replies_to) as replies,
            ):
                await until(lambda: one.bridge.connected and two.connected, what="connected")
                for pile_id in (nowhere_id, there_id, here_id):
                    await send_command(
                        replies.client, pile_id, "query_bills", {"gun": 0},
                        reply_to=replies_to, correlation=pile_id.encode(),
                    )  # fmt: skip
                await replies.wait_for(lambda e: len(e.messages) >= 2)
                await asyncio.sleep(0.5)  # room for a wrong extra answer to show up
                answered = [m.properties.CorrelationData for m in replies.messages]  # type: ignore[union-attr]
                assert sorted(answered) == sorted([here_id.encode(), there_id.encode()])
                assert {b["outcome"] for b in replies.bodies()} == {"accepted"}
                # each instance ignored the two piles it does not hold
                assert one.bridge.commands["ignored"] == 2 and two.commands["ignored"] == 2
                assert one.bridge.commands["accepted"] == 1 and two.commands["accepted"] == 1
        finally:
            await two.stop(grace_s=2)
            await other.stop(grace_s=2)


async def test_command_without_response_topic_still_runs(mqtt_url: str) -> None:
    pile_id = new_pile_id()
    async with rig(mqtt_url, [pile_id]) as r, online_pile(r.gateway, pile_id) as pile:
        await until(lambda: r.bridge.connected, what="bridge connected")
        async with client_for(mqtt_url) as client:
            await send_command(client, pile_id, "disable", {}, reply_to=None)
        await pile.expect(MsgType.DISABLE)
        await until(lambda: r.bridge.commands["accepted"] == 1)


# --- outbox retention, shared outbox, settings ----------------------------------------------


async def test_purge_deletes_only_old_published_rows(mqtt_url: str) -> None:
    pile_id = new_pile_id()
    async with rig(mqtt_url, [pile_id], start=False) as r:
        gw = r.gateway
        now = gw.now_ms()
        for n in range(5):
            gw.emit("alarm", pile_id, {"n": n}, now)
        await gw.storage.flush()
        ids = [row[0] for row in await r.all_outbox()]
        await gw.storage.outbox_published(ids[:2], now - 2 * 86_400_000)  # two days ago
        await gw.storage.outbox_published(ids[2:3], now)  # just now
        assert await r.bridge.purge() == 2
        left = await r.all_outbox()
        assert [row[0] for row in left] == ids[2:]
        assert [row[3] is None for row in left] == [False, True, True]


async def test_a_shared_outbox_is_published_once_and_fails_over(
    mqtt_url: str, postgres_url: str
) -> None:
    """Two instances over one PostgreSQL database: one holds the outbox lease; when it stops,
    the other takes over."""
    pile_id = new_pile_id()
    async with (
        listening(mqtt_url, f"pilegate/v1/events/{pile_id}/#") as events,
        rig(mqtt_url, [pile_id], db="postgresql") as one,
    ):
        other = await open_gateway(one.db_url, mqtt_url, [])
        two = make_bridge(other, mqtt_url)
        await two.start()
        try:
            await until(lambda: one.bridge.connected and two.connected, what="connected")
            async with online_pile(one.gateway, pile_id) as pile:
                await events.wait_for(lambda e: "login" in e.kinds())
                holding = [b for b in (one.bridge, two) if b.stats()["outbox_lease"]]
                assert len(holding) == 1
                leader, follower = (
                    (one.bridge, two) if holding[0] is one.bridge else (two, one.bridge)
                )
                await until(lambda: leader.published >= 1)
                assert follower.published == 0
                await leader.stop(grace_s=2)
                await full_session(one.gateway, pile)
                await events.wait_for(lambda e: "bill" in e.kinds(), timeout=8)
            ids = [b["event_id"] for b in events.bodies()]
            assert len(ids) == len(set(ids)) and ids == sorted(ids)  # once each, in order
            await until(lambda: follower.published > 0)  # (the PUBACK follows the delivery)
            assert follower.stats()["outbox_lease"] and not leader.stats()["outbox_lease"]
        finally:
            await two.stop(grace_s=2)
            await other.stop(grace_s=2)


def test_broker_urls() -> None:
    s = parse_url("mqtts://gw%40site:p%2Fw@broker.example:8884?client_id=gw-7")
    assert (s.host, s.port, s.tls, s.username, s.password, s.client_id) == (
        "broker.example", 8884, True, "gw@site", "p/w", "gw-7",
    )  # fmt: skip
    assert parse_url("mqtt://localhost").port == 1883
    assert parse_url("mqtts://localhost").port == 8883
    for bad in ("http://x", "mqtt://", "mqtt://h?qos=2", "mqtt://h:99999"):
        with pytest.raises(ValueError):
            parse_url(bad)


def test_command_payloads() -> None:
    gun, _ = parse("start", "4403060003000020", b'{"gun": 2, "account": "a"}')
    assert gun == 2
    assert parse("query_bills", "4403060003000020", b"")[0] == 0
    tariff = tariff_from_json(TARIFF, "44030600030000200060")
    assert tariff.scope_id == "44030600030000200060" and len(tariff.segments) == 5
    with pytest.raises(BadRequest, match="scope_id"):
        tariff_from_json({**TARIFF, "scope_id": "other"}, "44030600030000200060")
    with pytest.raises(BadRequest, match="no price"):
        flat_only = {"flat": TARIFF["prices"]["flat"]}  # type: ignore[index]
        tariff_from_json({**TARIFF, "prices": flat_only}, "4403060003000020")
    with pytest.raises(BadRequest, match=r"gun must be 1\.\.255"):
        parse("stop", "4403060003000020", b'{"gun": 0}')


def test_command_topics_name_piles_like_the_wire() -> None:
    """A 16-digit pile id in a command topic is the pile's padded 20-digit id; anything else
    is no pile (MQTT ignores it everywhere; parse refuses it)."""
    assert topic_pile_id("4403060003000020") == "00004403060003000020"
    assert topic_pile_id("12345") is None
    assert topic_pile_id("'; DROP TABLE bills; --") is None
    with pytest.raises(BadRequest, match="16 or 20 decimal digits"):
        parse("enable", "12345", b"")
    gun, _ = parse("time_sync", "4403060003000020", b"")
    assert gun == 0
    with pytest.raises(BadRequest, match="rate_fen_per_minute is required"):
        parse("set_idle_fee", "4403060003000020", b'{"grace_minutes": 15}')
    assert idle_fee_from_json({"grace_minutes": 15, "rate_fen_per_minute": 50}).cap_fen is None
