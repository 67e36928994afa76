"""Issue 15, item 8: the Docker files say what an operator relies on (no Docker daemon in CI: the files are
read as compose and Docker read them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

# Uses no database of the suite: runs in the SQLite half only (see tests/conftest.py).
pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parent.parent


def test_compose_has_health_the_port_a_data_volume_bounded_restarts_and_no_password() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    bot = compose["services"]["bot"]
    assert bot["restart"] == "on-failure:3"
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])
    assert "127.0.0.1:8080:8080" in bot["ports"]
    assert any(v.endswith(":/data") for v in bot["volumes"])
    assert bot["environment"]["KEMALA_WEB_LISTEN"] == "0.0.0.0"
    text = (ROOT / "compose.yaml").read_text()
    # Every password is the .env's POSTGRES_PASSWORD, required: none is written in the file.
    assert "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?" in text
    assert re.search(r"postgresql://kemala:\$\{POSTGRES_PASSWORD:\?[^}]*\}@db", text)
    assert "kemala:kemala@" not in text


def test_the_image_is_built_from_the_wheel_with_a_writable_data_folder_and_a_healthcheck() -> None:
    docker = (ROOT / "Dockerfile").read_text()
    assert "HEALTHCHECK" in docker and "/healthz" in docker
    assert "EXPOSE 8080" in docker and "KEMALA_WEB_LISTEN=0.0.0.0" in docker
    assert "WORKDIR /data" in docker and "chown kemala:kemala /data" in docker
    assert "KEMALA_MIGRATIONS_DIR" not in docker  # the wheel carries them (tests/test_packaging.py)
    for needed in ("setup.py", "MANIFEST.in", "migrations"):
        assert needed in docker
