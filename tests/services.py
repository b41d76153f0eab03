"""Make sure the test suite has a real PostgreSQL and a real MQTT broker.

``python -m tests.services`` (run by ``make test``) uses the running ones when they answer;
otherwise it starts the machine's own (pg_ctlcluster, mosquitto -d) or throwaway ones where the
binaries exist (a temporary PostgreSQL cluster, a mosquitto on a spare loopback port). It writes
what it found to ``var/test-services.json`` for the tests. Under ``CI=true`` a service that
cannot be had is a failure (exit 1), never a silent skip.

Override with PILEGATE_TEST_DATABASE_URL and PILEGATE_TEST_MQTT_URL.

The console's browser tests (tests/console/) need Debian's ``chromium`` and
``chromium-driver``: when they are missing and this runs as root, they are installed with
apt-get; otherwise those tests skip with the reason, except under ``CI=true`` where a missing
browser fails the run like a missing service. PILEGATE_SKIP_BROWSER_INSTALL=1 never installs.

The OCPP interoperability tests run the npm ``ocpp-rpc`` client as a second, independent
charger (tests/interop/ocpp_rpc/): ``npm ci`` installs it from the committed package-lock.json
into that directory's node_modules, once per lock file (a stamp holds the lock's hash). Without
node and npm those tests skip, except under ``CI=true`` where that fails the run.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
STATE_FILE = ROOT / "var" / "test-services.json"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
THROWAWAY_PG_PORT = 55432
THROWAWAY_MQTT_PORT = 18830


def _answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _wait(host: str, port: int, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _answers(host, port):
            return True
        time.sleep(0.2)
    return False


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _as_postgres_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0 and shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def ensure_postgres(url: str) -> str | None:
    host, port = _host_port(url, 5432)
    if _answers(host, port):
        return url
    if shutil.which("pg_ctlcluster"):
        for conf in sorted(glob.glob("/etc/postgresql/*/main")):
            version = Path(conf).parent.name
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                capture_output=True,
                check=False,
            )
        if _wait(host, port, 10):
            return url
    initdb = shutil.which("initdb") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)), None
    )
    if initdb is None:
        return None
    bindir = Path(initdb).parent
    datadir = Path(tempfile.mkdtemp(prefix="pilegate-pg-"))
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres", "postgres")
    subprocess.run(
        _as_postgres_user([str(initdb), "-D", str(datadir), "-A", "trust", "-U", "postgres"]),
        capture_output=True,
        check=True,
    )
    subprocess.run(
        _as_postgres_user(
            [
                str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(datadir / "log"),
                "-o", f"-h 127.0.0.1 -p {THROWAWAY_PG_PORT} -k {datadir}", "start",
            ]
        ),
        capture_output=True,
        check=True,
    )  # fmt: skip
    if not _wait("127.0.0.1", THROWAWAY_PG_PORT):
        return None
    subprocess.run(
        _as_postgres_user(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(THROWAWAY_PG_PORT),
             "-U", "postgres", "test"]
        ),
        capture_output=True,
        check=False,
    )  # fmt: skip
    return f"postgresql+asyncpg://postgres@127.0.0.1:{THROWAWAY_PG_PORT}/test"


def ensure_mqtt(url: str) -> str | None:
    host, port = _host_port(url, 1883)
    if _answers(host, port):
        return url
    mosquitto = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if mosquitto is None:
        return None
    if Path("/etc/mosquitto/mosquitto.conf").exists():
        subprocess.run(
            [mosquitto, "-d", "-c", "/etc/mosquitto/mosquitto.conf"],
            capture_output=True,
            check=False,
        )
        if _wait(host, port, 5):
            return url
    conf = Path(tempfile.mkdtemp(prefix="pilegate-mqtt-")) / "mosquitto.conf"
    conf.write_text(f"listener {THROWAWAY_MQTT_PORT} 127.0.0.1\nallow_anonymous true\n")
    subprocess.Popen(
        [mosquitto, "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    if _wait("127.0.0.1", THROWAWAY_MQTT_PORT):
        return f"mqtt://127.0.0.1:{THROWAWAY_MQTT_PORT}"
    return None


BROWSER_PACKAGES = ("chromium", "chromium-driver")


def _browser_present() -> bool:
    from tests.console.browser import find_browser

    return find_browser() is not None


def ensure_browser() -> bool:
    """Debian's chromium + chromedriver for the console tests; apt-get them as root."""
    if _browser_present():
        return True
    if os.environ.get("PILEGATE_SKIP_BROWSER_INSTALL") == "1":
        return False
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    print("installing chromium and chromium-driver for the console tests (apt-get) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *BROWSER_PACKAGES],
        capture_output=True,
        check=False,
        env=env,
    )
    return _browser_present()


OCPP_RPC_DIR = ROOT / "tests" / "interop" / "ocpp_rpc"
_OCPP_RPC_STAMP = OCPP_RPC_DIR / "node_modules" / ".pilegate-lock-sha256"


def ensure_ocpp_rpc() -> str | None:
    """Install the ocpp-rpc charger's packages (``npm ci``) unless the lock file's are there;
    None when ready, else why not."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node and npm are not installed"
    lock = hashlib.sha256((OCPP_RPC_DIR / "package-lock.json").read_bytes()).hexdigest()
    if _OCPP_RPC_STAMP.exists() and _OCPP_RPC_STAMP.read_text() == lock:
        return None
    print("installing the ocpp-rpc test charger (npm ci) ...")
    done = subprocess.run(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=OCPP_RPC_DIR,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        return f"npm ci failed: {done.stderr.strip()[-500:]}"
    _OCPP_RPC_STAMP.write_text(lock)
    return None


def load() -> dict[str, str | None]:
    """What the tests should use: environment first, then the file written by main()."""
    found: dict[str, str | None] = {"database_url": None, "mqtt_url": None}
    if STATE_FILE.exists():
        found.update(json.loads(STATE_FILE.read_text()))
    found["database_url"] = os.environ.get("PILEGATE_TEST_DATABASE_URL") or found["database_url"]
    found["mqtt_url"] = os.environ.get("PILEGATE_TEST_MQTT_URL") or found["mqtt_url"]
    return found


def find_database_url() -> str | None:
    """The PostgreSQL the tests use, found the way `make test` finds it: the environment,
    else what `python -m tests.services` recorded, else the same search (running server,
    the machine's cluster, a throwaway one). For tools that run without `make test` first
    (bench/bills.py under `make bench`)."""
    found = load()["database_url"]
    if found:
        return found
    return ensure_postgres(os.environ.get("PILEGATE_TEST_DATABASE_URL", DEFAULT_DATABASE_URL))


def main() -> int:
    env = os.environ
    database_url = ensure_postgres(env.get("PILEGATE_TEST_DATABASE_URL", DEFAULT_DATABASE_URL))
    mqtt_url = ensure_mqtt(os.environ.get("PILEGATE_TEST_MQTT_URL", DEFAULT_MQTT_URL))
    browser = ensure_browser()
    ocpp_rpc_problem = ensure_ocpp_rpc()
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    STATE_FILE.write_text(json.dumps({"database_url": database_url, "mqtt_url": mqtt_url}))
    print(
        f"test services: PostgreSQL {database_url or 'MISSING'}; MQTT {mqtt_url or 'MISSING'}; "
        f"browser {'chromium' if browser else 'MISSING (console tests will skip)'}; "
        f"ocpp-rpc charger {ocpp_rpc_problem or 'ready'}"
    )
    missing = [name for name, url in (("PostgreSQL", database_url), ("MQTT", mqtt_url)) if not url]
    if not browser:
        missing.append("chromium + chromium-driver")
    if ocpp_rpc_problem:
        missing.append(f"the ocpp-rpc charger ({ocpp_rpc_problem})")
    if missing and os.environ.get("CI", "").lower() == "true":
        print(f"CI=true and {', '.join(missing)} could not be had: failing.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
