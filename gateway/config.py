"""Configuration: config/gateway.toml, then environment overrides, then validation.

Every key has an environment name, PILEGATE_<SECTION>_<KEY> (e.g. PILEGATE_DATABASE_BATCH_ROWS);
the common ones also have the short names of ``SHORT_NAMES`` (PILEGATE_TCP_PORT, ...). Bad
configuration raises ConfigError with a message that names the key and what is wrong.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from protocol.error_root import PilegateError

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config" / "gateway.toml"


class ConfigError(PilegateError, ValueError):
    """Configuration that cannot work; the message says which key and why."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "0.0.0.0"
    tcp_port: int = 2406
    ws_port: int = 2407
    ws_enabled: bool = True
    max_frame_size: int = 1024
    write_buffer_high: int = 65536
    write_buffer_limit: int = 1048576
    bad_frame_burst: int = 20
    bad_frame_window_s: float = 60.0
    # TLS for both pile listeners (TCP and wss://): PEM certificate chain and private key.
    tls_cert: str = ""
    tls_key: str = ""


@dataclass(frozen=True, slots=True)
class AdminConfig:
    host: str = "127.0.0.1"
    port: int = 8406
    token: str = ""


@dataclass(frozen=True, slots=True)
class PilesConfig:
    login_timeout_s: float = 10.0
    heartbeat_interval_s: int = 30
    auto_register: bool = False
    command_timeout_s: float = 10.0
    # TIME_SYNC (docs/protocol.md §7.12): after a login whose pile clock is off by more than
    # the drift, and every interval while connected (0 = never periodically).
    time_sync_drift_s: float = 5.0
    time_sync_interval_s: float = 86_400.0
    # LOGIN MAC (docs/protocol.md §6.1.1): required | optional (while migrating) | off
    auth: str = "optional"
    auth_window_s: float = 300.0  # a signed LOGIN's pile_time_ms must be this close to ours


@dataclass(frozen=True, slots=True)
class OcppConfig:
    """OCPP 1.6J charge points (docs/ocpp.md): their own WebSocket listener, on server.host
    with server's TLS certificate (wss://) when one is set."""

    enabled: bool = False  # config/gateway.toml turns it on
    port: int = 2408
    path_prefix: str = "ocpp"  # charge points connect to /<path_prefix>/<chargePointId>
    heartbeat_interval_s: int = 300  # sent in BootNotification.conf; silent 3x this: closed
    # Security profile 1 (Basic Auth over plain ws://) is only for trusted networks: false
    # refuses a password over ws:// (such chargers must use wss://, profile 2).
    basic_auth_over_ws: bool = True
    # A charge point with no password set (profile 0) is let in only when this is false.
    require_password: bool = False


@dataclass(frozen=True, slots=True)
class SessionsConfig:
    start_timeout_s: float = 300.0
    stop_not_honoured_reports: int = 2
    fault_confirm_samples: int = 3
    finishing_timeout_s: float = 14400.0
    bill_wait_s: float = 1800.0
    bill_lost_s: float = 86400.0
    offline_timeout_s: float = 86400.0


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    url: str = ""
    batch_rows: int = 500
    batch_ms: float = 5.0
    journal: bool = True
    journal_heartbeats: str = "changes"
    journal_retention_days: int = 90
    max_pending_rows: int = 100_000
    close_timeout_s: float = 60.0
    pool_size: int = 8
    pool_timeout_s: float = 120.0


@dataclass(frozen=True, slots=True)
class MqttConfig:
    url: str = ""


@dataclass(frozen=True, slots=True)
class LogConfig:
    level: str = "info"


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """Bill validation limits per pile model (code 4, docs/protocol.md §4.11). The model is
    the LOGIN `model` string: an exact key wins, else the longest key the model starts with,
    else default_max_power_kw."""

    default_max_power_kw: int = 360
    max_power_kw: dict[str, int] = field(default_factory=dict)

    def max_power_kw_for(self, model: str) -> int:
        model = model.strip()
        if model in self.max_power_kw:
            return self.max_power_kw[model]
        prefixes = [k for k in self.max_power_kw if k and model.startswith(k)]
        if prefixes:
            return self.max_power_kw[max(prefixes, key=len)]
        return self.default_max_power_kw


@dataclass(frozen=True, slots=True)
class YkcConfig:
    """YKC piles on the TCP port (docs/ykc.md): sniffing on, and YKC's operating rules."""

    enabled: bool = True  # tell YKC from protocol v1 by the first frame on server.tcp_port
    start_confirm_s: float = 90.0  # a start must be confirmed (0x33 and charging 0x13) by then
    bill_due_s: float = 30.0  # the bill is due this long after the charge ends
    idle_frames_end_charge: int = 2  # idle real-time frames in a row that end a charge
    stop_not_honoured_reports: int = 2  # charging reports after a stop before it is re-sent
    stop_check_s: float = 5.0  # after an accepted stop, real-time data asked for this often


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    server: ServerConfig = field(default_factory=ServerConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    piles: PilesConfig = field(default_factory=PilesConfig)
    sessions: SessionsConfig = field(default_factory=SessionsConfig)
    ocpp: OcppConfig = field(default_factory=OcppConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    log: LogConfig = field(default_factory=LogConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    ykc: YkcConfig = field(default_factory=YkcConfig)


SHORT_NAMES: dict[str, tuple[str, str]] = {
    "PILEGATE_HOST": ("server", "host"),
    "PILEGATE_TCP_PORT": ("server", "tcp_port"),
    "PILEGATE_WS_PORT": ("server", "ws_port"),
    "PILEGATE_ADMIN_HOST": ("admin", "host"),
    "PILEGATE_ADMIN_PORT": ("admin", "port"),
    "PILEGATE_ADMIN_TOKEN": ("admin", "token"),
    "PILEGATE_DATABASE_URL": ("database", "url"),
    "PILEGATE_MQTT_URL": ("mqtt", "url"),
    "PILEGATE_LOG_LEVEL": ("log", "level"),
    "PILEGATE_START_TIMEOUT_S": ("sessions", "start_timeout_s"),
    "PILEGATE_HEARTBEAT_INTERVAL_S": ("piles", "heartbeat_interval_s"),
    "PILEGATE_LOGIN_TIMEOUT_S": ("piles", "login_timeout_s"),
    "PILEGATE_AUTO_REGISTER": ("piles", "auto_register"),
    "PILEGATE_PILE_AUTH": ("piles", "auth"),
    "PILEGATE_TLS_CERT": ("server", "tls_cert"),
    "PILEGATE_TLS_KEY": ("server", "tls_key"),
}

AUTH_POLICIES = ("required", "optional", "off")
DEFAULT_GRACE_S = 86_400  # a rotated-out pile secret stays valid a day unless told otherwise

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(where: str, kind: type, value: Any) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        try:
            return int(str(value).strip())
        except ValueError:
            raise ConfigError(f"{where}: expected a whole number, got {value!r}") from None
    if kind is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(str(value).strip())
        except ValueError:
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if kind is dict:
        return _model_table(where, value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected text, got {value!r}")
    return value


def _model_table(where: str, value: Any) -> dict[str, int]:
    """A TOML table {model = kW, ...}, or in the environment "MODEL=KW,MODEL=KW"."""
    if isinstance(value, str):
        pairs: list[tuple[str, Any]] = []
        for item in filter(None, (x.strip() for x in value.split(","))):
            name, sep, kw = item.partition("=")
            if not sep or not name.strip():
                raise ConfigError(f"{where}: expected MODEL=KW[,MODEL=KW...], got {item!r}")
            pairs.append((name.strip(), kw))
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        raise ConfigError(f"{where}: expected a table of model = kW, got {value!r}")
    return {str(k): _coerce(f"{where} {k}", int, v) for k, v in pairs}


_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "dict[str, int]": dict}


def _section_with(
    section: Any, values: Mapping[str, Any], origin: str, name: str, problems: list[str]
) -> Any:
    """`section` with `values` applied; every bad key or value is added to `problems` (the
    good ones still apply, so validation can report on the rest too)."""
    known = {f.name: _TYPES[str(f.type)] for f in fields(section)}
    changes = {}
    for key, value in values.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"
            problems.append(f"{origin}: unknown key [{name}] {key} ({hint})")
            continue
        try:
            changes[key] = _coerce(f"{origin} [{name}] {key}", known[key], value)
        except ConfigError as exc:
            problems.append(str(exc))
    return replace(section, **changes)


# PILEGATE_* variables that other parts of pilegate read, not the gateway's configuration:
# accepted as they are, so that a misspelt configuration variable can be refused.
OTHER_ENV: dict[str, str] = {
    "PILEGATE_ADMIN_OPERATORS": "admin operators file (gateway/admin/access.py)",
    "PILEGATE_ADMIN_URL": "the operator CLI's admin API URL",
    "PILEGATE_TEST_DATABASE_URL": "the test suite's PostgreSQL (tests/services.py)",
    "PILEGATE_TEST_MQTT_URL": "the test suite's broker (tests/services.py)",
    "PILEGATE_SKIP_BROWSER_INSTALL": "the test suite's browser (tests/services.py)",
    "PILEGATE_CHROMIUM": "the console tests' browser (tests/console/browser.py)",
    "PILEGATE_CHROMEDRIVER": "the console tests' driver (tests/console/browser.py)",
    "PILEGATE_SOAK_PG_BASE": "the soak's PostgreSQL (bench/soak_services.py)",
    "PILEGATE_BENCH_DATABASE_URL": "the benchmarks' PostgreSQL (bench/common.py)",
    "PILEGATE_BENCH_SERVE_ARGV": "the benchmarks' gateway command (bench/common.py)",
}


def environment_names() -> dict[str, tuple[str, str]]:
    """Every configuration variable: PILEGATE_<SECTION>_<KEY> and the short names."""
    names = {
        f"PILEGATE_{section}_{key}".upper(): (section, key)
        for section, kind in GatewayConfig.__dataclass_fields__.items()
        for key in _section_type(kind.type).__dataclass_fields__
    }
    names.update(SHORT_NAMES)
    return names


def _section_type(annotation: Any) -> Any:
    return globals()[annotation] if isinstance(annotation, str) else annotation


def _unknown_environment(environ: Mapping[str, str], known: Mapping[str, Any]) -> list[str]:
    """A problem per PILEGATE_* variable that nothing reads, with the closest real name."""
    problems = []
    allowed = [*known, *OTHER_ENV]
    for name in sorted(environ):
        if not name.startswith("PILEGATE_") or name in known or name in OTHER_ENV:
            continue
        # Compared without the common prefix, which would make every name look alike.
        tails = {n.removeprefix("PILEGATE_"): n for n in allowed}
        close = difflib.get_close_matches(name.removeprefix("PILEGATE_"), tails, n=1, cutoff=0.7)
        hint = f"did you mean {tails[close[0]]}?" if close else "see docs/configuration.md"
        problems.append(f"environment: unknown variable {name} ({hint})")
    return problems


def load_config(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> GatewayConfig:
    """The configuration from ``path`` (default config/gateway.toml) and the environment.
    Every problem (unknown key or variable, bad value, inconsistent values) is reported in
    one ConfigError."""
    environ = os.environ if environ is None else environ
    config = GatewayConfig()
    problems: list[str] = []
    file = Path(path) if path is not None else DEFAULT_FILE
    if path is not None or file.exists():
        try:
            data = tomllib.loads(file.read_text())
        except FileNotFoundError:
            raise ConfigError(f"configuration file {file} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        for name, values in data.items():
            if name not in GatewayConfig.__dataclass_fields__ or not isinstance(values, dict):
                close = difflib.get_close_matches(name, GatewayConfig.__dataclass_fields__, n=1)
                hint = f" (did you mean [{close[0]}]?)" if close else ""
                problems.append(f"{file}: unknown section [{name}]{hint}")
                continue
            section = _section_with(getattr(config, name), values, str(file), name, problems)
            config = replace(config, **{name: section})

    known = environment_names()
    problems += _unknown_environment(environ, known)
    overrides: dict[str, dict[str, str]] = {}
    for env, (section, key) in known.items():
        if env in environ:
            overrides.setdefault(section, {})[key] = environ[env]
    for name, values in overrides.items():
        section = _section_with(getattr(config, name), values, "environment", name, problems)
        config = replace(config, **{name: section})
    try:
        validate(config)
    except ConfigError as exc:
        problems.append(str(exc).removeprefix("bad configuration: "))
    if problems:
        raise ConfigError("bad configuration: " + "; ".join(problems))
    return config


def validate(config: GatewayConfig) -> None:
    problems: list[str] = []
    s, p, se, d = config.server, config.piles, config.sessions, config.database
    for name, port in (("server.tcp_port", s.tcp_port), ("server.ws_port", s.ws_port)):
        if not 0 <= port <= 65535:
            problems.append(f"{name} must be 0..65535, got {port}")
    o = config.ocpp
    if not 0 <= o.port <= 65535:
        problems.append(f"ocpp.port must be 0..65535, got {o.port}")
    if not 1 <= o.heartbeat_interval_s <= 86400:
        problems.append(f"ocpp.heartbeat_interval_s must be 1..86400, got {o.heartbeat_interval_s}")
    if not re.fullmatch(r"[A-Za-z0-9._~-]*", o.path_prefix.strip("/")):
        problems.append(f"ocpp.path_prefix must be a plain URL path part, got {o.path_prefix!r}")
    if not 0 <= config.admin.port <= 65535:
        problems.append(f"admin.port must be 0..65535, got {config.admin.port}")
    if not 9 <= s.max_frame_size <= 1024:
        problems.append(f"server.max_frame_size must be 9..1024, got {s.max_frame_size}")
    if s.write_buffer_high <= 0 or s.write_buffer_limit < s.write_buffer_high:
        problems.append("server.write_buffer_limit must be >= write_buffer_high > 0")
    if s.bad_frame_burst < 1 or s.bad_frame_window_s <= 0:
        problems.append("server.bad_frame_burst must be >= 1 and bad_frame_window_s > 0")
    if p.login_timeout_s <= 0 or p.command_timeout_s <= 0:
        problems.append("piles.login_timeout_s and piles.command_timeout_s must be > 0")
    if p.time_sync_drift_s < 0 or p.time_sync_interval_s < 0:
        problems.append("piles.time_sync_drift_s and piles.time_sync_interval_s must be >= 0")
    if not 1 <= p.heartbeat_interval_s <= 3600:
        problems.append(f"piles.heartbeat_interval_s must be 1..3600, got {p.heartbeat_interval_s}")
    for key in SessionsConfig.__dataclass_fields__:
        if getattr(se, key) <= 0:
            problems.append(f"sessions.{key} must be > 0")
    if p.auth not in AUTH_POLICIES:
        problems.append(f"piles.auth must be required, optional or off, got {p.auth!r}")
    if not 1 <= p.auth_window_s <= 86400:
        problems.append(f"piles.auth_window_s must be 1..86400, got {p.auth_window_s:g}")
    if bool(s.tls_cert) != bool(s.tls_key):
        problems.append("server.tls_cert and server.tls_key must be set together")
    if d.batch_rows < 1 or d.batch_ms <= 0:
        problems.append("database.batch_rows must be >= 1 and batch_ms > 0")
    if d.max_pending_rows < 1 or d.close_timeout_s < 0:
        problems.append("database.max_pending_rows must be >= 1 and close_timeout_s >= 0")
    if d.pool_size < 1 or d.pool_timeout_s <= 0:
        problems.append("database.pool_size must be >= 1 and pool_timeout_s > 0")
    if d.journal_heartbeats not in {"all", "changes", "none"}:
        problems.append("database.journal_heartbeats must be all, changes or none")
    if d.url:
        from gateway.storage.engine import url_problem  # the one table of accepted schemes

        problem = url_problem(d.url)
        if problem:
            problems.append(problem)
    if config.mqtt.url and not config.mqtt.url.startswith(("mqtt://", "mqtts://")):
        problems.append("mqtt.url must start with mqtt:// or mqtts://")
    if config.log.level.lower() not in {"debug", "info", "warning", "error", "critical"}:
        problems.append(f"log.level must be debug, info, warning or error, got {config.log.level}")
    lim = config.limits
    if lim.default_max_power_kw <= 0 or any(kw <= 0 for kw in lim.max_power_kw.values()):
        problems.append("limits.default_max_power_kw and every limits.max_power_kw must be > 0")
    y = config.ykc
    if y.start_confirm_s <= 0 or y.bill_due_s <= 0 or y.stop_check_s <= 0:
        problems.append("ykc.start_confirm_s, ykc.bill_due_s and ykc.stop_check_s must be > 0")
    if y.idle_frames_end_charge < 1 or y.stop_not_honoured_reports < 1:
        problems.append("ykc.idle_frames_end_charge and ykc.stop_not_honoured_reports must be >= 1")
    loopback = config.admin.host in {"127.0.0.1", "localhost", "::1"}
    if config.admin.port and not loopback and not config.admin.token:
        problems.append("admin.token is required to bind the admin API beyond loopback")
    if problems:
        raise ConfigError("bad configuration: " + "; ".join(problems))
