from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config


def test_defaults_match_the_documented_ports() -> None:
    config = load_config(environ={})
    assert (config.server.tcp_port, config.server.ws_port, config.admin.port) == (2406, 2407, 8406)
    assert config.sessions.start_timeout_s == 300
    assert config.database.url == ""


def test_environment_overrides_the_file() -> None:
    config = load_config(
        environ={
            "PILEGATE_TCP_PORT": "3406",
            "PILEGATE_START_TIMEOUT_S": "2.5",
            "PILEGATE_AUTO_REGISTER": "yes",
            "PILEGATE_DATABASE_BATCH_ROWS": "50",
            "PILEGATE_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1/test",
        }
    )
    assert config.server.tcp_port == 3406
    assert config.sessions.start_timeout_s == 2.5
    assert config.piles.auto_register is True
    assert config.database.batch_rows == 50
    assert config.database.url.startswith("postgresql+asyncpg://")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PILEGATE_TCP_PORT": "70000"}, "server.tcp_port must be 0..65535"),
        ({"PILEGATE_TCP_PORT": "abc"}, "expected a whole number"),
        ({"PILEGATE_AUTO_REGISTER": "maybe"}, "expected true or false"),
        ({"PILEGATE_DATABASE_URL": "mysql://x"}, "database.url must start with"),
        ({"PILEGATE_LOG_LEVEL": "loud"}, "log.level must be"),
        ({"PILEGATE_ADMIN_HOST": "0.0.0.0"}, "admin.token is required"),
        ({"PILEGATE_START_TIMEOUT_S": "0"}, "sessions.start_timeout_s must be > 0"),
    ],
)
def test_bad_configuration_is_refused_with_a_clear_message(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(environ=environ)


def test_unknown_keys_and_sections_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "gateway.toml"
    bad.write_text("[server]\ntcp_prot = 1\n")
    with pytest.raises(ConfigError, match="unknown key \\[server\\] tcp_prot"):
        load_config(bad, environ={})
    bad.write_text("[servers]\n")
    with pytest.raises(ConfigError, match="unknown section"):
        load_config(bad, environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml", environ={})


def test_a_misspelt_variable_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"PILEGATE_TCP_PROT \(did you mean PILEGATE_TCP_PORT\?"):
        load_config(environ={"PILEGATE_TCP_PROT": "3406"})
    with pytest.raises(ConfigError, match="unknown variable PILEGATE_NONSENSE"):
        load_config(environ={"PILEGATE_NONSENSE": "1"})


def test_variables_read_elsewhere_are_not_refused() -> None:
    from gateway.config import OTHER_ENV

    load_config(environ={"OTHER_PROGRAM_VAR": "x", **dict.fromkeys(OTHER_ENV, "x")})


def test_every_pilegate_variable_in_the_repository_is_known() -> None:
    """A PILEGATE_* name used anywhere in the code is a configuration variable or listed as
    read elsewhere: the refusal of unknown names never refuses a real one."""
    import re

    from gateway.config import OTHER_ENV, environment_names

    root = Path(__file__).resolve().parents[2]
    used = set()
    for file in [*root.glob("*/**/*.py"), *root.glob("docs/*.md"), root / "README.md"]:
        if ".venv" in file.parts or file == Path(__file__).resolve():
            continue  # (this file spells bad names on purpose)
        used |= set(re.findall(r"\bPILEGATE_[A-Z0-9_]*[A-Z0-9]\b", file.read_text()))
    constants = {"PILEGATE_MAX_LENGTH", "PILEGATE_VERSION", "PILEGATE_FRAMES", "PILEGATE_SIM"}
    constants.add("PILEGATE_TCP_PROT")  # docs/configuration.md's example of a typo
    unknown = used - set(environment_names()) - set(OTHER_ENV) - constants
    assert not unknown


def test_every_bad_value_is_reported_at_once(tmp_path: Path) -> None:
    toml = tmp_path / "gateway.toml"
    toml.write_text("[server]\ntcp_prot = 1\n[piles]\nlogin_timeout_s = 'soon'\n")
    environ = {"PILEGATE_WS_PORT": "x", "PILEGATE_AUTO_REGISTER": "maybe", "PILEGATE_TCP_PROT": "1",
               "PILEGATE_LOG_LEVEL": "loud"}  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_config(toml, environ=environ)
    text = str(caught.value)
    for expected in ("tcp_prot (did you mean tcp_port?)", "login_timeout_s", "ws_port",
                     "auto_register", "PILEGATE_TCP_PROT", "log.level"):  # fmt: skip
        assert expected in text, text
