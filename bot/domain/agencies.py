"""The agency directory's fixed words, and the destinations that are not provincial agencies.

Regency/city governments and vertical (national) bodies are *destinations*: valid routing labels
and proposals on a triage card, never a Telegram group, never offered when reassigning.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

# The provincial triage team's pseudo-agency: complaints nobody can route yet wait there.
TRIAGE_CODE = "triase"

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
VERTICAL_CSV = DATA_DIR / "vertical_bodies.csv"
KABKOTA_CSV = DATA_DIR / "jateng_kabkota_2025.csv"


class Jurisdiction(StrEnum):
    """Whose matter a complaint is."""

    PROVINCE = "provinsi"
    KABKOTA = "kabkota"  # a regency or city government
    VERTICAL = "vertikal"  # a national body or state company


# Directory kinds of the two destination-only families (agencies.kind).
KIND_KABKOTA = "kabkota"
KIND_VERTICAL = "vertikal"
DESTINATION_KINDS = frozenset({KIND_KABKOTA, KIND_VERTICAL})
# Every kind the directory knows: the provincial families of the 2017 list, the triage desk, destinations.
PROVINCIAL_KINDS = frozenset({"badan", "biro", "dinas", "inspektorat", "rsjd", "rsud", "satpol", "sekretariat"})
AGENCY_KINDS = PROVINCIAL_KINDS | {"triase"} | DESTINATION_KINDS
_KABKOTA_CODE_RE = re.compile(r"^(kab|kota)-[a-z]+$")


def is_destination_only(kind: str | None) -> bool:
    """True for regency/city governments and vertical bodies: no group, no reassignment to them."""
    return kind in DESTINATION_KINDS


@dataclass(frozen=True, slots=True)
class Destination:
    """A regency/city government or a vertical body, as a directory row."""

    code: str
    kind: str
    name: str
    short_name: str
    x_handle: str | None
    kemendagri_code: str | None = None  # "33.14" for regencies/cities

    @property
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.KABKOTA if self.kind == KIND_KABKOTA else Jurisdiction.VERTICAL


def kabkota_slug(official_name: str) -> str:
    """'Kabupaten Sragen' → 'kab-sragen', 'Kota Semarang' → 'kota-semarang'."""
    low = official_name.strip().lower()
    for prefix, short in (("kabupaten ", "kab"), ("kota ", "kota")):
        if low.startswith(prefix):
            rest = re.sub(r"[^a-z]", "", low[len(prefix):])
            return f"{short}-{rest}"
    raise ValueError(f"not a regency or city name: {official_name!r}")


def kabkota_short_name(official_name: str) -> str:
    """'Kabupaten Sragen' → 'Pemkab Sragen', 'Kota Semarang' → 'Pemkot Semarang'."""
    low = official_name.strip()
    if low.lower().startswith("kabupaten "):
        return "Pemkab " + low[len("kabupaten "):]
    if low.lower().startswith("kota "):
        return "Pemkot " + low[len("kota "):]
    return low


def is_kabkota_code(code: str) -> bool:
    return bool(_KABKOTA_CODE_RE.match(code))


@functools.lru_cache(maxsize=4)
def destinations(vertical_csv: Path = VERTICAL_CSV, kabkota_csv: Path = KABKOTA_CSV) -> tuple[Destination, ...]:
    """The 35 regency/city governments (from the packaged wilayah data) then the vertical bodies."""
    out: list[Destination] = []
    with kabkota_csv.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            name = r["nama"].strip()
            out.append(Destination(kabkota_slug(name), KIND_KABKOTA, f"Pemerintah {name}",
                                   kabkota_short_name(name), None, r["kode"].strip()))
    with vertical_csv.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            out.append(Destination(r["code"].strip(), KIND_VERTICAL, r["name"].strip(), r["short_name"].strip(),
                                   (r.get("x_handle") or "").strip().lstrip("@") or None))
    codes = [d.code for d in out]
    dup = {c for c in codes if codes.count(c) > 1}
    if dup:
        raise ValueError(f"duplicate destination code(s): {', '.join(sorted(dup))}")
    return tuple(out)


@functools.lru_cache(maxsize=1)
def destination_by_code() -> dict[str, Destination]:
    return {d.code: d for d in destinations()}


def kabkota_code_of(kemendagri_code: str) -> str | None:
    """'33.14' → 'kab-sragen' (None for an unknown code)."""
    for d in destinations():
        if d.kemendagri_code == kemendagri_code:
            return d.code
    return None
