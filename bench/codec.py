"""Codec throughput on one core: decode via FrameDecoder.feed on a long stream, encode via
protocol.encode, for HEARTBEAT (2 guns) and BILL; plus construct's reference parse of the
heartbeat body for comparison; and the same for the YKC dialect (protocol.ykc: 0x03
heartbeat, 0x3B bill) through YkcFrameDecoder.feed.

YKC rows are also measured in CPU time of this process (``time.process_time``): on a machine
shared with other work, wall-clock rates measure the share of a core the run got, CPU-time
rates what one core does. The YKC target is checked on the CPU-time figure.

    python bench/codec.py [--frames N] [--chunk BYTES] [--repeat R]

Prints a table and one JSON line (the last line) with the figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from protocol.pilegate import FrameDecoder, MsgType, encode  # noqa: E402
from protocol.pilegate.examples import EXAMPLES  # noqa: E402
from protocol.pilegate.schemas import BODIES  # noqa: E402
from protocol.ykc import YkcFrameDecoder  # noqa: E402
from protocol.ykc import encode as ykc_encode  # noqa: E402
from protocol.ykc.messages import Bill as YkcBill  # noqa: E402
from protocol.ykc.messages import Heartbeat as YkcHeartbeat  # noqa: E402
from protocol.ykc.messages import Message as YkcMessage  # noqa: E402

TARGET_HEARTBEAT_DECODE = 150_000  # frames/s
TARGET_YKC_HEARTBEAT_DECODE = 300_000  # frames/s, CPU time on one core


def best_rate(
    run: Callable[[], int], repeat: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Items per second of the fastest of ``repeat`` runs (least disturbed by the machine)."""
    best = 0.0
    for _ in range(repeat):
        start = clock()
        count = run()
        elapsed = clock() - start
        best = max(best, count / elapsed)
    return best


def _ykc_bill() -> YkcBill:
    periods = {
        f"{period}_{name}": value
        for period, price in (
            ("sharp", 150000),
            ("peak", 130000),
            ("flat", 110000),
            ("valley", 90000),
        )
        for name, value in (
            ("price_e5", price),
            ("energy_dwh", 41250),
            ("loss_energy_dwh", 41250),
            ("amount_e4", 51562),
        )
    }
    return YkcBill(
        trade_no="32010600019236012312131704140001",
        pile="32010600019236",
        gun="01",
        start_time=None,
        end_time=None,
        meter_start_dwh=123_456_789,
        meter_end_dwh=123_621_789,
        total_energy_dwh=165000,
        total_loss_energy_dwh=165000,
        total_amount_e4=206248,
        vin="LSVAU2180N2183294",
        trade_flag=1,
        trade_time=None,
        stop_reason=0x40,
        physical_card="00000000D14B0A54",
        **periods,
    )


YKC_EXAMPLES: dict[str, YkcMessage] = {
    "heartbeat": YkcHeartbeat("32010600019236", "01", 0),
    "bill": _ykc_bill(),
}


def ykc_decode_rate(
    name: str, frames: int, chunk: int, repeat: int, clock: Callable[[], float]
) -> float:
    message = YKC_EXAMPLES[name]
    stream = b"".join(ykc_encode(message, seq & 0xFFFF) for seq in range(frames))
    chunks = [stream[i : i + chunk] for i in range(0, len(stream), chunk)]

    def run() -> int:
        decoder, decoded = YkcFrameDecoder(), 0
        for piece in chunks:
            decoded += len(decoder.feed(piece))
        if decoded != frames:
            raise AssertionError(f"decoded {decoded} of {frames} YKC frames")
        return decoded

    return best_rate(run, repeat, clock)


def ykc_encode_rate(name: str, frames: int, repeat: int, clock: Callable[[], float]) -> float:
    message = YKC_EXAMPLES[name]

    def run() -> int:
        for seq in range(frames):
            ykc_encode(message, seq & 0xFFFF)
        return frames

    return best_rate(run, repeat, clock)


def decode_rate(msg_type: MsgType, frames: int, chunk: int, repeat: int) -> float:
    _, message = EXAMPLES[msg_type]
    stream = b"".join(encode(message, seq & 0xFFFF) for seq in range(frames))
    chunks = [stream[i : i + chunk] for i in range(0, len(stream), chunk)]

    def run() -> int:
        decoder, decoded = FrameDecoder(), 0
        for piece in chunks:
            decoded += len(decoder.feed(piece))
        if decoded != frames:
            raise AssertionError(f"decoded {decoded} of {frames} frames")
        return decoded

    return best_rate(run, repeat)


def encode_rate(msg_type: MsgType, frames: int, repeat: int) -> float:
    _, message = EXAMPLES[msg_type]

    def run() -> int:
        for seq in range(frames):
            encode(message, seq & 0xFFFF)
        return frames

    return best_rate(run, repeat)


def construct_parse_rate(msg_type: MsgType, frames: int, repeat: int) -> float:
    seq, message = EXAMPLES[msg_type]
    body = encode(message, seq)[7:-2]
    parse = BODIES[msg_type].parse

    def run() -> int:
        for _ in range(frames):
            parse(body)
        return frames

    return best_rate(run, repeat)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000, help="frames per run")
    parser.add_argument("--chunk", type=int, default=4096, help="bytes per feed() call")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best is reported")
    args = parser.parse_args(argv)

    hb, bill = MsgType.HEARTBEAT, MsgType.BILL
    hb_size = len(encode(EXAMPLES[hb][1], 0))
    bill_size = len(encode(EXAMPLES[bill][1], 0))
    figures = {
        "heartbeat_decode_fps": decode_rate(hb, args.frames, args.chunk, args.repeat),
        "heartbeat_encode_fps": encode_rate(hb, args.frames, args.repeat),
        "bill_decode_fps": decode_rate(bill, args.frames, args.chunk, args.repeat),
        "bill_encode_fps": encode_rate(bill, args.frames, args.repeat),
        "heartbeat_construct_parse_fps": construct_parse_rate(
            hb, max(args.frames // 10, 1000), args.repeat
        ),
    }
    ratio = figures["heartbeat_decode_fps"] / figures["heartbeat_construct_parse_fps"]
    cpu = time.process_time
    for name in YKC_EXAMPLES:
        for suffix, clock in (("", time.perf_counter), ("_cpu", cpu)):
            figures[f"ykc_{name}_decode_fps{suffix}"] = ykc_decode_rate(
                name, args.frames, args.chunk, args.repeat, clock
            )
            figures[f"ykc_{name}_encode_fps{suffix}"] = ykc_encode_rate(
                name, args.frames, args.repeat, clock
            )
    ykc_sizes = {name: len(ykc_encode(m, 0)) for name, m in YKC_EXAMPLES.items()}

    rows = [
        (f"HEARTBEAT, 2 guns ({hb_size} B)", "decode (FrameDecoder.feed)", "heartbeat_decode_fps"),
        (f"HEARTBEAT, 2 guns ({hb_size} B)", "encode", "heartbeat_encode_fps"),
        (f"BILL ({bill_size} B)", "decode (FrameDecoder.feed)", "bill_decode_fps"),
        (f"BILL ({bill_size} B)", "encode", "bill_encode_fps"),
        ("HEARTBEAT body", "construct reference parse", "heartbeat_construct_parse_fps"),
    ]
    for name, label in (("heartbeat", "YKC 0x03 heartbeat"), ("bill", "YKC 0x3B bill")):
        message = f"{label} ({ykc_sizes[name]} B)"
        for op, key in (("decode", f"ykc_{name}_decode_fps"), ("encode", f"ykc_{name}_encode_fps")):
            rows.append((message, f"{op}, wall clock", key))
            rows.append((message, f"{op}, CPU time", f"{key}_cpu"))
    print(
        f"pilegate codec benchmark: Python {platform.python_version()}, one core, "
        f"{args.frames} frames/run, feed chunks of {args.chunk} B, best of {args.repeat}"
    )
    print(f"{'message':<30} {'operation':<28} {'frames/s':>12} {'µs/frame':>9}")
    print("-" * 82)
    for message, operation, key in rows:
        rate = figures[key]
        print(f"{message:<30} {operation:<28} {rate:>12,.0f} {1e6 / rate:>9.2f}")
    print("-" * 82)
    verdict = "meets" if figures["heartbeat_decode_fps"] >= TARGET_HEARTBEAT_DECODE else "MISSES"
    print(
        f"full frame decode is {ratio:.1f}x construct's body-only parse; "
        f"{verdict} the target of {TARGET_HEARTBEAT_DECODE:,} heartbeat frames/s decoded"
    )
    ykc_rate = figures["ykc_heartbeat_decode_fps_cpu"]
    ykc_verdict = "meets" if ykc_rate >= TARGET_YKC_HEARTBEAT_DECODE else "MISSES"
    print(
        f"YKC: {ykc_verdict} the target of {TARGET_YKC_HEARTBEAT_DECODE:,} heartbeat frames/s "
        f"decoded per core (CPU time {ykc_rate:,.0f}, wall clock "
        f"{figures['ykc_heartbeat_decode_fps']:,.0f})"
    )
    out = {k: round(v) for k, v in figures.items()}
    out |= {
        "decode_vs_construct_ratio": round(ratio, 2),
        "target_heartbeat_decode_fps": TARGET_HEARTBEAT_DECODE,
        "meets_target": verdict == "meets",
        "target_ykc_heartbeat_decode_fps": TARGET_YKC_HEARTBEAT_DECODE,
        "ykc_meets_target": ykc_verdict == "meets",
        "frames": args.frames,
        "chunk": args.chunk,
        "python": platform.python_version(),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
