"""`kemala demo`: the whole desk against the sandboxes, with counts that agree with its transcript."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import commands
from bot.demo import FOLLOWUPS, GROUPS, run_demo

# Uses no database of the suite: runs in the SQLite half only (see tests/conftest.py).
pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parent.parent
TWEETS = 12
KEYS = {"tweets", "complaints", "cards", "claims", "reassigns", "replies_posted", "replies_rejected", "refusals",
        "reposts", "notes", "seconds"}


@pytest.fixture
def root_log_level() -> Iterator[None]:
    """run_demo sets the root logger to WARNING (as `kemala demo` does); give other tests their level back."""
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


def _run_cli(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMALA_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "bot", "demo", "--tweets", str(TWEETS), "--json"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def _check(counts: dict[str, Any]) -> None:
    assert set(counts) == KEYS
    assert counts["tweets"] == TWEETS
    assert counts["complaints"] >= counts["tweets"] - FOLLOWUPS
    # Every complaint got a card, and every reassignment (to an agency or back to triage) one more.
    assert counts["cards"] == counts["complaints"] + counts["reassigns"] + counts["reposts"]
    assert counts["claims"] >= 2
    assert counts["reassigns"] >= 2
    assert counts["replies_posted"] >= 2
    assert counts["replies_rejected"] == 0
    assert counts["refusals"] >= 1
    assert counts["reposts"] >= 1 and counts["notes"] >= 1  # /cari in triage, Siti's internal note
    assert 0 < counts["seconds"] < 120  # ~8 s here; generous for a loaded CI machine


@pytest.mark.slow
async def test_demo_json_counts_are_consistent(tmp_path: Path, root_log_level: None) -> None:
    if "demo" in commands.COMMANDS:
        # The real command line, from an empty folder with no KEMALA_* settings: no credentials needed.
        proc = await asyncio.to_thread(_run_cli, tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        lines = proc.stdout.strip().splitlines()
        assert len(lines) == 1, proc.stdout  # exactly one JSON object; logs go to stderr
        counts = json.loads(lines[0])
    else:
        out = io.StringIO()
        returned = await run_demo(TWEETS, as_json=True, out=out)
        lines = out.getvalue().strip().splitlines()
        assert len(lines) == 1, out.getvalue()
        counts = json.loads(lines[0])
        assert counts == returned
    _check(counts)


@pytest.mark.slow
async def test_demo_transcript_shows_every_group_and_agrees_with_counts(root_log_level: None) -> None:
    out = io.StringIO()
    counts = await run_demo(TWEETS, as_json=False, out=out)
    text = out.getvalue()
    _check(counts)
    for group in GROUPS:
        assert f"══ {group.title} ({group.code})" in text
    assert text.count("  🐦 ") == counts["replies_posted"]
    assert "(di utas " in text and "(post baru)" in text  # one in-thread reply, one fallback post
    assert "Ringkasan: " + ", ".join(f"{k}={v}" for k, v in counts.items()) in text
    assert "ditolak" in text  # the double claim and the staff reassign attempt are narrated


@pytest.mark.slow
async def test_a_500_tweet_demo_waits_on_the_permitted_rate_and_says_so(root_log_level: None) -> None:
    """`--tweets 500` (the most the help allows). Telegram's limits are scaled up ×20 in the sandbox and the
    bot's pacer alike, so the same waits are exercised in seconds; bench/bench_demo.py runs it at the real rate."""
    out = io.StringIO()
    counts = await run_demo(500, out=out, limit_scale=20.0)
    transcript = out.getvalue()
    assert counts["tweets"] == 500
    assert counts["complaints"] >= 500 - FOLLOWUPS
    assert counts["cards"] == counts["complaints"] + counts["reassigns"] + counts["reposts"]
    assert counts["replies_posted"] >= 2 and counts["replies_rejected"] == 0
    # The pacing is said before the wait, with the group, the queue and the limit.
    line = next(x for x in transcript.splitlines() if "pesan per menit per grup" in x)
    assert "Telegram mengizinkan 400 pesan per menit per grup" in line and "antre untuk grup" in line


def test_demo_sh_passes_its_arguments_through_with_a_token(tmp_path: Path) -> None:
    """With a token set, demo.sh runs `kemala run` with the arguments given (not dropped): here --no-x and a
    bad option, which `kemala run` refuses by name."""
    script = (ROOT / "scripts" / "demo.sh").read_text()
    assert 'exec .venv/bin/kemala run "$@"' in script and 'exec .venv/bin/kemala demo "$@"' in script
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMALA_")}
    env.update({"PYTHONPATH": str(ROOT), "KEMALA_TELEGRAM_TOKEN": "7000001:AAH-not-a-real-token"})
    proc = subprocess.run([sys.executable, "-m", "bot", "run", "--no-x", "--tweets", "5"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unrecognized arguments: --tweets 5" in proc.stderr
