"""Routing of #KemalaJateng tweets to provincial agencies: rules + places + naive Bayes → RoutingDecision.

Pure domain module: reads packaged data files, talks to no network, imports no adapters.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

from bot.domain.agencies import (
    TRIAGE_CODE,
    Jurisdiction,
    destination_by_code,
    destinations,
    is_kabkota_code,
    kabkota_code_of,
)
from bot.domain.places import _TOKEN_RE, Gazetteer, Place, tokenize

DATA_DIR = Path(__file__).resolve().parent / "data"
AGENCIES_CSV = DATA_DIR / "agencies.csv"
RULES_JSON = DATA_DIR / "routing_rules.json"
MODEL_JSON = DATA_DIR / "routing_model.json"
TRIAGE = TRIAGE_CODE

_URL_RE = re.compile(r"https?://\S+|www\.\S+|\S+\.(?:com|id|co|net|org)/\S*", re.IGNORECASE)
_HANDLE_RE = re.compile(r"@(\w{1,30})")
_HASHTAG_RE = re.compile(r"#(\w+)")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])")
# "parahhh", "tolonggg": three or more repeats are emphasis, never Indonesian spelling.
_ELONGATION_RE = re.compile(r"(\w)\1{2,}")
_RT_RE = re.compile(r"^\s*RT\s+@\w+", re.IGNORECASE)
_OWN_HASHTAGS = frozenset({"kemalajateng", "kemala", "laporgub", "jatenggayeng"})

# Informal spellings and abbreviations seen in tweets → standard words (may expand to several).
_INFORMAL: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("jln", "jl", "jaln", "jaan"), ("jalan",)),
    "dijalan": ("di", "jalan"),
    "dijalanan": ("di", "jalan"),
    **dict.fromkeys(
        ("gak", "nggak", "ngga", "ga", "gk", "engga", "enggak", "tdk", "tak", "kagak", "ora", "gaada"),
        ("tidak",),
    ),
    **dict.fromkeys(("sy", "gw", "gue", "gua", "aq", "aku", "ak"), ("saya",)),
    "bgt": ("banget",),
    "yg": ("yang",),
    **dict.fromkeys(("dgn", "dg"), ("dengan",)),
    **dict.fromkeys(("blm", "blom", "durung"), ("belum",)),
    **dict.fromkeys(("sdh", "udh", "udah", "dah", "wis", "uwis"), ("sudah",)),
    "rs": ("rumah", "sakit"),
    "rsu": ("rumah", "sakit"),
    **dict.fromkeys(("krn", "karna", "krna"), ("karena",)),
    **dict.fromkeys(("tp", "tpi"), ("tapi",)),
    **dict.fromkeys(("utk", "untk"), ("untuk",)),
    **dict.fromkeys(("tlg", "tolongg"), ("tolong",)),
    **dict.fromkeys(("mhn", "mohonn"), ("mohon",)),
    **dict.fromkeys(("trs", "trus"), ("terus",)),
    "lg": ("lagi",),
    "org": ("orang",),
    **dict.fromkeys(("gmn", "gimana", "gmna"), ("bagaimana",)),
    **dict.fromkeys(("knp", "napa", "ngapa"), ("kenapa",)),
    **dict.fromkeys(("kalo", "klo", "kl"), ("kalau",)),
    **dict.fromkeys(("skrg", "skg", "skrng"), ("sekarang",)),
    **dict.fromkeys(("bnyk", "byk"), ("banyak",)),
    **dict.fromkeys(("sampe", "ampe"), ("sampai",)),
    "thn": ("tahun",),
    "bln": ("bulan",),
    "hr": ("hari",),
    "mggu": ("minggu",),
    **dict.fromkeys(("bener", "bnr"), ("benar",)),
    "dlm": ("dalam",),
    "dpt": ("dapat",),
    "bbrp": ("beberapa",),
    **dict.fromkeys(("lobang", "lobangnya", "berlobang", "bolong", "bolongnya"), ("lubang",)),
    **dict.fromkeys(("ancur", "hancur", "remuk"), ("rusak",)),
    "bis": ("bus",),
    "ijin": ("izin",),
    "perijinan": ("perizinan",),
    "puskes": ("puskesmas",),
    **dict.fromkeys(("pemprov", "prov", "prop", "propinsi"), ("provinsi",)),
    "jateng": ("jawa", "tengah"),
    "pdhl": ("padahal",),
    **dict.fromkeys(("pake", "pakai"), ("pakai",)),
    "bikin": ("buat",),
    **dict.fromkeys(("ortu",), ("orang", "tua")),
    **dict.fromkeys(("hoax", "hoaks"), ("hoaks",)),
    **dict.fromkeys(("ktpel", "ektp"), ("ktp",)),
    "p3k": ("pppk",),
    **dict.fromkeys(("makasih", "makasi", "mksh", "trims", "thx", "tq", "tengkyu", "thanks"), ("terima", "kasih")),
    **dict.fromkeys(("maturnuwun", "matursuwun", "suwun"), ("matur", "nuwun")),
    "ngurus": ("urus",),
    "nunggu": ("tunggu",),
    "nyampah": ("sampah",),
    "macetnya": ("macet",),
    "dibenerin": ("diperbaiki",),
    "benerin": ("perbaiki",),
    "dibiarin": ("dibiarkan",),
    # Javanese that citizens mix in (ngoko and krama)
    **dict.fromkeys(("dalan", "ratan", "margi"), ("jalan",)),
    **dict.fromkeys(("mboten", "boten", "ndak"), ("tidak",)),
    **dict.fromkeys(("sampun", "mpun"), ("sudah",)),
    **dict.fromkeys(("dereng", "durung"), ("belum",)),
    **dict.fromkeys(("kulo", "kula", "aku"), ("saya",)),
    **dict.fromkeys(("niki", "iki", "puniko"), ("ini",)),
    **dict.fromkeys(("nyuwun",), ("mohon",)),
    **dict.fromkeys(("tulung", "tulungi"), ("tolong",)),
    **dict.fromkeys(("banyu", "toya"), ("air",)),
    **dict.fromkeys(("omah", "griya"), ("rumah",)),
    **dict.fromkeys(("sekolahan",), ("sekolah",)),
    **dict.fromkeys(("bocah", "lare"), ("anak",)),
    **dict.fromkeys(("larang", "awis"), ("mahal",)),
    **dict.fromkeys(("bosok", "rusuh"), ("rusak",)),
    **dict.fromkeys(("ambrol", "ambruk", "jugrug"), ("roboh",)),
    "dr": ("dr",),
}

# Function words and address terms that carry no agency signal; dropped before features and rules.
_STOPWORDS = frozenset(
    """
    yang di ke dan ini itu nya ya dong sih deh kok lah nih tuh aja saja juga pun kah min mimin admin
    pak bapak kak mas mbak gan om the eh wkwk wkwkwk hehe haha dll dsb tsb tersebut para oleh pada
    adalah sangat banget amat nan si sang dr sanget sekali nggih njih inggih lho kan mawon
    """.split()
)

# Expansions that are function words: an abbreviation that a rule phrase uses as content ("tpi",
# the fish auction) must not be read as one of these ("tpi" → "tapi") in rules or in tweets.
_FUNCTION_EXPANSIONS = frozenset(
    """tapi tidak yang dengan sudah belum karena untuk saya terus lagi kalau sekarang sampai padahal
    banget bagaimana kenapa""".split()
)
# The most a learned model may take off a class the text names or marks outright.
_STATED_FLOOR = 1.5
# A phrase may skip this many stopwords between two of its words ("jalan yang rusak" = "jalan rusak").
_MAX_SKIP = 2

_STEM_CACHE_MAX = 50_000


@functools.lru_cache(maxsize=1)
def _stemmer() -> Any:
    return StemmerFactory().create_stemmer()


@dataclass(frozen=True, slots=True)
class NormalisedText:
    """Tokens of a tweet after clean-up: words (stemmed unless a place name) and what was found."""

    words: tuple[str, ...]
    surface: tuple[str, ...]  # same positions, unstemmed (informal spellings already expanded)
    is_place: tuple[bool, ...]
    handles: tuple[str, ...]
    place: Place | None
    is_retweet: bool
    # Function words stay in the stream (a rule phrase may need "pak" in "terima kasih pak") but
    # are flagged: phrases skip them, features leave them out.
    is_stop: tuple[bool, ...] = ()
    place_kab: tuple[str | None, ...] = ()  # regency/city code at place positions

    def features(self, skip: frozenset[int] = frozenset()) -> list[str]:
        """Unigrams and bigrams of content words (not places, stopwords or `skip` positions): NB features."""
        out: list[str] = []
        prev: str | None = None
        stops = self.is_stop or (False,) * len(self.words)
        for i, (word, place) in enumerate(zip(self.words, self.is_place, strict=True)):
            if stops[i]:
                continue
            if place or i in skip:
                prev = None
                continue
            out.append(word)
            if prev is not None:
                out.append(prev + " " + word)
            prev = word
        return out


class Normaliser:
    """Tweet text → NormalisedText; stems per word with a bounded cache (Sastrawi is ~0.3 ms/word)."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        """Use this gazetteer to take place names out before stemming (Pekalongan → kalong otherwise)."""
        self.gazetteer = gazetteer
        self._stems: dict[str, str] = {}
        # Tokens a rule phrase uses as content: never expanded to a function word.
        self.protected: frozenset[str] = frozenset()
        # Every word the rules use (for Javanese suffixes: "dalane" → "jalan" only when "jalan" is a rule word).
        self.vocabulary: frozenset[str] = frozenset()

    def stem(self, word: str) -> str:
        """Sastrawi stem of one lower-case word, cached."""
        cached = self._stems.get(word)
        if cached is not None:
            return cached
        if len(self._stems) >= _STEM_CACHE_MAX:
            self._stems.clear()  # crude but bounded; the working vocabulary refills it quickly
        stemmed = word if len(word) <= 3 or not word.isalpha() else _stemmer().stem(word) or word
        self._stems[word] = stemmed
        return stemmed

    def normalise(self, text: str, *, mentions: Sequence[str] = (), hint: str | None = None) -> NormalisedText:
        """Clean, find places, expand informal words, flag stopwords, stem the rest.

        `hint` is the author's regency/city code (from the profile), used to settle place names.
        """
        is_rt = bool(_RT_RE.match(text))
        handles = [h.lower() for h in _HANDLE_RE.findall(text)]
        handles.extend(m.lstrip("@").lower() for m in mentions)
        clean = _URL_RE.sub(" ", text)
        clean = _HANDLE_RE.sub(" ", clean)
        clean = _HASHTAG_RE.sub(_hashtag_words, clean)
        clean = _ELONGATION_RE.sub(r"\1", clean)
        tokens = tokenize(clean)
        match = self.gazetteer.match(tokens, hint=hint)
        words: list[str] = []
        surface: list[str] = []
        is_place: list[bool] = []
        is_stop: list[bool] = []
        place_kab: list[str | None] = []
        protected = self.protected
        vocab = self.vocabulary
        for i, tok in enumerate(tokens):
            if i in match.consumed:
                words.append(tok.text)
                surface.append(tok.text)
                is_place.append(True)
                is_stop.append(False)
                place_kab.append(match.kabkota_at.get(i))
                continue
            expanded = (tok.text,) if tok.text in protected else _INFORMAL.get(tok.text, (tok.text,))
            for w in expanded:
                if w.isdigit():
                    continue
                if w in _STOPWORDS:
                    words.append(w)
                    surface.append(w)
                    is_place.append(False)
                    is_stop.append(True)
                    place_kab.append(None)
                    continue
                if len(w) > 6 and w.endswith("nya"):
                    w = w[:-3]  # "sampahnya" is "sampah" for surface matching too
                elif w not in vocab and len(w) > 4 and w.endswith("e"):
                    # Javanese possessive: "dalane", "aspale", "lampune" are "jalan", "aspal", "lampu".
                    for cut in (2, 1):
                        base = _INFORMAL.get(w[:-cut], (w[:-cut],))[0]
                        if w.endswith("ne" if cut == 2 else "e") and base in vocab:
                            w = base
                            break
                words.append(self.stem(w))
                surface.append(w)
                is_place.append(False)
                is_stop.append(False)
                place_kab.append(None)
        return NormalisedText(
            tuple(words), tuple(surface), tuple(is_place), tuple(dict.fromkeys(handles)), match.place, is_rt,
            tuple(is_stop), tuple(place_kab),
        )

    def phrase(self, text: str) -> tuple[tuple[bool, str], ...]:
        """A rule phrase as match keys: (True, stem) for root words, (False, surface) for derived ones.

        Derived words keep their surface form because stemming would widen them: "dirumahkan"
        (laid off) stems to "rumah" (house), "pekerja" to "kerja". A phrase keeps its function
        words ("terima kasih pak" is not "terima kasih"), except a phrase of function words only.
        """
        norm = self.normalise(text)
        keys = [
            (True, stem) if stem == surf else (False, surf)
            for stem, surf, stop in zip(norm.words, norm.surface, norm.is_stop or (False,) * len(norm.words),
                                        strict=True)
            if not stop or len(norm.words) > 1
        ]
        # Leading/trailing function words add nothing but make the phrase miss ("di jalan" → "jalan").
        stops = set(_STOPWORDS)
        while len(keys) > 1 and keys[0][1] in stops:
            keys.pop(0)
        while len(keys) > 1 and keys[-1][1] in stops:
            keys.pop()
        return tuple(keys)


def _hashtag_words(m: re.Match[str]) -> str:
    tag = m.group(1)
    if tag.lower() in _OWN_HASHTAGS:
        return " "
    return " " + _CAMEL_RE.sub(" ", tag) + " "


# ----------------------------------------------------------------------------------------------
# Learned model


@dataclass(frozen=True, slots=True)
class NaiveBayesModel:
    """Multinomial naive Bayes over unigram+bigram features, stored sparsely as log-prob deltas."""

    classes: tuple[str, ...]
    log_prior: tuple[float, ...]
    # log P(unseen feature | class); a feature's stored delta is log P(f|c) minus this value.
    log_unseen: tuple[float, ...]
    deltas: Mapping[str, tuple[tuple[int, float], ...]]
    alpha: float = 0.5
    meta: Mapping[str, Any] = field(default_factory=dict)

    def log_posterior(self, features: Iterable[str]) -> list[float]:
        """Unnormalised log P(class | features); features outside the vocabulary are ignored."""
        scores = list(self.log_prior)
        n = 0
        deltas = self.deltas
        for f in features:
            d = deltas.get(f)
            if d is None:
                continue
            n += 1
            for ci, delta in d:
                scores[ci] += delta
        if n:
            unseen = self.log_unseen
            for ci in range(len(scores)):
                scores[ci] += n * unseen[ci]
        return scores

    def to_json(self) -> dict[str, Any]:
        """Compact JSON-able dict (deltas rounded to 4 decimals)."""
        return {
            "format": "kemala-nb-1",
            "alpha": self.alpha,
            "classes": list(self.classes),
            "log_prior": [round(x, 5) for x in self.log_prior],
            "log_unseen": [round(x, 5) for x in self.log_unseen],
            "features": {f: [[ci, round(d, 4)] for ci, d in ds] for f, ds in sorted(self.deltas.items())},
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NaiveBayesModel:
        """Inverse of to_json; raises ValueError on another format."""
        if data.get("format") != "kemala-nb-1":
            raise ValueError(f"unknown model format: {data.get('format')!r}")
        features = {str(f): tuple((int(ci), float(d)) for ci, d in ds) for f, ds in data["features"].items()}
        return cls(
            classes=tuple(data["classes"]),
            log_prior=tuple(float(x) for x in data["log_prior"]),
            log_unseen=tuple(float(x) for x in data["log_unseen"]),
            deltas=features,
            alpha=float(data.get("alpha", 0.5)),
            meta=dict(data.get("meta", {})),
        )

    @classmethod
    def load(cls, path: Path) -> NaiveBayesModel:
        """Read a model JSON file."""
        with path.open(encoding="utf-8") as fh:
            return cls.from_json(json.load(fh))


# ----------------------------------------------------------------------------------------------
# Agencies and rules

# The pseudo-class "some regency/city government": which one comes from the place, not the words.
LOCAL = "kabkota"
# meta["kind"] of a model trained on confirmed labels only (it joins the shipped model).
CONFIRMED_KIND = "confirmed"


@dataclass(frozen=True, slots=True)
class Agency:
    """One row of agencies.csv (or a vertical body: kind 'vertikal')."""

    code: str
    kind: str
    name: str
    short_name: str
    x_handle: str


def load_agencies(path: Path = AGENCIES_CSV) -> dict[str, Agency]:
    """Agency directory keyed by code, in file order."""
    with path.open(encoding="utf-8", newline="") as fh:
        return {
            r["code"]: Agency(r["code"], r["kind"], r["name"], r["short_name"], r["x_handle"])
            for r in csv.DictReader(fh)
        }


def load_verticals() -> dict[str, Agency]:
    """The vertical/national bodies a complaint can be proposed for (destinations only)."""
    return {
        d.code: Agency(d.code, d.kind, d.name, d.short_name, d.x_handle or "")
        for d in destinations()
        if d.jurisdiction is Jurisdiction.VERTICAL
    }


def model_label(code: str) -> str:
    """The class a label trains: every regency/city code is the one LOCAL class (places say which)."""
    return LOCAL if is_kabkota_code(code) else code


@dataclass(frozen=True, slots=True)
class _Hit:
    cls: str  # a class, or "" for a neutral phrase (politeness, addresses: consumed, scores nothing)
    weight: float
    label: str  # surface phrase, for the reason
    kind: str  # "alias" | "marker" | "keyword" | "noncomplaint" | "neutral"


_Gram = tuple[tuple[bool, str], ...]


@dataclass(frozen=True, slots=True)
class _Affinity:
    agency: str
    kabkota: frozenset[str]
    triggers: tuple[str, ...]  # " stem stem " strings, matched inside the joined stems
    weight: float


class RuleSet:
    """Phrase rules (aliases, keywords, non-complaint cues, neutral phrases) as a first-word index."""

    def __init__(self, data: Mapping[str, Any], agencies: Mapping[str, Agency], normaliser: Normaliser) -> None:
        """Compile rules JSON (see bot/data/README.md) plus names and short names from the directory."""
        w = data.get("weights", {})
        self.w_handle = float(w.get("handle", 4.0))
        self.w_retweet = float(w.get("retweet", 3.0))
        self.w_link = float(w.get("linking_road", 2.5))
        weights = {
            "alias": float(w.get("alias", 3.0)),
            "strong": float(w.get("strong", 2.0)),
            "weak": float(w.get("weak", 0.7)),
            # Phrases that state whose matter it is ("jalan kabupaten", "jalan provinsi", "SMP negeri").
            "marker": float(w.get("marker", 4.0)),
        }
        self.model_weight = float(w.get("model", 0.25))
        # The learned part's weight grows with confirmed labels: model + gain · n / (n + half).
        self.model_gain = float(w.get("model_gain", 0.0))
        self.model_half = float(w.get("model_half", 200.0))
        self.temperature = float(w.get("temperature", 1.0))
        normaliser.protected = _protected_tokens(data)
        normaliser.vocabulary = _rule_vocabulary(data)
        self.handles: dict[str, str] = {}
        self.phrases: dict[_Gram, list[_Hit]] = {}
        # An agency whose name is mentioned also takes the keyword score of these agencies
        # (a hospital named in a complaint about "obat" and "pasien" must beat Dinkes).
        self.absorbs: dict[str, tuple[str, ...]] = {}
        for code, ag in agencies.items():
            if ag.x_handle:
                self.handles[ag.x_handle.lstrip("@").lower()] = code
            for alias in _directory_aliases(ag):
                self._add(normaliser, alias, _Hit(code, weights["alias"], alias, "alias"))
        sections: list[tuple[str, Mapping[str, Any]]] = list(data.get("agencies", {}).items())
        if "kabkota" in data:
            sections.append((LOCAL, data["kabkota"]))
        for code, spec in sections:
            if code not in agencies and code != LOCAL:
                raise ValueError(f"routing rules name unknown agency {code!r}")
            if spec.get("absorbs"):
                self.absorbs[code] = tuple(spec["absorbs"])
            for h in spec.get("handles", []):
                self.handles[str(h).lstrip("@").lower()] = code
            for level in ("alias", "marker", "strong", "weak"):
                key = {"alias": "aliases", "marker": "markers"}.get(level, level)
                for phrase in spec.get(key, []):
                    kind = level if level in ("alias", "marker") else "keyword"
                    self._add(normaliser, phrase, _Hit(code, weights[level], phrase, kind))
        # Thanks for work done ("jalannya sudah mulus, matur nuwun") with no complaint word left is not
        # a complaint, however much it names a road or an agency.
        ap = data.get("appreciation", {})
        self.appreciation = tuple(normaliser.phrase(x) for x in ap.get("cues", []))
        self.complaint_words = frozenset(normaliser.stem(w) for w in ap.get("complaint_words", []))
        self.w_appreciation = float(ap.get("weight", 6.0))
        nc = data.get("non_complaint", {})
        for level, weight in (("strong", float(w.get("nc_strong", 2.5))), ("weak", float(w.get("nc_weak", 1.0)))):
            for phrase in nc.get(level, []):
                self._add(normaliser, phrase, _Hit(TRIAGE, weight, phrase, "noncomplaint"))
        for phrase in data.get("neutral", []):
            self._add(normaliser, phrase, _Hit("", 0.0, phrase, "neutral"))
        self.affinities = tuple(
            _Affinity(
                a["agency"],
                frozenset(a["kabkota"]),
                tuple(" " + " ".join(_content(normaliser.normalise(t))) + " " for t in a["if_any"]),
                float(a.get("weight", 2.0)),
            )
            for a in data.get("place_affinity", [])
        )
        # First match key → candidate phrases, longest first.
        self._by_first: dict[tuple[bool, str], list[tuple[_Gram, list[_Hit]]]] = {}
        for gram, hits in self.phrases.items():
            self._by_first.setdefault(gram[0], []).append((gram, hits))
        for cands in self._by_first.values():
            cands.sort(key=lambda c: -len(c[0]))

    def _add(self, normaliser: Normaliser, phrase: str, hit: _Hit) -> None:
        gram = normaliser.phrase(phrase)
        if not gram:
            return
        bucket = self.phrases.setdefault(gram, [])
        # One phrase counts once per class (an alias listed twice must not double its weight);
        # a phrase that is a real cue for some class is never also neutral.
        if hit.kind == "neutral":
            if not bucket:
                bucket.append(hit)
            return
        bucket[:] = [b for b in bucket if b.kind != "neutral"]
        for i, old in enumerate(bucket):
            if old.cls == hit.cls:
                if hit.weight > old.weight:
                    bucket[i] = hit
                return
        bucket.append(hit)

    def scan(self, norm: NormalisedText) -> tuple[list[_Hit], frozenset[int]]:
        """Greedy longest-match scan ('jembatan timbang' wins over 'jembatan').

        Returns the hits and the positions neutral phrases consumed (left out of the features).
        Function words in the text may sit between a phrase's words; a phrase's own function
        words must be there.
        """
        words, surface = norm.words, norm.surface
        stops = norm.is_stop or (False,) * len(words)
        hits: list[_Hit] = []
        neutral: set[int] = set()
        i, n = 0, len(words)
        by_first = self._by_first
        empty: list[tuple[_Gram, list[_Hit]]] = []
        while i < n:
            cands = by_first.get((True, words[i]), empty)
            if surface[i] != words[i]:
                more = by_first.get((False, surface[i]))
                if more:
                    cands = sorted(cands + more, key=lambda c: -len(c[0]))
            step = 1
            for gram, found in cands:
                end = _match_at(gram, i, words, surface, stops)
                if end:
                    if found[0].kind == "neutral":
                        neutral.update(range(i, end))
                    else:
                        hits.extend(found)
                    step = end - i
                    break
            i += step
        return hits, frozenset(neutral)


def _match_at(gram: _Gram, i: int, words: Sequence[str], surface: Sequence[str], stops: Sequence[bool]) -> int:
    """End position (exclusive) when `gram` matches at i, else 0."""
    n = len(words)
    j = i + 1
    for k in range(1, len(gram)):
        is_root, tok = gram[k]
        skipped = 0
        while j < n and stops[j] and surface[j] != tok and skipped < _MAX_SKIP:
            j += 1
            skipped += 1
        if j >= n or (words[j] if is_root else surface[j]) != tok:
            return 0
        j += 1
    return j


def _content(norm: NormalisedText) -> list[str]:
    stops = norm.is_stop or (False,) * len(norm.words)
    return [w for w, s in zip(norm.words, stops, strict=True) if not s]


def _rule_tokens(data: Mapping[str, Any]) -> Iterator[str]:
    """Every word, as written, of every agency and regency/city phrase in the rules."""
    specs: list[Mapping[str, Any]] = [*data.get("agencies", {}).values(), data.get("kabkota", {})]
    for spec in specs:
        for key in ("aliases", "markers", "strong", "weak"):
            for phrase in spec.get(key, []):
                yield from _TOKEN_RE.findall(str(phrase).lower())


def _rule_vocabulary(data: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(w for tok in _rule_tokens(data) for w in _INFORMAL.get(tok, (tok,)))


def _protected_tokens(data: Mapping[str, Any]) -> frozenset[str]:
    """Rule words that the informal table would turn into function words ("tpi" → "tapi")."""
    out: set[str] = set()
    for tok in _rule_tokens(data):
        exp = _INFORMAL.get(tok)
        if exp and exp != (tok,) and all(e in _FUNCTION_EXPANSIONS for e in exp):
            out.add(tok)
    return frozenset(out)


def _directory_aliases(ag: Agency) -> list[str]:
    out = [s.strip() for s in ag.short_name.split("/") if s.strip()]
    name = re.sub(r"\(.*?\)", "", ag.name).replace("Provinsi Jawa Tengah", "").strip()
    # Generic names ("Biro Umum") are still names; a bare short code shorter than 3 letters is not.
    if name:
        out.append(name)
    return [a for a in out if len(a) >= 3]


# ----------------------------------------------------------------------------------------------
# Decisions


class RouterPort(Protocol):
    """What the desk needs of a router (the real one, or a fixed one in tests and benchmarks)."""

    def route(self, text: str, *, author_location: str | None = None,
              mentions: Sequence[str] = ()) -> RoutingDecision: ...
    def with_model(self, model: NaiveBayesModel | None) -> RouterPort: ...


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """Where a tweet goes: agency (None → triage), confidence, top-3 alternatives, place, reasons.

    `jurisdiction` says whose matter it is (provinsi / kabkota / vertikal; None for a
    non-complaint); `destination` is the proposed regency/city or vertical body when it is not the
    province's: such a complaint goes to triage with that proposal on the card.
    """

    agency: str | None
    confidence: float
    alternatives: tuple[tuple[str, float], ...]
    place: Place | None
    reasons: tuple[str, ...]
    is_complaint: bool
    jurisdiction: str | None = Jurisdiction.PROVINCE.value
    destination: str | None = None
    # Why each alternative is one (parallel to `alternatives`; "" when only the model suggests it).
    alternative_reasons: tuple[str, ...] = ()

    def alternatives_with_reasons(self) -> list[list[Any]]:
        """[[code, score, reason], …] as stored on the complaint for the triage card."""
        why = (*self.alternative_reasons, *([""] * len(self.alternatives)))
        return [[a, s, why[i]] for i, (a, s) in enumerate(self.alternatives)]

    @property
    def predicted(self) -> str:
        """One label for evaluation: the agency, else the proposed destination, else triage."""
        return self.agency or self.destination or TRIAGE

    def to_json(self) -> dict[str, Any]:
        """Plain dict for the CLI."""
        return {
            "agency": self.agency,
            "confidence": round(self.confidence, 4),
            "alternatives": [{"agency": a, "score": round(s, 4)} for a, s in self.alternatives],
            "place": self.place.to_json() if self.place else None,
            "reasons": list(self.reasons),
            "is_complaint": self.is_complaint,
            "jurisdiction": self.jurisdiction,
            "destination": self.destination,
        }


class Router:
    """Scores every class as a weighted sum of signals and turns the scores into a decision.

    Classes: the provincial agencies, the vertical bodies, LOCAL (some regency/city government:
    the place says which) and triage. score(c) = w · (NB log-posterior − best) / √features
    + Σ matched rule weights + handle weight (mentioned) + place affinity, where w grows with the
    confirmed labels the model was trained on; confidence = softmax(score / T).
    """

    def __init__(
        self,
        *,
        agencies: Mapping[str, Agency],
        rules_data: Mapping[str, Any],
        gazetteer: Gazetteer,
        model: NaiveBayesModel | None = None,
        threshold: float = 0.45,
        verticals: Mapping[str, Agency] | None = None,
        base_model: NaiveBayesModel | None = None,
    ) -> None:
        """Build from already-loaded data; see from_files()/default() for the usual ways in."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be within [0, 1]")
        self.agencies = dict(agencies)
        self.verticals = dict(load_verticals() if verticals is None else verticals)
        self.threshold = threshold
        self.normaliser = Normaliser(gazetteer)
        self._rules_data = rules_data
        self.rules = RuleSet(rules_data, {**self.agencies, **self.verticals}, self.normaliser)
        self._classes: tuple[str, ...] = (*self.agencies, *self.verticals, LOCAL, TRIAGE)
        self._index = {c: i for i, c in enumerate(self._classes)}
        # Two learned parts: the shipped model (dev set, a small fixed say) and the model of labels
        # people confirmed or imported, whose say grows with how many there are.
        self.model: NaiveBayesModel | None = model
        self.confirmed: NaiveBayesModel | None = None
        if model is not None and model.meta.get("kind") == CONFIRMED_KIND:
            self.model, self.confirmed = base_model, model
        self._model_map = self._map(self.model)
        self._confirmed_map = self._map(self.confirmed)
        self._model_w = self.rules.model_weight if self.model is not None else 0.0
        self._confirmed_w = 0.0
        if self.confirmed is not None:
            n = float(self.confirmed.meta.get("confirmed", 0.0))
            r = self.rules
            self._confirmed_w = r.model_gain * n / (n + r.model_half)
        self._usual_kabkota: str | None = None
        if self.confirmed is not None:
            shares = dict(self.confirmed.meta.get("kabkota_labels", {}))
            total = sum(shares.values())
            top_code = max(shares, key=lambda c: shares[c]) if shares else None
            if top_code is not None and total >= 20 and shares[top_code] >= 0.6 * total:
                self._usual_kabkota = str(top_code)
        self._kab_names: dict[str, str] = {
            d.kemendagri_code: d.short_name for d in destinations() if d.kemendagri_code
        }

    def _map(self, model: NaiveBayesModel | None) -> tuple[int, ...]:
        if model is None:
            return ()
        unknown = [c for c in model.classes if c not in self._index]
        if unknown:
            raise ValueError(f"model has classes not in the agency directory: {unknown}")
        return tuple(self._index[c] for c in model.classes)

    @property
    def destinations(self) -> frozenset[str]:
        """Every label the router may propose besides the provincial agencies and triage."""
        return frozenset(d.code for d in destinations())

    @classmethod
    def from_files(
        cls,
        *,
        agencies_csv: Path = AGENCIES_CSV,
        rules_json: Path = RULES_JSON,
        model_json: Path | None = MODEL_JSON,
        kabkota_csv: Path | None = None,
        kecamatan_csv: Path | None = None,
        threshold: float = 0.45,
    ) -> Router:
        """Load directory, rules, places and (optionally) the learned model from files."""
        gaz = (
            Gazetteer.from_csv(*(p for p in (kabkota_csv, kecamatan_csv) if p is not None))
            if kabkota_csv or kecamatan_csv
            else Gazetteer.default()
        )
        with rules_json.open(encoding="utf-8") as fh:
            rules = json.load(fh)
        model = NaiveBayesModel.load(model_json) if model_json is not None and model_json.exists() else None
        return cls(
            agencies=load_agencies(agencies_csv), rules_data=rules, gazetteer=gaz, model=model, threshold=threshold
        )

    @staticmethod
    def default() -> Router:
        """The packaged router (cached: built once per process)."""
        return _default_router()

    def with_model(self, model: NaiveBayesModel | None) -> Router:
        """Same rules and places, another learned model.

        A model of confirmed labels (meta kind "confirmed", from retraining) joins the shipped one;
        any other model replaces the shipped one.
        """
        return Router(
            agencies=self.agencies,
            rules_data=self._rules_data,
            gazetteer=self.normaliser.gazetteer,
            model=model,
            threshold=self.threshold,
            verticals=self.verticals,
            base_model=self.model,
        )

    def with_threshold(self, threshold: float) -> Router:
        """Same everything, another triage threshold."""
        return Router(
            agencies=self.agencies,
            rules_data=self._rules_data,
            gazetteer=self.normaliser.gazetteer,
            model=self.confirmed or self.model,
            threshold=threshold,
            verticals=self.verticals,
            base_model=self.model,
        )

    def route(self, text: str, *, author_location: str | None = None, mentions: Sequence[str] = ()) -> RoutingDecision:
        """Decide the agency (or the non-provincial destination) for one tweet."""
        gaz = self.normaliser.gazetteer
        profile_place = gaz.find(author_location, lenient=True) if author_location else None
        hint = profile_place.kabkota_code if profile_place else None
        norm = self.normaliser.normalise(text, mentions=mentions, hint=hint)
        classes = self._classes
        index = self._index
        scores = [0.0] * len(classes)
        reasons_by_class: dict[str, list[str]] = {}
        rules = self.rules

        for h in norm.handles:
            code = rules.handles.get(h)
            if code is not None:
                scores[index[code]] += rules.w_handle
                reasons_by_class.setdefault(code, []).append(f"menyebut @{h}")

        # Per class, matched rule weights add with diminishing returns (1, 1/2, 1/4 …): many weak
        # generic words must not outvote one specific name or phrase.
        per_class: dict[str, list[float]] = {}
        named: set[str] = set()
        first_label: dict[str, str] = {}
        top_weight: dict[str, float] = {}
        hits, neutral = rules.scan(norm)
        keyword_weights: dict[str, list[float]] = {}
        marked: set[str] = set()
        for hit in hits:
            per_class.setdefault(hit.cls, []).append(hit.weight)
            if hit.kind == "marker":
                marked.add(hit.cls)
            elif hit.kind == "keyword":
                keyword_weights.setdefault(hit.cls, []).append(hit.weight)
            if hit.kind == "alias":
                named.add(hit.cls)
                reason = f"menyebut {hit.label}"
            else:
                reason = f"kata kunci: {hit.label}"
            if hit.weight > top_weight.get(hit.cls, -1.0):  # the strongest cue names the reason
                top_weight[hit.cls] = hit.weight
                first_label[hit.cls] = hit.label
            bucket = reasons_by_class.setdefault(hit.cls, [])
            if reason not in bucket:
                bucket.append(reason)
        rule_score = {c: _diminishing(ws) for c, ws in per_class.items()}
        # A destination named outright or marked ("jalan kabupaten", "puskesmas", "PLN") takes the
        # topic words of the provincial agencies too: "guru" and "kelas" in a complaint about an SD
        # negeri say what the regency's matter is, not that the province owns it.
        topical = {c: _diminishing(ws) for c, ws in keyword_weights.items()}
        best_topic = max((v for c, v in topical.items() if not self._is_destination_class(c) and c != TRIAGE),
                         default=0.0)
        for c, sc in rule_score.items():
            scores[index[c]] += sc
        for c in named:
            for parent in rules.absorbs.get(c, ()):
                scores[index[c]] += rule_score.get(parent, 0.0)
        for c in marked | named:
            if self._is_destination_class(c):
                scores[index[c]] += best_topic

        link = _linking_road(norm)
        if link is not None and "dpubmck" in index:
            # "Jalan Solo – Purwodadi", "ruas Boja - Limbangan - Kendal": a road between two
            # regencies/cities is not a village road (the province's, or a national one).
            scores[index["dpubmck"]] += rules.w_link
            gaz_name = self.normaliser.gazetteer.kabkota_name
            a, b = (gaz_name(c) or c for c in link)
            reasons_by_class.setdefault("dpubmck", []).append(f"ruas antarwilayah: {a} – {b}")

        if rules.appreciation and not rules.complaint_words & set(norm.words):
            stops_ = norm.is_stop or (False,) * len(norm.words)
            for gram in rules.appreciation:
                if gram and any(norm.words[i] == gram[0][1] and _match_at(gram, i, norm.words, norm.surface, stops_)
                                for i in range(len(norm.words))):
                    scores[index[TRIAGE]] += rules.w_appreciation
                    reasons_by_class.setdefault(TRIAGE, []).append("ucapan terima kasih atas penanganan")
                    break

        if norm.is_retweet:
            scores[index[TRIAGE]] += rules.w_retweet
            reasons_by_class.setdefault(TRIAGE, []).append("retweet")

        place = norm.place
        place_reason = f"lokasi: {place.label}" if place else None
        if place is None and profile_place is not None:
            place = profile_place
            place_reason = f"lokasi profil: {place.label}"
        if place is not None and rules.affinities:
            joined = " " + " ".join(_content(norm)) + " "
            for aff in rules.affinities:
                if place.kabkota_code in aff.kabkota and any(t in joined for t in aff.triggers):
                    scores[index[aff.agency]] += aff.weight
                    reasons_by_class.setdefault(aff.agency, []).append(f"rumah sakit di {place.label}")

        model_used = False
        stated = marked | named
        feats = norm.features(neutral) if self.model is not None or self.confirmed is not None else []
        if feats:
            # Long posts must not let a learned part drown the rules: scale by √features.
            length = math.sqrt(max(1.0, len(feats) / 8.0))
            for model, weight, mapping in ((self.model, self._model_w, self._model_map),
                                           (self.confirmed, self._confirmed_w, self._confirmed_map)):
                if model is None or weight <= 0:
                    continue
                lp = model.log_posterior(feats)
                best = max(lp)
                # The confirmed model reads evidence per word (its classes are few and its texts long).
                mw = weight / (length if model is self.model else max(1.0, len(feats) / 8.0))
                contrib = [mw * (x - best) for x in lp]
                # A class the model never saw (a vertical body, at first) is judged by its rules alone:
                # it is proposed only on evidence (see below), so no penalty is due.
                for mi, ci in enumerate(mapping):
                    # What the text states outright (a name, a marker such as "SD negeri") the
                    # learned part may weaken but not overturn on its own.
                    scores[ci] += max(contrib[mi], -_STATED_FLOOR) if classes[ci] in stated else contrib[mi]
                model_used = True

        # A destination outside the province is a candidate only on evidence: a rule, a mention, or a
        # model that has learned that class. The others leave the softmax altogether.
        learned = {self._classes[ci] for ci in (*self._model_map, *self._confirmed_map)}
        evidence = set(reasons_by_class) | learned
        live = [classes[i] in evidence or not self._is_destination_class(classes[i]) for i in range(len(classes))]
        # Softmax with temperature: the confidence the UI shows and the threshold compares against.
        t = rules.temperature
        top = max(sc for sc, ok in zip(scores, live, strict=True) if ok)
        exps = [math.exp((sc - top) / t) if ok else 0.0 for sc, ok in zip(scores, live, strict=True)]
        total = sum(exps)
        probs = [e / total for e in exps]
        order = [i for i in sorted(range(len(classes)), key=lambda i: (-probs[i], i)) if live[i]]
        best_cls = classes[order[0]]
        local_dest = self._kabkota_destination(place)
        usual_local = False
        if local_dest is None and self._usual_kabkota is not None:
            # No place in the text or the profile: a history where most local matters belong to one
            # regency/city (one channel's import) says which.
            local_dest, usual_local = self._usual_kabkota, True
        alternatives: list[tuple[str, float]] = []
        alternative_reasons: list[str] = []
        for i in order:
            c = classes[i]
            if c == TRIAGE or (c == LOCAL and local_dest is None) or (
                    c not in evidence and self._is_destination_class(c)):
                continue
            alternatives.append((local_dest if c == LOCAL and local_dest else c, probs[i]))
            alternative_reasons.append("; ".join(reasons_by_class.get(c, [])[:2]))
            if len(alternatives) == 3:
                break

        reasons: list[str] = []
        agency: str | None = None
        confidence = probs[order[0]]
        jurisdiction: str | None = Jurisdiction.PROVINCE.value
        destination: str | None = None
        # Nothing but greetings, thanks and addresses ("selamat pagi pak gub, terima kasih"): no matter to route.
        only_politeness = not hits and not norm.handles and not any(
            not stop and not place and i not in neutral
            for i, (stop, place) in enumerate(zip(norm.is_stop, norm.is_place, strict=True)))
        if only_politeness:
            best_cls = TRIAGE
            confidence = 1.0
            reasons_by_class.setdefault(TRIAGE, []).append("hanya salam atau ucapan")
        if best_cls == TRIAGE:
            is_complaint = not (bool(reasons_by_class.get(TRIAGE)) or probs[order[0]] >= 0.5)
            if not is_complaint:
                jurisdiction = None
                reasons.append("bukan aduan")
                reasons.extend(reasons_by_class.get(TRIAGE, []))
            else:
                reasons.append("tidak ada tanda instansi yang jelas, perlu triase")
        elif best_cls == LOCAL or best_cls in self.verticals:
            is_complaint = True
            why = first_label.get(best_cls) or "mirip aduan sejenis"
            if best_cls == LOCAL:
                jurisdiction = Jurisdiction.KABKOTA.value
                destination = local_dest
                who = self._kab_names.get(place.kabkota_code, place.kabkota_name) if place else "pemkab/pemkot"
                if usual_local and local_dest is not None:
                    who = destination_by_code()[local_dest].short_name
                    reasons.append(f"Kewenangan {who}: {why} (daerah dari riwayat aduan)")
                else:
                    reasons.append(f"Kewenangan {who}: {why}" + ("" if place else " (daerah belum diketahui)"))
            else:
                jurisdiction = Jurisdiction.VERTICAL.value
                destination = best_cls
                reasons.append(f"Kewenangan {self.verticals[best_cls].short_name}: {why}")
            reasons.extend(r for r in reasons_by_class.get(best_cls, []) if r != f"kata kunci: {why}")
        else:
            is_complaint = True
            if confidence >= self.threshold:
                agency = best_cls
            else:
                reasons.append(f"keyakinan rendah ({confidence:.2f} < {self.threshold:.2f}), perlu triase")
            reasons.extend(reasons_by_class.get(best_cls, []))
            if model_used and not reasons_by_class.get(best_cls):
                name = self.agencies[best_cls].short_name.split("/")[0].strip()
                reasons.append(f"model: mirip aduan untuk {name}")
        if place_reason:
            reasons.append(place_reason)
        if not reasons:
            reasons.append("perlu triase")
        return RoutingDecision(
            agency=agency,
            confidence=min(1.0, max(0.0, confidence)),
            alternatives=tuple(alternatives),
            place=place,
            reasons=tuple(reasons),
            is_complaint=is_complaint,
            jurisdiction=jurisdiction,
            destination=destination,
            alternative_reasons=tuple(alternative_reasons),
        )

    def features(self, text: str) -> list[str]:
        """The naive Bayes features of a text as route() reads it (for training)."""
        norm = self.normaliser.normalise(text)
        _, neutral = self.rules.scan(norm)
        return norm.features(neutral)

    def _is_destination_class(self, cls: str) -> bool:
        return cls == LOCAL or cls in self.verticals

    def _kabkota_destination(self, place: Place | None) -> str | None:
        return kabkota_code_of(place.kabkota_code) if place is not None else None


_ROAD_WORDS = frozenset({"jalan", "jalur", "ruas", "jalanan", "akses"})


def _linking_road(norm: NormalisedText) -> tuple[str, str] | None:
    """Two regencies/cities named right after a road word ("jalan Solo-Purwodadi")."""
    kab = norm.place_kab
    if not kab:
        return None
    n = len(norm.words)
    for i, w in enumerate(norm.surface):
        if w not in _ROAD_WORDS:
            continue
        first: str | None = None
        j = i + 1
        while j < n and j <= i + 8:
            code = kab[j]
            if code is not None:
                if first is None:
                    first = code
                elif code != first:
                    return first, code
            elif first is not None and not norm.is_stop[j] and norm.surface[j] not in ("raya", "arah", "sampai",
                                                                                         "menuju", "ke", "dan"):
                break
            j += 1
    return None


def _diminishing(weights: list[float]) -> float:
    total = 0.0
    factor = 1.0
    for w in sorted(weights, reverse=True):
        total += w * factor
        factor *= 0.5
    return total


@functools.lru_cache(maxsize=1)
def _default_router() -> Router:
    return Router.from_files()
