"""The LOGIN MAC (protocol/pilegate/login_auth.py, docs/protocol.md §6.1.1)."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

import pytest

from protocol.pilegate import Login, decode_frame, encode
from protocol.pilegate.codec import Frame
from protocol.pilegate.login_auth import (
    LABEL,
    NO_MAC,
    ReplayGuard,
    Verdict,
    login_mac,
    mac_input,
    parse_secret,
    sign_login,
    verify_login,
)
from tests.vectors import generate

SECRET = bytes(range(32))
OTHER = bytes(32 - i for i in range(32))
T0 = 1_735_700_400_000
WINDOW = 300_000
LOGIN = Login("44030600030000200060", "ACME", "DC120-2", "V2.3.7", 1, 2, T0)


def check(login: Login, guard: ReplayGuard, now_ms: int = T0, previous: bytes | None = None):
    secrets = [(SECRET, False)] + ([(previous, True)] if previous else [])
    return verify_login(login, secrets, now_ms=now_ms, window_ms=WINDOW, guard=guard)


def test_mac_covers_the_label_and_the_body_before_auth() -> None:
    frame = encode(LOGIN, 1)
    body = frame[7:-2]
    assert mac_input(LOGIN) == LABEL + body[:76]
    assert login_mac(SECRET, LOGIN) == hmac.new(SECRET, LABEL + body[:76], hashlib.sha256).digest()


def test_the_signed_vector_is_the_example_login_signed_with_the_example_secret() -> None:
    vector = json.loads((generate.VECTORS_DIR / "login_signed.json").read_text())
    frame = decode_frame(bytes.fromhex(vector["hex"]))
    assert isinstance(frame, Frame)
    secret = bytes.fromhex(vector["secret"])
    assert bytes.fromhex(vector["mac_input"]) == mac_input(frame.message)  # type: ignore[arg-type]
    expected = hmac.new(secret, bytes.fromhex(vector["mac_input"]), hashlib.sha256).digest()
    assert frame.message.auth == expected  # type: ignore[attr-defined]


def test_good_mac_is_accepted_once() -> None:
    guard = ReplayGuard()
    signed = sign_login(LOGIN, SECRET)
    assert check(signed, guard, now_ms=T0 + 1_000) is Verdict.VALID
    assert check(signed, guard, now_ms=T0 + 2_000) is Verdict.REPLAYED


def test_wrong_secret_or_changed_field_is_refused() -> None:
    guard = ReplayGuard()
    assert check(sign_login(LOGIN, OTHER), guard) is Verdict.BAD_MAC
    tampered = replace(sign_login(LOGIN, SECRET), firmware="V9.9.9")
    assert check(tampered, guard) is Verdict.BAD_MAC
    assert check(sign_login(LOGIN, SECRET), ReplayGuard()) is Verdict.VALID


def test_all_zero_auth_is_missing_and_no_secret_means_bad_mac() -> None:
    assert check(LOGIN, ReplayGuard()) is Verdict.MISSING
    signed = sign_login(LOGIN, SECRET)
    assert verify_login(signed, [], now_ms=T0, window_ms=WINDOW, guard=ReplayGuard()) is (
        Verdict.BAD_MAC
    )


@pytest.mark.parametrize("offset", [-WINDOW - 1, WINDOW + 1])
def test_login_time_outside_the_window_is_clock_skew(offset: int) -> None:
    signed = sign_login(LOGIN, SECRET)
    assert check(signed, ReplayGuard(), now_ms=T0 + offset) is Verdict.CLOCK_SKEW
    assert check(signed, ReplayGuard(), now_ms=T0 - offset) is Verdict.CLOCK_SKEW


def test_window_edges_are_inside() -> None:
    signed = sign_login(LOGIN, SECRET)
    assert check(signed, ReplayGuard(), now_ms=T0 + WINDOW) is Verdict.VALID
    assert check(signed, ReplayGuard(), now_ms=T0 - WINDOW) is Verdict.VALID


def test_previous_secret_is_reported_as_such() -> None:
    signed = sign_login(LOGIN, OTHER)
    assert check(signed, ReplayGuard(), previous=OTHER) is Verdict.VALID_PREVIOUS


def test_replay_guard_forgets_a_mac_once_its_time_left_the_window() -> None:
    guard = ReplayGuard()
    guard.remember(b"a" * 32, until_ms=100)
    guard.remember(b"b" * 32, until_ms=200)
    assert guard.seen(b"a" * 32, now_ms=100)
    assert not guard.seen(b"a" * 32, now_ms=101)
    assert len(guard) == 1
    assert not guard.seen(b"b" * 32, now_ms=201)
    assert len(guard) == 0


def test_parse_secret() -> None:
    assert parse_secret(SECRET.hex().upper()) == SECRET
    for bad in ("", "zz" * 32, "00" * 31, "00" * 33):
        with pytest.raises(ValueError):
            parse_secret(bad)


def test_no_mac_is_zeros() -> None:
    assert NO_MAC == bytes(32) == LOGIN.auth


def test_the_worked_example_in_the_doc_is_the_signed_vector() -> None:
    vector = json.loads((generate.VECTORS_DIR / "login_signed.json").read_text())
    doc = generate.DOC.read_text()
    assert f"auth    {vector['fields']['auth']}" in doc
    assert f"frame   {vector['hex']}" in doc
    assert f"secret  {vector['secret']}" in doc
    label, body = vector["mac_input"][: 2 * len(LABEL)], vector["mac_input"][2 * len(LABEL) :]
    assert f"M       {label} {body}" in doc
