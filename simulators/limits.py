"""File-descriptor limit: one socket per pile."""

from __future__ import annotations

import sys

try:
    import resource
except ImportError:  # pragma: no cover - not on POSIX
    resource = None  # type: ignore[assignment]  # the module's name bound to None off POSIX

HEADROOM = 64  # files, the event loop, a state directory


def raise_nofile(needed: int, *, warn: bool = True) -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit; warn when it stays below needed.

    Returns the soft limit in force afterwards (-1 where the platform has no such limit)."""
    if resource is None:
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed + HEADROOM)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            if warn:
                print(f"warning: cannot raise RLIMIT_NOFILE to {target}: {exc}", file=sys.stderr)
    if warn and soft != resource.RLIM_INFINITY and soft < needed + HEADROOM:
        print(
            f"warning: RLIMIT_NOFILE is {soft} (hard limit {hard}) but {needed} connections "
            f"need about {needed + HEADROOM}; connections beyond that will fail. Raise the "
            "hard limit (ulimit -Hn, /etc/security/limits.conf or LimitNOFILE=).",
            file=sys.stderr,
        )
    return soft
