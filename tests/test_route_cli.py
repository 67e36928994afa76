"""`kemala route …` as users run it, and retraining from admins' reassignments through the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot import usecases as uc
from bot.app import make_router
from bot.config import load_settings
from bot.models import Complaint
from bot.usecases.retraining import confirmed_labels, latest_model, retrain

ROOT = Path(__file__).resolve().parent.parent


def kemala(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMALA_")}
    env["KEMALA_DATABASE_URL"] = db_url
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)


def test_route_json_names_dpubmck_and_blora(db_url: str) -> None:
    out = kemala(db_url, "route", "Jalan provinsi Blora - Cepu rusak parah #KemalaJateng", "--json")
    assert out.returncode == 0, out.stderr
    decision = json.loads(out.stdout)
    assert decision["agency"] == "dpubmck"
    assert any("Blora" in r for r in decision["reasons"])
    assert 0 <= decision["confidence"] <= 1 and len(decision["alternatives"]) <= 3


def test_route_eval_on_a_fresh_database(tmp_path: Path) -> None:
    out = kemala(f"sqlite:///{tmp_path / 'fresh.db'}", "route", "eval",
                 str(ROOT / "tests" / "data" / "routing_holdout_own.csv"), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["n"] >= 100 and report["top1"] >= 0.85 and report["top3"] >= 0.95
    assert 0 <= report["macro_f1"] <= 1


def test_route_eval_bad_files_are_one_line_errors(tmp_path: Path, db_url: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("tweet,label\nx,y\n")
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("text,agency\njalan rusak,dinas-hantu\n")
    for path, needle in ((bad, "text"), (unknown, "dinas-hantu"), (tmp_path / "missing.csv", "no such file")):
        out = kemala(db_url, "route", "eval", str(path))
        assert out.returncode == 2 and needle in out.stderr and "Traceback" not in out.stderr


async def test_reassignments_teach_the_router(sessions, db_url: str) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings({"KEMALA_DATABASE_URL": db_url}, env_file=None)
    router = make_router(settings)
    text = "Warung di pinggir alun-alun buka sampai subuh dan pengunjungnya ramai sekali"
    assert router.route(text).agency != "disporapar"
    admin = uc.Staff(id=1, name="Ani", username="ani")
    for i, body in enumerate(["warung di alun-alun buka sampai subuh, pengunjung ramai",
                              "warung pinggir alun-alun ramai pengunjung sampai subuh"]):
        async with sessions() as s, s.begin():
            c = Complaint(tweet_x_id=f"9{i:018d}", conversation_id=f"9{i:018d}", author_x_id=str(i),
                          author_username=f"w{i}", author_name="W", text=body, status="routed",
                          tweeted_at=datetime.now(UTC))
            s.add(c)
            await s.flush()
            cid = c.id
        await uc.reassign(sessions, complaint_id=cid, version=None, staff=admin, target_code="disporapar",
                          reason="salahrute")
    assert await confirmed_labels(sessions) == [
        ("warung pinggir alun-alun ramai pengunjung sampai subuh", "disporapar"),
        ("warung di alun-alun buka sampai subuh, pengunjung ramai", "disporapar"),
    ]
    model, n = await retrain(sessions)
    assert n == 2
    stored = await latest_model(sessions)
    assert stored is not None
    # Two labels are little evidence: disporapar rises to the first agency candidate (the learning
    # curve as labels accumulate is in tests/test_routing_learning.py).
    before, after = router.route(text), router.with_model(stored).route(text)
    assert before.alternatives[0][0] != "disporapar" and after.alternatives[0][0] == "disporapar"
