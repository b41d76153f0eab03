"""Codec throughput on one core: decode via FrameDecoder.feed on a long stream, encode via
protocol.encode, for HEARTBEAT (2 guns) and BILL; plus construct's reference parse of the
heartbeat body for comparison.

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

from protocol import FrameDecoder, MsgType, encode  # noqa: E402
from protocol.examples import EXAMPLES  # noqa: E402
from protocol.schemas import BODIES  # noqa: E402

TARGET_HEARTBEAT_DECODE = 150_000  # frames/s


def best_rate(run: Callable[[], int], repeat: int) -> float:
    """Items per second of the fastest of ``repeat`` runs (least disturbed by the machine)."""
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        count = run()
        elapsed = time.perf_counter() - start
        best = max(best, count / elapsed)
    return best


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

    rows = [
        (f"HEARTBEAT, 2 guns ({hb_size} B)", "decode (FrameDecoder.feed)", "heartbeat_decode_fps"),
        (f"HEARTBEAT, 2 guns ({hb_size} B)", "encode", "heartbeat_encode_fps"),
        (f"BILL ({bill_size} B)", "decode (FrameDecoder.feed)", "bill_decode_fps"),
        (f"BILL ({bill_size} B)", "encode", "bill_encode_fps"),
        ("HEARTBEAT body", "construct reference parse", "heartbeat_construct_parse_fps"),
    ]
    print(
        f"pilegate codec benchmark: Python {platform.python_version()}, one core, "
        f"{args.frames} frames/run, feed chunks of {args.chunk} B, best of {args.repeat}"
    )
    print(f"{'message':<28} {'operation':<28} {'frames/s':>12} {'µs/frame':>9}")
    print("-" * 80)
    for message, operation, key in rows:
        rate = figures[key]
        print(f"{message:<28} {operation:<28} {rate:>12,.0f} {1e6 / rate:>9.2f}")
    print("-" * 80)
    verdict = "meets" if figures["heartbeat_decode_fps"] >= TARGET_HEARTBEAT_DECODE else "MISSES"
    print(
        f"full frame decode is {ratio:.1f}x construct's body-only parse; "
        f"{verdict} the target of {TARGET_HEARTBEAT_DECODE:,} heartbeat frames/s decoded"
    )
    out = {k: round(v) for k, v in figures.items()}
    out |= {
        "decode_vs_construct_ratio": round(ratio, 2),
        "target_heartbeat_decode_fps": TARGET_HEARTBEAT_DECODE,
        "meets_target": verdict == "meets",
        "frames": args.frames,
        "chunk": args.chunk,
        "python": platform.python_version(),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
