"""The learning curve of `kemala route import`, through the CLI as an operator runs it; prints JSON.

The real-style set (tests/data/routing_real_style) is split: every third row is held out, the rest
is the history to import. Top-1 on the held-out rows: with no import, then after importing 25%, 50%
and 100% of the history into a fresh SQLite database (each step imports the next slice).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SET = sorted((ROOT / "tests" / "data" / "routing_real_style").glob("part*.csv"))


def kemala(db: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMALA_")}
    env["KEMALA_DATABASE_URL"] = db
    out = subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, cwd=ROOT,
                         check=True)
    return out.stdout


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["text", "agency", "location"])
        w.writeheader()
        w.writerows({k: r.get(k, "") for k in ("text", "agency", "location")} for r in rows)
    return path


def main() -> None:
    rows = [r for f in SET for r in csv.DictReader(f.open(encoding="utf-8"))]
    held = rows[::3]
    pool = [r for i, r in enumerate(rows) if i % 3]
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        db = f"sqlite:///{t / 'curve.db'}"
        held_csv = write(t / "held.csv", held)
        curve = {}
        done = 0
        for frac in (0.0, 0.25, 0.5, 1.0):
            upto = int(len(pool) * frac)
            if upto > done:
                kemala(db, "route", "import", str(write(t / f"import{upto}.csv", pool[done:upto])))
                done = upto
            report = json.loads(kemala(db, "route", "eval", str(held_csv), "--json"))
            curve[f"{int(frac * 100)}%"] = {"imported": done, "top1": report["top1"], "top3": report["top3"],
                                            "jurisdiction_accuracy": report["jurisdiction_accuracy"]}
    print(json.dumps({"held_out": len(held), "history": len(pool), "curve": curve}, indent=1))


if __name__ == "__main__":
    main()
