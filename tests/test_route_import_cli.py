"""`kemala route import` and `kemala route eval` as an operator runs them, through a real database."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import func, select

from bot.models import RouterModel, RoutingLabel
from tests.test_route_cli import kemala

HISTORY = [
    ("Selamat siang min, lampu penerangan di jalan provinsi Pati - Kudus mati semua sejak minggu lalu", "dpubmck", ""),
    ("Mohon izin pak, air PDAM di Perumnas Banyumanik tidak ngalir 4 hari", "kota-semarang", "Semarang"),
    ("Token listrik saya sudah diisi tapi meteran tetap error, PLN tolong", "pln", ""),
    ("SMK negeri minta sumbangan gedung 3 juta, katanya wajib. Mohon ditindaklanjuti", "disdikbud", "Kab. Kendal"),
]


def _write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "agency", "location"])
        w.writerows(rows)
    return path


async def _counts(sessions) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with sessions() as s:
        labels = int(await s.scalar(select(func.count(RoutingLabel.id))) or 0)
        models = int(await s.scalar(select(func.count(RouterModel.id))) or 0)
    return labels, models


async def test_import_stores_once_and_retrains(tmp_path: Path, db_url: str, sessions) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path / "history.csv", HISTORY)
    first = kemala(db_url, "route", "import", str(path), "--json")
    assert first.returncode == 0, first.stderr
    info = json.loads(first.stdout)
    assert info["added"] == 4 and info["per_agency"] == {"dpubmck": 1, "kota-semarang": 1, "pln": 1, "disdikbud": 1}
    assert await _counts(sessions) == (4, 1)
    # The same file again (and a copy with other spacing) stores nothing new but still retrains.
    spaced = _write(tmp_path / "again.csv", [("  " + t.replace(" ", "  ") + " ", a, loc) for t, a, loc in HISTORY])
    second = kemala(db_url, "route", "import", str(spaced))
    assert second.returncode == 0, second.stderr
    assert "0 label(s) stored, 4 already there" in second.stdout
    assert await _counts(sessions) == (4, 2)


async def test_import_refuses_bad_rows_naming_lines(tmp_path: Path, db_url: str, sessions) -> None:  # type: ignore[no-untyped-def]
    rows = [*HISTORY, ("jalan rusak", "dinas-hantu", ""), ("", "dinkes", "")]
    out = kemala(db_url, "route", "import", str(_write(tmp_path / "bad.csv", rows)))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "line 6: unknown code(s) dinas-hantu" in out.stderr and "line 7: empty text" in out.stderr
    assert (await _counts(sessions))[0] == 0


def test_eval_accepts_several_owners_and_writes_predictions(tmp_path: Path, db_url: str) -> None:
    rows = [
        ("Jalan kabupaten di Sragen rusak parah, sudah setahun tidak diperbaiki", "kab-sragen", ""),
        ("Jalan rusak depan balai desa Ngargoyoso, lubangnya dalam", "dpubmck|kab-karanganyar", ""),
        ("Listrik padam tiap malam di Desa Bulu, tolong PLN", "pln", "Rembang"),
        ("Selamat pagi pak gubernur, semangat selalu", "triase", ""),
    ]
    path = _write(tmp_path / "eval.csv", rows)
    out_csv = tmp_path / "pred.csv"
    out = kemala(db_url, "route", "eval", str(path), "--json", "--predictions", str(out_csv))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    for key in ("n", "top1", "top3", "macro_f1", "triage_precision", "triage_recall", "confusions",
                "triage_share", "jurisdiction_accuracy"):
        assert key in report
    assert report["n"] == 4 and report["jurisdiction_n"] == 2
    with out_csv.open(encoding="utf-8") as fh:
        preds = list(csv.DictReader(fh))
    assert [p["label"] for p in preds] == [r[1] for r in rows]
    assert {"predicted", "confidence", "top3", "jurisdiction", "reasons"} <= set(preds[0])
    assert preds[0]["predicted"] == "kab-sragen" and preds[0]["jurisdiction"] == "kabkota"
    assert report["top1"] == sum(p["correct"] == "1" for p in preds) / 4


def test_route_subcommands_have_their_own_help_and_empty_text_is_an_error(db_url: str) -> None:
    for sub, needle in (("eval", "--predictions"), ("import", "again"), ("train", "retrain")):
        out = kemala(db_url, "route", sub, "--help")
        assert out.returncode == 0 and f"kemala route {sub}" in out.stdout and needle in out.stdout.lower()
    empty = kemala(db_url, "route", "   ")
    assert empty.returncode == 2 and "nothing to route" in empty.stderr


async def test_destinations_are_not_offered_when_reassigning(sessions) -> None:  # type: ignore[no-untyped-def]
    from bot.queries import picker_agencies

    codes = {code for code, _ in await picker_agencies(sessions, exclude=None)}
    assert "dpubmck" in codes and len(codes) == 48
    assert not codes & {"kab-sragen", "kota-semarang", "pln", "polri"}


def test_eval_predictions_to_an_unwritable_place_is_a_one_line_error(tmp_path: Path, db_url: str) -> None:
    path = _write(tmp_path / "eval.csv", HISTORY)
    out = kemala(db_url, "route", "eval", str(path), "--predictions", str(tmp_path / "no" / "such" / "dir.csv"))
    assert out.returncode == 2 and "cannot write" in out.stderr and "Traceback" not in out.stderr
