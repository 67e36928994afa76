"""Central Java place names (regencies/cities and districts) found in tweet text by token n-grams."""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
KABKOTA_CSV = DATA_DIR / "jateng_kabkota_2025.csv"
KECAMATAN_CSV = DATA_DIR / "jateng_kecamatan_2025.csv"

# Letters and digits only: punctuation, emoji and '#'/'@' sigils all act as separators.
_TOKEN_RE = re.compile(r"[^\W_]+")

# Words that, right before a name, say "this is a place" (administrative level or location).
_KAB_CUES = frozenset({"kab", "kabupaten", "kabupatèn"})
_KOTA_CUES = frozenset({"kota", "kodya", "kotamadya", "pemkot"})
_KEC_CUES = frozenset({"kec", "kecamatan", "kecamatane"})
_LOC_CUES = frozenset({"di", "daerah", "wilayah", "dari", "ke", "sekitar", "area", "arah", "desa", "warga", "kawasan"})

# Regency names that are also everyday words ("batang pohon", "pati singkong"): they only count
# with a cue, a capital letter, or one of their districts mentioned in the same text.
_AMBIGUOUS_KABKOTA = frozenset({"batang", "pati"})

# District names that are ordinary Indonesian/Javanese words ("butuh", "ayah", "taman", "tambak",
# "larangan"...). Matching them bare would put a place on half the tweets, so they need an explicit
# "kec"/"kecamatan" cue or a capital letter that is not sentence-initial.
_COMMON_WORD_DISTRICTS = frozenset(
    """
    ayah alian ambal andong bae baki bandar batur bawang bayan bener bojong brati bulu butuh ceper
    comal dawe dempet doro dukun gabus gajah gatak gebang gembong genuk gesi grogol guntur jambu
    jati jenar jumo kalibening kaloran kandangan kayen kedu kedung keling kembang kemiri kerjo
    klego kramat larangan mayong miri mirit moga musuk pakis pancur pangkah puring rakit reban
    salam salaman salem sale sambi sarang sawit sedan selo simo subah sumber sumbang suruh tahunan
    talang talun taman tambak tanjung teras tirto tugu tulis tulung wedi weru bodeh belik gunem
    sluke sulang tempuran windusari ngemplak ngawen teras secang pakis bansari kepil loano
    tawangsari jaken kaliori bumijawa pagerbarang tonjong margasari ampel sampang maos kroya
    buayan bruno kerjo padureso pituruh banyuurip gemuh kangkung bonang gajah wedung tangen
    kradenan tegalrejo tembarak kedawung ngampel boja bandungan karangtengah sidorejo tingkir
    """.split()
)

# Popular names that are not in the official list: seats of regencies and city nicknames.
_KABKOTA_ALIASES: dict[str, str] = {
    "solo": "33.72",
    "surakarta": "33.72",
    "purwokerto": "33.02",
    "pwt": "33.02",
    "ungaran": "33.22",
    "smg": "33.74",
}
# Seats that are also districts (Slawi, Kajen, Mungkid, Cepu) are found as districts already.

# District names shared by several regencies where one is far better known.
_PREFERRED_DISTRICT: dict[str, str] = {"purwodadi": "33.15"}

# Name shared by a city and a regency: bare mention means the city (people write "kab" when they
# mean the regency; "ungaran", "kajen", "slawi", "mungkid" or a district also say regency).
_KOTA_FIRST = frozenset({"semarang", "tegal", "pekalongan", "magelang"})


@dataclass(frozen=True, slots=True)
class Place:
    """A regency/city (always) and a district (when the text names one)."""

    kabkota_code: str
    kabkota_name: str
    kecamatan_code: str | None = None
    kecamatan_name: str | None = None

    @property
    def label(self) -> str:
        """Short Indonesian label: 'Kab. Blora' or 'Kec. Cepu, Kab. Blora'."""
        kab = self.kabkota_name.replace("Kabupaten ", "Kab. ")
        if self.kecamatan_name:
            return f"Kec. {self.kecamatan_name}, {kab}"
        return kab

    def to_json(self) -> dict[str, str | None]:
        """Plain dict for the CLI and the DB."""
        return {
            "kabkota_code": self.kabkota_code,
            "kabkota_name": self.kabkota_name,
            "kecamatan_code": self.kecamatan_code,
            "kecamatan_name": self.kecamatan_name,
        }


class Token(NamedTuple):
    """One word of the text: lower-case form, and whether it was capitalised mid-sentence."""

    text: str
    start: int
    capitalised: bool


def tokenize(text: str) -> list[Token]:
    """Split into word tokens, remembering capitalisation that is not just sentence-initial."""
    out: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        word = m.group(0)
        cap = word[0].isupper()
        if cap:
            # A capital right after a sentence end (or at the start) says nothing about proper names.
            j = m.start() - 1
            while j >= 0 and text[j] in " \t\"'(":
                j -= 1
            if j < 0 or text[j] in ".!?\n":
                cap = False
        out.append(Token(word.lower(), m.start(), cap))
    return out


class _Entry(NamedTuple):
    kind: str  # "kab", "kota" or "kec"
    code: str
    name: str
    parent: str  # kabkota code (== code for kabkota entries)
    needs_cue: bool


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """The place chosen for a text, plus which token positions were place names."""

    place: Place | None
    consumed: frozenset[int]
    mentions: tuple[Place, ...]
    # Token position → regency/city code of the place name there (for "ruas A – B" roads).
    kabkota_at: Mapping[int, str] = field(default_factory=dict)


_NO_MATCH = PlaceMatch(None, frozenset(), ())


class Gazetteer:
    """Dictionary of place-name n-grams → regency/city and district entries."""

    def __init__(self, kabkota: Sequence[tuple[str, str, str]], kecamatan: Sequence[tuple[str, str, str]]) -> None:
        """kabkota rows: (kode, nama, jenis); kecamatan rows: (kode, nama, kode_kabkota)."""
        self._kabkota_name: dict[str, str] = {code: name for code, name, _ in kabkota}
        self._index: dict[tuple[str, ...], list[_Entry]] = {}
        for code, name, jenis in kabkota:
            base = _base_name(name)
            kind = "kota" if jenis.strip().lower() == "kota" else "kab"
            self._add(base, _Entry(kind, code, name, code, base in _AMBIGUOUS_KABKOTA))
        for alias, code in _KABKOTA_ALIASES.items():
            self._add(alias, _Entry("kab" if code < "33.71" else "kota", code, self._kabkota_name[code], code, False))
        for code, name, parent in kecamatan:
            key = name.lower()
            needs_cue = key in _COMMON_WORD_DISTRICTS or key in _AMBIGUOUS_KABKOTA
            self._add(key, _Entry("kec", code, name, parent, needs_cue))
        # Longest n-gram starting with each first word, so scanning tries only what can match.
        self._max_len: dict[str, int] = {}
        for gram in self._index:
            self._max_len[gram[0]] = max(self._max_len.get(gram[0], 0), len(gram))

    def _add(self, name: str, entry: _Entry) -> None:
        gram = tuple(_TOKEN_RE.findall(name.lower()))
        bucket = self._index.setdefault(gram, [])
        if entry not in bucket:
            bucket.append(entry)

    @classmethod
    def from_csv(cls, kabkota_csv: Path = KABKOTA_CSV, kecamatan_csv: Path = KECAMATAN_CSV) -> Gazetteer:
        """Load the wilayah CSVs (columns kode,nama,jenis,… and kode,nama,kode_kabkota,…)."""
        with kabkota_csv.open(encoding="utf-8", newline="") as fh:
            kab = [(r["kode"], r["nama"], r["jenis"]) for r in csv.DictReader(fh)]
        with kecamatan_csv.open(encoding="utf-8", newline="") as fh:
            kec = [(r["kode"], r["nama"], r["kode_kabkota"]) for r in csv.DictReader(fh)]
        return cls(kab, kec)

    @staticmethod
    @functools.lru_cache(maxsize=1)
    def default() -> Gazetteer:
        """The packaged Central Java 2025 gazetteer, loaded once."""
        return Gazetteer.from_csv()

    def kabkota_name(self, code: str) -> str | None:
        """Official name of a regency/city code, e.g. '33.16' → 'Kabupaten Blora'."""
        return self._kabkota_name.get(code)

    def match(self, tokens: Sequence[Token], *, lenient: bool = False, hint: str | None = None) -> PlaceMatch:
        """Find places in tokens; lenient=True (profile locations) accepts bare ambiguous words.

        `hint` is a regency/city code known from elsewhere (the author's profile): it settles a
        district name shared by several regencies and lets a common-word district count.
        """
        words = [t.text for t in tokens]
        found: list[tuple[int, int, list[_Entry], str | None, bool]] = []  # start, length, entries, level cue, weak
        i = 0
        n = len(words)
        while i < n:
            maxlen = self._max_len.get(words[i], 0)
            hit = None
            for size in range(min(maxlen, n - i), 0, -1):
                entries = self._index.get(tuple(words[i : i + size]))
                if entries is not None:
                    hit = (size, entries)
                    break
            if hit is None:
                i += 1
                continue
            size, entries = hit
            prev = words[i - 1] if i > 0 else ""
            level = _level_cue(prev)
            loc_cue = level is not None or prev in _LOC_CUES
            capital = tokens[i].capitalised
            kept = [
                e
                for e in entries
                if lenient
                or not e.needs_cue
                or (e.kind == "kec" and (level == "kec" or capital))
                or (e.kind != "kec" and (loc_cue or capital))
            ]
            if kept:
                # A common word kept only for its capital letter ("Salam", "Bae") is a place only
                # when another place in the text, or the author's regency, agrees with it.
                weak = not lenient and level is None and all(e.needs_cue and e.kind == "kec" for e in kept) and not (
                    loc_cue and any(e.kind != "kec" for e in kept))
                found.append((i, size, kept, level, weak))
            i += size
        if not found:
            return _NO_MATCH
        return self._resolve(found, hint)

    def _resolve(self, found: list[tuple[int, int, list[_Entry], str | None, bool]], hint: str | None) -> PlaceMatch:
        # Regencies/cities named outright, and the parents of districts that are unambiguous.
        # Only unambiguous mentions may disambiguate others ("Semarang" alone is both city and regency).
        context: set[str] = set()
        named: set[str] = set()  # every regency/city a name could mean ("Semarang": kab and kota)
        for _, _, es, level, weak in found:
            if weak:
                continue
            kab = [e for e in es if e.kind != "kec"]
            if level != "kec":
                named.update(e.parent for e in kab)
            if len(kab) == 1 and level != "kec":
                context.add(kab[0].parent)
            elif not kab and len(es) == 1:
                context.add(es[0].parent)
        if hint:
            context.add(hint)
        consumed: set[int] = set()
        kab_at: dict[int, str] = {}
        mentions: list[tuple[Place, bool]] = []  # (place, had a "kec" cue)
        for start, size, entries, level, weak in found:
            if weak and not any(e.parent in context or e.parent in named for e in entries):
                continue
            place = self._pick(entries, level, context)
            if place is None:
                continue
            consumed.update(range(start, start + size))
            for k in range(start, start + size):
                kab_at[k] = place.kabkota_code
            mentions.append((place, level == "kec"))
        if not mentions:
            return _NO_MATCH
        primary = mentions[0][0]
        # A district that lies outside every regency/city the text names outright is a namesake
        # ("TPA Jatibarang Semarang" is not Kec. Jatibarang, Brebes): the named regency wins.
        if named and primary.kecamatan_code is not None and primary.kabkota_code not in named and not mentions[0][1]:
            for p, _ in mentions[1:]:
                if p.kabkota_code in named:
                    primary = p
                    break
        places = [p for p, _ in mentions]
        # A district mentioned anywhere sharpens the first regency when it lies inside it.
        if primary.kecamatan_code is None:
            for p in places:
                if p.kecamatan_code is not None and p.kabkota_code == primary.kabkota_code:
                    primary = p
                    break
        return PlaceMatch(primary, frozenset(consumed), tuple(places), kab_at)

    def _pick(self, entries: list[_Entry], level: str | None, context: set[str]) -> Place | None:
        kabkota = [e for e in entries if e.kind != "kec"]
        kec = [e for e in entries if e.kind == "kec"]
        if level == "kec" and kec:
            kabkota = []
        if kabkota:
            if len(kabkota) > 1:
                kab = [e for e in kabkota if e.kind == "kab"]
                kota = [e for e in kabkota if e.kind == "kota"]
                if level == "kab" and kab:
                    chosen = kab[0]
                elif level == "kota" and kota:
                    chosen = kota[0]
                elif kab and kab[0].code in context and not (kota and kota[0].code in context):
                    chosen = kab[0]  # e.g. "Semarang … Ungaran": a district/seat of the regency
                elif kota and _base_name(kota[0].name) in _KOTA_FIRST:
                    chosen = kota[0]
                else:
                    chosen = kabkota[0]
            else:
                chosen = kabkota[0]
            return Place(chosen.code, self._kabkota_name[chosen.code])
        if len(kec) > 1:
            # The same district name in several regencies: only the regency named elsewhere decides.
            in_context = [e for e in kec if e.parent in context]
            if not in_context:
                preferred = _PREFERRED_DISTRICT.get(kec[0].name.lower())
                in_context = [e for e in kec if e.parent == preferred]
            if len(in_context) != 1:
                return None
            kec = in_context
        e = kec[0]
        return Place(e.parent, self._kabkota_name[e.parent], e.code, e.name)

    def find(self, text: str, *, lenient: bool = False) -> Place | None:
        """Place named in free text (a tweet, or with lenient=True an X profile location)."""
        return self.match(tokenize(text), lenient=lenient).place


def _level_cue(prev: str) -> str | None:
    if prev in _KAB_CUES:
        return "kab"
    if prev in _KOTA_CUES:
        return "kota"
    if prev in _KEC_CUES:
        return "kec"
    return None


def _base_name(name: str) -> str:
    low = name.lower()
    for prefix in ("kabupaten ", "kota "):
        if low.startswith(prefix):
            return low[len(prefix) :]
    return low
