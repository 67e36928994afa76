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

ROOT = Path(__file__).resolve().parent.parent
TWEETS = 12
KEYS = {"tweets", "complaints", "cards", "claims", "reassigns", "replies_posted", "replies_rejected", "refusals",
        "seconds"}


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
    assert counts["cards"] == counts["complaints"] + counts["reassigns"]
    assert counts["claims"] >= 2
    assert counts["reassigns"] >= 2
    assert counts["replies_posted"] >= 2
    assert counts["replies_rejected"] == 0
    assert counts["refusals"] >= 1
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
