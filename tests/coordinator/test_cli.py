"""``parley-coordinator``: settings from flags and environment, the stored secret, tokens."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import httpx
import jwt
import pytest

from desktop_app.coordinator.cli import main
from desktop_app.coordinator.config import resolve_config
from tests.support.served import served


def test_first_start_generates_a_private_secret_and_reuses_it(tmp_path: Path) -> None:
    config = resolve_config(data_dir=tmp_path)
    secret_file = Path(config.secret_path)
    assert secret_file.parent == tmp_path
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(config.secret) >= 32
    assert resolve_config(data_dir=tmp_path).secret == config.secret
    assert config.database_url == f"sqlite:///{tmp_path / 'coordinator.sqlite3'}"


def test_flags_win_over_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_HOST", "0.0.0.0")
    monkeypatch.setenv("PARLEY_PORT", "4100")
    monkeypatch.setenv("PARLEY_SECRET", "from-env")
    monkeypatch.setenv("PARLEY_DATABASE_URL", "sqlite:////tmp/env.db")
    monkeypatch.setenv("PARLEY_WEBHOOK_URL", "https://hooks.example.org/env")
    from_env = resolve_config(data_dir=tmp_path)
    assert from_env.webhook_url == "https://hooks.example.org/env"
    assert (from_env.host, from_env.port, from_env.secret, from_env.database_url) == (
        "0.0.0.0",
        4100,
        "from-env",
        "sqlite:////tmp/env.db",
    )
    assert from_env.secret_path == "", "a given secret is not written anywhere"
    flagged = resolve_config(
        host="127.0.0.2",
        port=4200,
        secret="flag",
        database_url="sqlite:////tmp/f.db",
        data_dir=tmp_path,
    )
    assert (flagged.host, flagged.port, flagged.secret, flagged.database_url) == (
        "127.0.0.2",
        4200,
        "flag",
        "sqlite:////tmp/f.db",
    )


def test_token_command_prints_verifiable_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path))
    assert main(["token", "alice", "--ttl", "60", "--role", "admin", "--secret", "s" * 40]) == 0
    claims = jwt.decode(capsys.readouterr().out.strip(), "s" * 40, algorithms=["HS256"])
    assert (
        claims["sub"] == "alice"
        and claims["role"] == "admin"
        and claims["exp"] - claims["iat"] == 60
    )
    assert main(["token", "--server", "--secret", "s" * 40]) == 0
    server_claims = jwt.decode(capsys.readouterr().out.strip(), "s" * 40, algorithms=["HS256"])
    assert server_claims["scope"] == "server"
    assert main(["token", "not valid!", "--secret", "x"]) == 2
    assert main(["token", "--secret", "x"]) == 2


def test_serve_uses_the_stored_secret_and_the_environment(tmp_path: Path) -> None:
    with served(tmp_path, env={"PARLEY_SECRET": ""}) as coordinator:
        token = coordinator.cli("token", "zoe")
        response = httpx.post(
            f"{coordinator.base_url}/v1/calls/default/cli-call",
            headers={"Authorization": f"Bearer {token}"},
            json={},
        )
        assert response.status_code == 201
        log = (tmp_path / "coordinator.log").read_text()
        assert str(tmp_path / "coordinator-secret") in log, "serve says where the secret is"
        assert (tmp_path / "coordinator.sqlite3").exists()
        assert "text/html" in httpx.get(f"{coordinator.base_url}/docs").headers["content-type"]
        assert "/v1/calls/{type}/{id}/join" in httpx.get(f"{coordinator.base_url}/docs").text


def test_module_entry_point_shows_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app.coordinator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "serve" in done.stdout and "token" in done.stdout


def test_webhook_key_command_prints_the_key_receivers_verify_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop_app.coordinator.webhooks import webhook_key

    monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path))
    assert main(["webhook-key", "--secret", "s" * 40]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == webhook_key("s" * 40) and printed.startswith("whsec_")
    assert "s" * 40 not in printed
