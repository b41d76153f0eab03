"""protocol.sniff tells YKC from pilegate v1 by the first frame on port 2406."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.pilegate import encode as pilegate_encode
from protocol.pilegate.examples import EXAMPLES
from protocol.sniff import PILEGATE_MAX_LENGTH, SNIFF_LIMIT, YKC_MIN_LENGTH, sniff
from protocol.ykc import CrcOrder
from protocol.ykc import encode as ykc_encode
from tests.protocol.ykc.samples import MALFORMED, SAMPLES
from tests.protocol.ykc.strategies import any_message, seqs

PILEGATE_FRAMES = {t.name: pilegate_encode(m, seq) for t, (seq, m) in EXAMPLES.items()}
YKC_FRAMES = {name: raw for name, raw in SAMPLES.items() if name not in MALFORMED}


def test_the_length_bytes_of_the_two_protocols_cannot_overlap() -> None:
    # pilegate v1's length high byte must stay below YKC's smallest length byte
    assert PILEGATE_MAX_LENGTH >> 8 < YKC_MIN_LENGTH


@pytest.mark.parametrize("name", sorted(YKC_FRAMES))
def test_ykc_samples_are_ykc_and_their_prefixes_undecided(name: str) -> None:
    raw = YKC_FRAMES[name]
    assert sniff(raw) == "ykc"
    assert all(sniff(raw[:cut]) is None for cut in range(len(raw)))


@pytest.mark.parametrize("name", sorted(PILEGATE_FRAMES))
def test_pilegate_frames_are_pilegate_and_their_prefixes_undecided(name: str) -> None:
    raw = PILEGATE_FRAMES[name]
    assert sniff(raw) == "pilegate"
    assert all(sniff(raw[:cut]) is None for cut in range(0, len(raw), 7))


def test_a_modem_banner_before_the_login_is_skipped() -> None:
    banner = b"\x68\x68+++AT\r\nCONNECT 4G h\x30"
    assert sniff(banner + SAMPLES["login"]) == "ykc"
    assert sniff(banner + PILEGATE_FRAMES["LOGIN"]) == "pilegate"


def test_a_false_start_announcing_many_bytes_does_not_hide_a_later_frame() -> None:
    assert sniff(b"\x68\xff\x00\x00\x00" + SAMPLES["login"]) == "ykc"
    assert sniff(b"\x68\x03\xf0" + SAMPLES["heartbeat"]) == "ykc"


def test_corrupted_first_frame_is_not_recognised() -> None:
    bad = bytearray(SAMPLES["login"])
    bad[10] ^= 0xFF
    assert sniff(bytes(bad)) is None
    assert sniff(bytes(bad) + SAMPLES["login"]) == "ykc"


def test_wrong_length_sample_is_not_recognised() -> None:
    assert sniff(SAMPLES["heartbeat_reply"]) is None


@settings(max_examples=200, deadline=None)
@given(message=any_message, seq=seqs, order=st.sampled_from(list(CrcOrder)))
def test_every_ykc_frame_is_ykc(message, seq, order) -> None:  # type: ignore[no-untyped-def]
    assert sniff(ykc_encode(message, seq, order)) == "ykc"


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=SNIFF_LIMIT))
def test_random_bytes_never_raise(data: bytes) -> None:
    assert sniff(data) in (None, "ykc", "pilegate")
