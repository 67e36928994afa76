"""Routing of #KemalaJateng tweets to provincial agencies: rules + places + naive Bayes → RoutingDecision.

Pure domain module: reads packaged data files, talks to no network, imports no adapters.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

from bot.domain.agencies import TRIAGE_CODE
from bot.domain.places import Gazetteer, Place, tokenize

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
    "dr": ("dr",),
}

# Function words and address terms that carry no agency signal; dropped before features and rules.
_STOPWORDS = frozenset(
    """
    yang di ke dan ini itu nya ya dong sih deh kok lah nih tuh aja saja juga pun kah min mimin admin
    pak bapak kak mas mbak gan om the eh wkwk wkwkwk hehe haha dll dsb tsb tersebut para oleh pada
    adalah sangat banget amat nan si sang dr
    """.split()
)

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

    def features(self) -> list[str]:
        """Unigrams and bigrams of non-place words: the naive Bayes features."""
        out: list[str] = []
        prev: str | None = None
        for word, place in zip(self.words, self.is_place, strict=True):
            if place:
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

    def normalise(self, text: str, *, mentions: Sequence[str] = ()) -> NormalisedText:
        """Clean, find places, expand informal words, drop stopwords, stem the rest."""
        is_rt = bool(_RT_RE.match(text))
        handles = [h.lower() for h in _HANDLE_RE.findall(text)]
        handles.extend(m.lstrip("@").lower() for m in mentions)
        clean = _URL_RE.sub(" ", text)
        clean = _HANDLE_RE.sub(" ", clean)
        clean = _HASHTAG_RE.sub(_hashtag_words, clean)
        clean = _ELONGATION_RE.sub(r"\1", clean)
        tokens = tokenize(clean)
        match = self.gazetteer.match(tokens)
        words: list[str] = []
        surface: list[str] = []
        is_place: list[bool] = []
        for i, tok in enumerate(tokens):
            if i in match.consumed:
                words.append(tok.text)
                surface.append(tok.text)
                is_place.append(True)
                continue
            for w in _INFORMAL.get(tok.text, (tok.text,)):
                if w in _STOPWORDS or w.isdigit():
                    continue
                if len(w) > 6 and w.endswith("nya"):
                    w = w[:-3]  # "sampahnya" is "sampah" for surface matching too
                words.append(self.stem(w))
                surface.append(w)
                is_place.append(False)
        return NormalisedText(
            tuple(words), tuple(surface), tuple(is_place), tuple(dict.fromkeys(handles)), match.place, is_rt
        )

    def phrase(self, text: str) -> tuple[tuple[bool, str], ...]:
        """A rule phrase as match keys: (True, stem) for root words, (False, surface) for derived ones.

        Derived words keep their surface form because stemming would widen them: "dirumahkan"
        (laid off) stems to "rumah" (house), "pekerja" to "kerja".
        """
        norm = self.normalise(text)
        return tuple(
            (True, stem) if stem == surf else (False, surf) for stem, surf in zip(norm.words, norm.surface, strict=True)
        )


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


@dataclass(frozen=True, slots=True)
class Agency:
    """One row of agencies.csv."""

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


@dataclass(frozen=True, slots=True)
class _Hit:
    cls: str
    weight: float
    label: str  # surface phrase, for the reason
    kind: str  # "alias" | "keyword" | "noncomplaint"


@dataclass(frozen=True, slots=True)
class _Affinity:
    agency: str
    kabkota: frozenset[str]
    triggers: tuple[str, ...]  # " stem stem " strings, matched inside the joined stems
    weight: float


class RuleSet:
    """Phrase rules (aliases, keywords, non-complaint cues) compiled into a token-phrase trie-ish dict."""

    def __init__(self, data: Mapping[str, Any], agencies: Mapping[str, Agency], normaliser: Normaliser) -> None:
        """Compile rules JSON (see bot/data/README.md) plus names and short names from the directory."""
        w = data.get("weights", {})
        self.w_handle = float(w.get("handle", 4.0))
        self.w_retweet = float(w.get("retweet", 3.0))
        weights = {
            "alias": float(w.get("alias", 3.0)),
            "strong": float(w.get("strong", 2.0)),
            "weak": float(w.get("weak", 0.7)),
        }
        self.model_weight = float(w.get("model", 0.25))
        self.temperature = float(w.get("temperature", 1.0))
        self.handles: dict[str, str] = {}
        self.phrases: dict[tuple[tuple[bool, str], ...], list[_Hit]] = {}
        # An agency whose name is mentioned also takes the keyword score of these agencies
        # (a hospital named in a complaint about "obat" and "pasien" must beat Dinkes).
        self.absorbs: dict[str, tuple[str, ...]] = {}
        for code, ag in agencies.items():
            if ag.x_handle:
                self.handles[ag.x_handle.lstrip("@").lower()] = code
            for alias in _directory_aliases(ag):
                self._add(normaliser, alias, _Hit(code, weights["alias"], alias, "alias"))
        for code, spec in data.get("agencies", {}).items():
            if code not in agencies:
                raise ValueError(f"routing rules name unknown agency {code!r}")
            if spec.get("absorbs"):
                self.absorbs[code] = tuple(spec["absorbs"])
            for h in spec.get("handles", []):
                self.handles[str(h).lstrip("@").lower()] = code
            for level in ("alias", "strong", "weak"):
                key = "aliases" if level == "alias" else level
                for phrase in spec.get(key, []):
                    kind = "alias" if level == "alias" else "keyword"
                    self._add(normaliser, phrase, _Hit(code, weights[level], phrase, kind))
        nc = data.get("non_complaint", {})
        for level, weight in (("strong", float(w.get("nc_strong", 2.5))), ("weak", float(w.get("nc_weak", 1.0)))):
            for phrase in nc.get(level, []):
                self._add(normaliser, phrase, _Hit(TRIAGE, weight, phrase, "noncomplaint"))
        self.affinities = tuple(
            _Affinity(
                a["agency"],
                frozenset(a["kabkota"]),
                tuple(" " + " ".join(normaliser.normalise(t).words) + " " for t in a["if_any"]),
                float(a.get("weight", 2.0)),
            )
            for a in data.get("place_affinity", [])
        )
        # First match key → candidate phrases, longest first.
        self._by_first: dict[tuple[bool, str], list[tuple[tuple[tuple[bool, str], ...], list[_Hit]]]] = {}
        for gram, hits in self.phrases.items():
            self._by_first.setdefault(gram[0], []).append((gram, hits))
        for cands in self._by_first.values():
            cands.sort(key=lambda c: -len(c[0]))

    def _add(self, normaliser: Normaliser, phrase: str, hit: _Hit) -> None:
        gram = normaliser.phrase(phrase)
        if not gram:
            return
        bucket = self.phrases.setdefault(gram, [])
        # One phrase counts once per class (an alias listed twice must not double its weight).
        for i, old in enumerate(bucket):
            if old.cls == hit.cls:
                if hit.weight > old.weight:
                    bucket[i] = hit
                return
        bucket.append(hit)

    def scan(self, words: Sequence[str], surface: Sequence[str]) -> list[_Hit]:
        """Greedy longest-match scan ('jembatan timbang' wins over 'jembatan')."""
        hits: list[_Hit] = []
        i, n = 0, len(words)
        by_first = self._by_first
        empty: list[tuple[tuple[tuple[bool, str], ...], list[_Hit]]] = []
        while i < n:
            cands = by_first.get((True, words[i]), empty)
            if surface[i] != words[i]:
                more = by_first.get((False, surface[i]))
                if more:
                    cands = sorted(cands + more, key=lambda c: -len(c[0]))
            step = 1
            for gram, found in cands:
                size = len(gram)
                if i + size > n:
                    continue
                ok = True
                for k in range(1, size):
                    is_root, tok = gram[k]
                    if (words[i + k] if is_root else surface[i + k]) != tok:
                        ok = False
                        break
                if ok:
                    hits.extend(found)
                    step = size
                    break
            i += step
        return hits


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
    """Where a tweet goes: agency (None → triage), confidence, top-3 alternatives, place, reasons."""

    agency: str | None
    confidence: float
    alternatives: tuple[tuple[str, float], ...]
    place: Place | None
    reasons: tuple[str, ...]
    is_complaint: bool

    def to_json(self) -> dict[str, Any]:
        """Plain dict for the CLI."""
        return {
            "agency": self.agency,
            "confidence": round(self.confidence, 4),
            "alternatives": [{"agency": a, "score": round(s, 4)} for a, s in self.alternatives],
            "place": self.place.to_json() if self.place else None,
            "reasons": list(self.reasons),
            "is_complaint": self.is_complaint,
        }


class Router:
    """Scores every agency as a weighted sum of signals and turns the scores into a decision.

    score(agency) = model_weight · (NB log-posterior − best) + Σ matched rule weights
                  + handle weight (mentioned) + place affinity; confidence = softmax(score / T).
    """

    def __init__(
        self,
        *,
        agencies: Mapping[str, Agency],
        rules_data: Mapping[str, Any],
        gazetteer: Gazetteer,
        model: NaiveBayesModel | None = None,
        threshold: float = 0.45,
    ) -> None:
        """Build from already-loaded data; see from_files()/default() for the usual ways in."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be within [0, 1]")
        self.agencies = dict(agencies)
        self.threshold = threshold
        self.normaliser = Normaliser(gazetteer)
        self._rules_data = rules_data
        self.rules = RuleSet(rules_data, self.agencies, self.normaliser)
        self.model = model
        self._classes: tuple[str, ...] = (*self.agencies, TRIAGE)
        self._index = {c: i for i, c in enumerate(self._classes)}
        self._model_map: tuple[int, ...] = ()
        if model is not None:
            unknown = [c for c in model.classes if c not in self._index]
            if unknown:
                raise ValueError(f"model has classes not in the agency directory: {unknown}")
            self._model_map = tuple(self._index[c] for c in model.classes)

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
        """Same rules and places, another learned model (e.g. retrained from confirmed labels)."""
        return Router(
            agencies=self.agencies,
            rules_data=self._rules_data,
            gazetteer=self.normaliser.gazetteer,
            model=model,
            threshold=self.threshold,
        )

    def with_threshold(self, threshold: float) -> Router:
        """Same everything, another triage threshold."""
        return Router(
            agencies=self.agencies,
            rules_data=self._rules_data,
            gazetteer=self.normaliser.gazetteer,
            model=self.model,
            threshold=threshold,
        )

    def route(self, text: str, *, author_location: str | None = None, mentions: Sequence[str] = ()) -> RoutingDecision:
        """Decide the agency for one tweet."""
        norm = self.normaliser.normalise(text, mentions=mentions)
        classes = self._classes
        scores = [0.0] * len(classes)
        reasons_by_class: dict[str, list[str]] = {}
        rules = self.rules

        for h in norm.handles:
            code = rules.handles.get(h)
            if code is not None:
                scores[self._index[code]] += rules.w_handle
                reasons_by_class.setdefault(code, []).append(f"menyebut @{h}")

        # Per class, matched rule weights add with diminishing returns (1, 1/2, 1/4 …): many weak
        # generic words must not outvote one specific name or phrase.
        per_class: dict[str, list[float]] = {}
        named: set[str] = set()
        for hit in rules.scan(norm.words, norm.surface):
            per_class.setdefault(hit.cls, []).append(hit.weight)
            if hit.kind == "alias":
                named.add(hit.cls)
                reason = f"menyebut {hit.label}"
            else:
                reason = f"kata kunci: {hit.label}"
            bucket = reasons_by_class.setdefault(hit.cls, [])
            if reason not in bucket:
                bucket.append(reason)
        rule_score = {c: _diminishing(ws) for c, ws in per_class.items()}
        for c, sc in rule_score.items():
            scores[self._index[c]] += sc
        for c in named:
            for parent in rules.absorbs.get(c, ()):
                scores[self._index[c]] += rule_score.get(parent, 0.0)

        if norm.is_retweet:
            scores[self._index[TRIAGE]] += rules.w_retweet
            reasons_by_class.setdefault(TRIAGE, []).append("retweet")

        place = norm.place
        place_reason = f"lokasi: {place.label}" if place else None
        if place is None and author_location:
            place = self.normaliser.gazetteer.find(author_location, lenient=True)
            place_reason = f"lokasi profil: {place.label}" if place else None
        if place is not None and rules.affinities:
            joined = " " + " ".join(norm.words) + " "
            for aff in rules.affinities:
                if place.kabkota_code in aff.kabkota and any(t in joined for t in aff.triggers):
                    scores[self._index[aff.agency]] += aff.weight
                    reasons_by_class.setdefault(aff.agency, []).append(f"rumah sakit di {place.label}")

        model_used = False
        if self.model is not None:
            lp = self.model.log_posterior(norm.features())
            best = max(lp)
            mw = rules.model_weight
            for mi, ci in enumerate(self._model_map):
                scores[ci] += mw * (lp[mi] - best)
            model_used = True
        else:
            lp = []

        # Softmax with temperature: the confidence the UI shows and the threshold compares against.
        t = rules.temperature
        top = max(scores)
        exps = [math.exp((s - top) / t) for s in scores]
        total = sum(exps)
        probs = [e / total for e in exps]
        order = sorted(range(len(classes)), key=lambda i: (-probs[i], i))
        best_cls = classes[order[0]]
        agency_order = [i for i in order if classes[i] != TRIAGE][:3]
        alternatives = tuple((classes[i], probs[i]) for i in agency_order)

        reasons: list[str] = []
        if best_cls == TRIAGE:
            is_complaint = not (bool(reasons_by_class.get(TRIAGE)) or probs[order[0]] >= 0.5)
            agency: str | None = None
            confidence = probs[order[0]]
            if not is_complaint:
                reasons.append("bukan aduan")
                reasons.extend(reasons_by_class.get(TRIAGE, []))
            else:
                reasons.append("tidak ada tanda instansi yang jelas, perlu triase")
        else:
            is_complaint = True
            confidence = probs[order[0]]
            if confidence >= self.threshold:
                agency = best_cls
            else:
                agency = None
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
            alternatives=alternatives,
            place=place,
            reasons=tuple(reasons),
            is_complaint=is_complaint,
        )


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
