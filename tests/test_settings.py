"""The one settings model (issue 16 item 2, docs/settings.md): every ``PATHWAY_*`` setting
validated at start, one line per bad setting naming its variable and never its value, secrets
from files in ``PATHWAY_SECRETS_DIR``, the reference table generated from the model."""

from __future__ import annotations

import argparse
import io
import json
import runpy
import secrets
from pathlib import Path

import pytest

from pathway import cli, settings
from pathway.privacy.keys import MasterKeyRing
from pathway.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent

#: A value that must never be repeated in an error (it could be a secret).
CANARY = "zz-canary-7f3a"
#: The one line a bad data key hold gets (issue 14): the variable and the rule.
HOLD = "PATHWAY_DATA_KEY_HOLD_SECONDS must be a number of seconds more than 0 and at most 3600"


def test_defaults_from_an_empty_environment() -> None:
    given = load_settings({})
    assert given.var == Path("var")
    assert given.mode == "dev" and not given.production
    assert given.retention_days == 1825
    assert given.gateway_rate == 10.0 and given.gateway_burst == 60
    assert given.statistics_k == 5
    assert given.data_key_hold_seconds == 300.0  # five minutes (issue 14)
    assert given.id_pepper is None and given.master_keys is None


def test_values_are_typed() -> None:
    given = load_settings(
        {
            "PATHWAY_MODE": " Production ",
            "PATHWAY_RETENTION_DAYS": "30",
            "PATHWAY_GATEWAY_RATE": "2.5",
            "PATHWAY_DEBUG": "1",
            "PATHWAY_METRICS_ADDRESS": "127.0.0.1:9464",
            "PATHWAY_DEPLOYMENT_NAME": "pathway",
            "UNRELATED": "ignored",
        }
    )
    assert given.production and given.retention_days == 30 and given.gateway_rate == 2.5
    assert given.debug and given.metrics_address == "127.0.0.1:9464"
    assert given.deployment_name == "pathway"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PATHWAY_MODE", CANARY, "PATHWAY_MODE: Input should be 'dev' or 'production'"),
        ("PATHWAY_RETENTION_DAYS", CANARY, "PATHWAY_RETENTION_DAYS is not a whole number of days"),
        ("PATHWAY_RETENTION_DAYS", "-1", "PATHWAY_RETENTION_DAYS is not a whole number of days"),
        ("PATHWAY_ID_PEPPER", CANARY, "PATHWAY_ID_PEPPER is not a valid ID pepper: expected 64"),
        ("PATHWAY_LEDGER_SECRET", CANARY, "PATHWAY_LEDGER_SECRET is not a valid ledger secret"),
        ("PATHWAY_CONSOLE_SECRET", CANARY, "PATHWAY_CONSOLE_SECRET is not a valid console secret"),
        ("PATHWAY_MASTER_KEYS", CANARY, "PATHWAY_MASTER_KEYS: expected id:hex"),
        ("PATHWAY_GATEWAY_RATE", "0", "PATHWAY_GATEWAY_RATE: Input should be greater than 0"),
        ("PATHWAY_DATA_KEY_HOLD_SECONDS", "0", HOLD),
        ("PATHWAY_DATA_KEY_HOLD_SECONDS", "-5", HOLD),
        ("PATHWAY_DATA_KEY_HOLD_SECONDS", "3601", HOLD),
        ("PATHWAY_DATA_KEY_HOLD_SECONDS", "nan", HOLD),
        ("PATHWAY_DATA_KEY_HOLD_SECONDS", "inf", HOLD),
        ("PATHWAY_DATA_KEY_HOLD_SECONDS", CANARY, HOLD),
        ("PATHWAY_GATEWAY_BURST", CANARY, "PATHWAY_GATEWAY_BURST: Input should be a valid integer"),
        ("PATHWAY_GATEWAY_MAX_BODY", "10", "PATHWAY_GATEWAY_MAX_BODY: Input should be greater"),
        ("PATHWAY_GATEWAY_CASE_QUEUE", "-1", "PATHWAY_GATEWAY_CASE_QUEUE: Input should be greater"),
        (
            "PATHWAY_STATISTICS_K",
            "1",
            "PATHWAY_STATISTICS_K: Input should be greater than or equal",
        ),
        ("PATHWAY_DEBUG", CANARY, "PATHWAY_DEBUG: Input should be a valid boolean"),
        ("PATHWAY_CASE_CONFIG", "/nonexistent/zz.json", "PATHWAY_CASE_CONFIG: Path does not point"),
        ("PATHWAY_CHANNELS", "/nonexistent/zz.toml", "PATHWAY_CHANNELS: Path does not point"),
        (
            "PATHWAY_METRICS_ADDRESS",
            "metrics-host",
            "PATHWAY_METRICS_ADDRESS='metrics-host' is not",
        ),
        ("PATHWAY_METRICS_CENSUS_SECONDS", "0", "PATHWAY_METRICS_CENSUS_SECONDS='0' is not a pos"),
        ("PATHWAY_DEPLOYMENT_NAME", "path.way", "PATHWAY_DEPLOYMENT_NAME: no '.'"),
        ("PATHWAY_BUILD_ID", "v 2", "PATHWAY_BUILD_ID: no spaces"),
        (
            "PATHWAY_STATISTICS_DSN",
            f"mysql://admin:{CANARY}@db/x",
            "PATHWAY_STATISTICS_DSN: not a PostgreSQL connection URL",
        ),
        ("PATHWAY_TEMPORAL_ADDRESS", f"not {CANARY}", "PATHWAY_TEMPORAL_ADDRESS: not host:port"),
        ("PATHWAY_TEMPORAL_ADDRESS", "temporal:99999", "PATHWAY_TEMPORAL_ADDRESS: not host:port"),
        (
            "PATHWAY_JWKS_URL",
            "https://idp.test/jwks",
            "JWT verification needs all of PATHWAY_JWKS_URL",
        ),
    ],
)
def test_each_bad_setting_is_one_line_naming_it(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({variable: value})
    assert len(raised.value.lines) == 1
    (line,) = raised.value.lines
    assert line.startswith(message), line
    assert CANARY not in str(raised.value)


def test_every_bad_setting_is_named_not_only_the_first() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(
            {
                "PATHWAY_GATEWAY_RATE": "0",
                "PATHWAY_RETENTION_DAYS": "ten",
                "PATHWAY_ID_PEPPER": CANARY,
            }
        )
    named = sorted(line.split(":")[0].split(" ")[0] for line in raised.value.lines)
    assert named == ["PATHWAY_GATEWAY_RATE", "PATHWAY_ID_PEPPER", "PATHWAY_RETENTION_DAYS"]
    assert isinstance(raised.value, settings.StateError)  # every caller's one-line handling


def test_a_bad_case_configuration_file_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "periods.json"
    config.write_text(json.dumps({"reflection_period_days": "soon"}))
    with pytest.raises(SettingsError, match=r"PATHWAY_CASE_CONFIG: .*periods.json is not a valid"):
        load_settings({"PATHWAY_CASE_CONFIG": str(config)})


def test_secrets_are_never_printed() -> None:
    pepper = secrets.token_hex(32)
    keys = f"m1:{secrets.token_hex(32)}"
    given = load_settings({"PATHWAY_ID_PEPPER": pepper, "PATHWAY_MASTER_KEYS": keys})
    for text in (repr(given), str(given), given.model_dump_json()):
        assert pepper not in text and keys not in text
    assert given.id_pepper is not None and given.id_pepper.get_secret_value() == pepper


class TestSecretsDirectory:
    def test_a_secret_comes_from_its_file(self, tmp_path: Path) -> None:
        pepper = secrets.token_hex(32)
        (tmp_path / "PATHWAY_ID_PEPPER").write_text(pepper + "\n")
        given = load_settings({"PATHWAY_SECRETS_DIR": str(tmp_path)})
        assert given.id_pepper is not None
        assert given.id_pepper.get_secret_value().strip() == pepper

    def test_a_variable_wins_over_its_file(self, tmp_path: Path) -> None:
        from_file, from_env = secrets.token_hex(32), secrets.token_hex(32)
        (tmp_path / "PATHWAY_ID_PEPPER").write_text(from_file)
        given = load_settings({"PATHWAY_SECRETS_DIR": str(tmp_path), "PATHWAY_ID_PEPPER": from_env})
        assert given.id_pepper is not None and given.id_pepper.get_secret_value() == from_env

    def test_a_bad_secret_file_is_named_without_its_value(self, tmp_path: Path) -> None:
        (tmp_path / "PATHWAY_LEDGER_SECRET").write_text(CANARY)
        with pytest.raises(SettingsError) as raised:
            load_settings({"PATHWAY_SECRETS_DIR": str(tmp_path)})
        assert raised.value.lines == [
            "PATHWAY_LEDGER_SECRET is not a valid ledger secret: expected 64 hex characters"
        ]

    def test_a_missing_directory_is_an_error(self, tmp_path: Path) -> None:
        with pytest.raises(SettingsError, match=r"PATHWAY_SECRETS_DIR: .* is not a directory"):
            load_settings({"PATHWAY_SECRETS_DIR": str(tmp_path / "absent")})

    def test_the_accessors_read_the_files(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The pepper and the master keys the service uses are the files' (not ``var/``)."""
        pepper = secrets.token_hex(32)
        key = secrets.token_hex(32)
        secrets_dir = tmp_path / "secrets"
        secrets_dir.mkdir()
        (secrets_dir / "PATHWAY_ID_PEPPER").write_text(pepper)
        (secrets_dir / "PATHWAY_MASTER_KEYS").write_text(f"m7:{key}")
        monkeypatch.setenv("PATHWAY_SECRETS_DIR", str(secrets_dir))
        monkeypatch.setenv("PATHWAY_VAR", str(tmp_path / "var"))
        for name in ("PATHWAY_ID_PEPPER", "PATHWAY_MASTER_KEYS"):
            monkeypatch.delenv(name, raising=False)
        assert settings.id_pepper(create=False) == bytes.fromhex(pepper)
        ring = MasterKeyRing.from_env_or_dir(tmp_path / "no-keys-here")
        assert ring.ids == ["m7"]
        assert not (tmp_path / "var").exists()  # nothing made under var/


def test_current_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATHWAY_RETENTION_DAYS", "7")
    assert settings.current().retention_days == 7
    monkeypatch.setenv("PATHWAY_RETENTION_DAYS", "8")
    assert settings.current().retention_days == 8


def test_the_cli_names_every_bad_setting_and_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any command: each bad setting is one ``error:`` line on stderr, exit 2, no traceback,
    before the command runs (this one would need a server)."""
    monkeypatch.setenv("PATHWAY_GATEWAY_RATE", "0")
    monkeypatch.setenv("PATHWAY_ID_PEPPER", CANARY)
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["case", "show", "case-aaaaaaaaaaaaaaaaaaaaaaaa"], out, err) == 2
    assert sorted(err.getvalue().splitlines()) == [
        "error: PATHWAY_GATEWAY_RATE: Input should be greater than 0",
        "error: PATHWAY_ID_PEPPER is not a valid ID pepper: expected 64 hex characters",
    ]
    assert out.getvalue() == ""


def test_the_env_template_loads_in_production_mode() -> None:
    """deploy/compose/env.template, its CHANGE-ME placeholders filled with well-formed
    values, is a valid production configuration."""
    filled = {}
    for line in (ROOT / "deploy" / "compose" / "env.template").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if value == "CHANGE-ME":
            value = (
                f"m1:{secrets.token_hex(32)}"
                if key.endswith("MASTER_KEYS")
                else secrets.token_hex(32)
            )
        filled[key] = value
    given = load_settings({**filled, "PATHWAY_MODE": "production"})
    assert given.production
    assert given.id_pepper is not None and given.master_keys is not None
    assert given.ledger_secret is not None


def test_no_command_line_argument_takes_a_secret() -> None:
    """Secrets only from the environment or files: no option of any command is named like one
    (a command line is visible to every user of the machine)."""
    secret_words = ("pepper", "secret", "token", "password", "master-key", "dsn")
    options = _options(cli.build_parser())
    assert "--format" in options and "--var" in options, "the walk is broken"
    assert [o for o in options if any(w in o for w in secret_words)] == []


def _options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of ``parser`` and of its subcommands, recursively."""
    found: set[str] = set()
    for action in parser._actions:
        found |= set(action.option_strings)
        if isinstance(action.choices, dict):
            for sub in action.choices.values():
                found |= _options(sub)
    return found


def test_the_reference_table_is_generated_from_the_model() -> None:
    """docs/settings.md is what ``python scripts/gen_doc_tables.py`` renders now, and names
    every field."""
    render = runpy.run_path(str(ROOT / "scripts" / "gen_doc_tables.py"))["render_settings"]
    doc = (ROOT / "docs" / "settings.md").read_text()
    assert render(doc) == doc, "docs/settings.md is stale: run python scripts/gen_doc_tables.py"
    for name in settings.Settings.model_fields:
        assert f"`{settings.env_name(name)}`" in doc


@pytest.mark.parametrize(
    "argv",
    [["gateway"], ["codec-server", "--ui-origin", "http://127.0.0.1:8233"]],
    ids=["gateway", "codec-server"],
)
def test_servers_need_an_existing_state_directory(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only ``pathway dev`` makes a state directory: a mistyped PATHWAY_VAR is one line and exit
    2, and nothing is made (no keys, pepper or credentials of the process's own)."""
    missing = tmp_path / "typo"
    monkeypatch.setenv("PATHWAY_VAR", str(missing))
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(argv, out, err) == 2
    assert err.getvalue() == f"error: no state directory at {missing}: run pathway from the " + (
        "checkout where bin/serve runs, or set PATHWAY_VAR\n"
    )
    assert not missing.exists()


def test_workers_need_an_existing_state_directory(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    restored_logging: None,
) -> None:
    from pathway import workers

    missing = tmp_path / "typo"
    monkeypatch.setenv("PATHWAY_VAR", str(missing))
    assert workers.main(["--organisations", "police", "--json-logs"]) == 2
    output = capfd.readouterr()
    assert "no state directory" in output.out + output.err
    assert not missing.exists()


def test_the_data_key_hold_is_a_number_of_seconds() -> None:
    """PATHWAY_DATA_KEY_HOLD_SECONDS takes a fraction and the upper bound itself (issue 14)."""
    assert load_settings({"PATHWAY_DATA_KEY_HOLD_SECONDS": "0.5"}).data_key_hold_seconds == 0.5
    assert load_settings({"PATHWAY_DATA_KEY_HOLD_SECONDS": "3600"}).data_key_hold_seconds == 3600
