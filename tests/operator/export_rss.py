"""Run `pilegate export bills` in this process and print its peak memory as JSON:

    python -m tests.operator.export_rss DATABASE_URL FROM TO [OUTPUT]

{"baseline_kb": max RSS after the imports, "peak_kb": max RSS at the end, "seconds": ...}
"""

from __future__ import annotations

import json
import resource
import sys
import time

from gateway.cli import main  # imported before the baseline: its code is not the export


def max_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


if __name__ == "__main__":
    url, start, end = sys.argv[1:4]
    output = sys.argv[4] if len(sys.argv) > 4 else "/dev/null"
    baseline = max_rss_kb()
    t0 = time.perf_counter()
    status = main(["export", "bills", "--database", url, "--from", start, "--to", end,
                   "--output", output])  # fmt: skip
    seconds = time.perf_counter() - t0
    print(json.dumps({"status": status, "baseline_kb": baseline, "peak_kb": max_rss_kb(),
                      "seconds": round(seconds, 2)}))  # fmt: skip
