"""Settings are declared once (server/config.py): every Config field but the clock has a
flag and an environment variable that set it alike, and the README's table is the one
scripts/settings_doc.py makes from the declarations."""

import argparse
import dataclasses
import importlib.util
import ipaddress
import os
import subprocess
import sys

import pytest
from orderdesk.config import SETTINGS, Config, add_serve_arguments, config_from_args

from tests.live import ROOT, run_cli

# For each setting: its flags, its environment variable's text, and the value both give
# (never the default, so the test sees that they set the field).
SAMPLES = {
    "host": (["--host", "0.0.0.0"], "0.0.0.0", "0.0.0.0"),
    "port": (["--port", "9000"], "9000", 9000),
    "db": (["--db", "/srv/shop.db"], "/srv/shop.db", "/srv/shop.db"),
    "db_pool": (["--db-pool", "3"], "3", 3),
    "session_ttl": (["--session-ttl", "60"], "60", 60),
    "remember_ttl": (["--remember-ttl", "600"], "600", 600),
    "max_login_failures_per_address": (["--max-login-failures-per-address", "0"], "0", 0),
    "max_registrations_per_hour": (["--max-registrations-per-hour", "7"], "7", 7),
    "synchronous": (["--synchronous", "full"], "full", "full"),
    "max_upload_mb": (["--max-upload-mb", "2"], "2", 2),
    "upload_quota_mb": (["--upload-quota-mb", "5"], "5", 5),
    "cors_origins": (
        ["--cors-origin", "https://a.example", "--cors-origin", "https://b.example"],
        "https://a.example, https://b.example",
        ("https://a.example", "https://b.example"),
    ),
    "log_level": (["--log-level", "warning"], "warning", "warning"),
    "log_format": (["--log-format", "json"], "json", "json"),
    "metrics_token": (["--metrics-token", "s3cret"], "s3cret", "s3cret"),
    "backup_dir": (["--backup-dir", "/srv/backups"], "/srv/backups", "/srv/backups"),
    "backup_interval_hours": (["--backup-interval-hours", "6"], "6", 6.0),
    "backup_keep": (["--backup-keep", "3"], "3", 3),
    "loop": (["--loop", "asyncio"], "asyncio", "asyncio"),
    "trusted_proxies": (
        ["--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1"],
        "10.0.0.0/8,::1",
        (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1")),
    ),
    "ping_seconds": (["--ping-seconds", "2.5"], "2.5", 2.5),
    "webhook_allow_private": (["--webhook-allow-private"], "1", True),
    "webhook_retry_base": (["--webhook-retry-base", "0.01"], "0.01", 0.01),
    "smtp_url": (
        ["--smtp-url", "smtps://mail.example:465"],
        "smtps://mail.example:465",
        "smtps://mail.example:465",
    ),  # fmt: skip
    "mail_from": (["--mail-from", "shop@example.com"], "shop@example.com", "shop@example.com"),
    "public_url": (
        ["--public-url", "https://shop.example/"],
        "https://shop.example/",
        "https://shop.example/",
    ),  # fmt: skip
    "payment_instructions": (
        ["--payment-instructions", "IBAN DE00 0000; quote the order number"],
        "IBAN DE00 0000; quote the order number",
        "IBAN DE00 0000; quote the order number",
    ),
}


def parse(argv, env):
    parser = argparse.ArgumentParser(prog="orderdesk")
    add_serve_arguments(parser, env)
    return config_from_args(parser.parse_args(argv))


def refusal(capsys, argv, env):
    with pytest.raises(SystemExit) as exit_:
        parse(argv, env)
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_every_config_field_but_the_clock_is_a_setting():
    fields = [f.name for f in dataclasses.fields(Config)]
    assert [s.name for s in SETTINGS] == [name for name in fields if name != "clock"]
    flags = [s.flag for s in SETTINGS]
    envs = [s.env for s in SETTINGS]
    assert len(set(flags)) == len(flags) and len(set(envs)) == len(envs)
    for s in SETTINGS:
        assert s.env == "ORDERDESK_" + s.name.upper()
        assert s.help and s.default == getattr(Config(), s.name)
    assert set(SAMPLES) == {s.name for s in SETTINGS}, "give every setting a sample"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_a_flag_and_its_environment_variable_set_the_same_field(setting):
    argv, env_text, value = SAMPLES[setting.name]
    defaults = parse([], {})
    assert defaults == Config()
    assert getattr(defaults, setting.name) != value
    by_flag = parse(argv, {})
    by_env = parse([], {setting.env: env_text})
    assert getattr(by_flag, setting.name) == value
    assert by_env == by_flag  # and no other field changed
    assert dataclasses.replace(Config(), **{setting.name: value}) == by_flag


def test_a_flag_wins_over_its_variable_and_a_repeated_one_adds_to_it():
    env = {"ORDERDESK_PORT": "not a number", "ORDERDESK_LOG_LEVEL": "error"}
    config = parse(["--port", "9000", "--log-level", "debug"], env)
    assert (config.port, config.log_level) == (9000, "debug")
    env = {"ORDERDESK_CORS_ORIGINS": "https://a.example"}
    assert parse(["--cors-origin", "https://b.example"], env).cors_origins == (
        "https://a.example", "https://b.example",
    )  # fmt: skip


def test_a_variable_is_checked_as_its_flag_is(capsys):
    """A word outside a setting's choices is refused from the environment too: before,
    ORDERDESK_SYNCHRONOUS=FULL ran silently with `normal` durability."""
    assert refusal(capsys, [], {"ORDERDESK_SYNCHRONOUS": "FULL"}) == (
        "orderdesk: error: argument --synchronous: invalid choice: 'FULL' "
        "(choose from 'normal', 'full')"
    )
    assert refusal(capsys, ["--synchronous", "FULL"], {}) == (
        "orderdesk: error: argument --synchronous: invalid choice: 'FULL' "
        "(choose from 'normal', 'full')"
    )
    assert "invalid choice: 'fast'" in refusal(capsys, [], {"ORDERDESK_LOOP": "fast"})
    assert refusal(capsys, [], {"ORDERDESK_PORT": "abc"}) == (
        "orderdesk: error: argument --port: not an integer: 'abc'"
    )
    assert refusal(capsys, [], {"ORDERDESK_TRUSTED_PROXIES": "10.0.0.0/33"}) == (
        "orderdesk: error: ORDERDESK_TRUSTED_PROXIES: not an address or CIDR range: '10.0.0.0/33'"
    )
    # A live stream is pinged at least every 15 s.
    assert refusal(capsys, ["--ping-seconds", "16"], {}) == (
        "orderdesk: error: argument --ping-seconds: must be at most 15: '16'"
    )


def test_the_readme_table_is_made_from_the_declarations():
    spec = importlib.util.spec_from_file_location(
        "settings_doc", ROOT / "scripts" / "settings_doc.py"
    )
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme == generator.render(readme), "README.md is stale: run scripts/settings_doc.py"
    for s in SETTINGS:
        assert f"| `{s.flag}" in readme and f"`{s.env}" in readme


def test_the_help_shows_no_secret_of_the_environment():
    secrets = {
        "ORDERDESK_DB": "postgresql://od:db-secret-1@db.internal/od",
        "ORDERDESK_SMTP_URL": "smtp://mailer:smtp-secret-2@smtp.example.com:587",
        "ORDERDESK_METRICS_TOKEN": "metrics-secret-3",
    }
    helped = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--help"],
        env={**os.environ, **secrets},
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "db.internal/od" in helped and "smtp.example.com:587" in helped
    for secret in ("db-secret-1", "smtp-secret-2", "metrics-secret-3"):
        assert secret not in helped


def test_the_help_and_the_subcommands_name_the_flags_and_variables(tmp_path):
    helped = run_cli("--help").stdout
    for s in SETTINGS:
        assert s.flag in helped and s.env in helped
    for subcommand in ("create-admin", "backup", "check"):
        assert "ORDERDESK_DB" in run_cli(subcommand, "--help").stdout
    # A subcommand's --db defaults to ORDERDESK_DB.
    missing = tmp_path / "missing.db"
    checked = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "check"],
        env={**os.environ, "ORDERDESK_DB": str(missing)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 2 and f"no database at {missing}" in checked.stderr
