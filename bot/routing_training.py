"""Training of the routing naive Bayes model from labelled (text, agency) pairs. Pure: no I/O but reading CSVs."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from bot.domain.agencies import is_kabkota_code
from bot.routing import TRIAGE, NaiveBayesModel, Router, model_label

DEV_CSV = Path(__file__).resolve().parent / "data" / "routing_dev.csv"
# Chosen by 5-fold cross-validation on the dev set (0.1 beat 0.3 and 1.0 on top-1).
DEFAULT_ALPHA = 0.1
# Cap on the vocabulary: 20k features × a few classes each stays well under 5 MB of Python objects.
DEFAULT_MAX_FEATURES = 20_000
# Labels confirmed (or corrected) by staff count this many times the shipped dev examples, so a
# reassignment moves similar future tweets even against many older examples.
RECENT_WEIGHT = 3.0


def train(
    rows: Iterable[tuple[str, str]],
    *,
    weighted_rows: Iterable[tuple[str, str, float]] = (),
    alpha: float = DEFAULT_ALPHA,
    max_features: int = DEFAULT_MAX_FEATURES,
    min_count: float = 1.0,
    router: Router | None = None,
) -> NaiveBayesModel:
    """Multinomial NB (Laplace alpha) on unigram+bigram features; label 'triase' = not for an agency.

    Features come from the router's own reading of a text (politeness and places left out), and
    every regency/city label trains the one LOCAL class. Weighted rows are confirmed labels: their
    total weight goes into meta["confirmed"], from which the router grows the model's say.
    """
    reader = router or Router.default()
    confirmed = 0.0
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    docs: dict[str, float] = defaultdict(float)
    n_rows = 0

    def add(text: str, label: str, weight: float) -> None:
        nonlocal n_rows
        label = model_label(label.strip().split("|")[0].strip())
        if not label:
            raise ValueError("empty label")
        feats = reader.features(text)
        docs[label] += weight
        bucket = counts[label]
        for f in feats:
            bucket[f] += weight
        n_rows += 1

    for text, label in rows:
        add(text, label, 1.0)
    for text, label, weight in weighted_rows:
        if weight <= 0:
            raise ValueError("weights must be positive")
        add(text, label, weight)
        confirmed += 1
    if not docs:
        raise ValueError("no training rows")

    total: dict[str, float] = defaultdict(float)
    for bucket in counts.values():
        for f, cnt in bucket.items():
            total[f] += cnt
    # Most frequent first; ties broken alphabetically so the shipped model is reproducible.
    ranked = sorted(total.items(), key=lambda fc: (-fc[1], fc[0]))
    vocab = [f for f, cnt in ranked if cnt >= min_count][:max_features]
    vocab_set = set(vocab)
    # Deterministic class order: agencies sorted, triage last.
    classes = tuple(sorted(c for c in docs if c != TRIAGE)) + ((TRIAGE,) if TRIAGE in docs else ())
    n_docs = sum(docs.values())
    log_prior = tuple(math.log(docs[c] / n_docs) for c in classes)
    v = len(vocab)
    log_unseen: list[float] = []
    class_totals: list[float] = []
    for label in classes:
        tot = sum(n for f, n in counts[label].items() if f in vocab_set)
        class_totals.append(tot)
        log_unseen.append(math.log(alpha / (tot + alpha * v)))
    deltas: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for ci, label in enumerate(classes):
        denom = class_totals[ci] + alpha * v
        for f, n in counts[label].items():
            if f in vocab_set:
                deltas[f].append((ci, math.log((n + alpha) / denom) - log_unseen[ci]))
    return NaiveBayesModel(
        classes=classes,
        log_prior=log_prior,
        log_unseen=tuple(log_unseen),
        deltas={f: tuple(d) for f, d in deltas.items()},
        alpha=alpha,
        meta={"rows": n_rows, "features": v, **({"confirmed": confirmed} if confirmed else {})},
    )


def train_default_plus(
    extra_rows: Iterable[tuple[str, str]], *, weight: float = RECENT_WEIGHT, dev_csv: Path = DEV_CSV,
    router: Router | None = None,
) -> NaiveBayesModel:
    """The shipped dev-set model, or with `extra_rows` a model of those confirmed labels alone.

    A confirmed-labels model (meta kind "confirmed") joins the shipped model in the router, with a
    say that grows with the number of labels; `weight` is kept for callers and is the same for all.
    """
    from bot.routing import CONFIRMED_KIND
    from bot.routing_eval import load_csv

    if not dev_csv.exists():
        # Training on the new labels alone would know no other agency to tell them from.
        raise FileNotFoundError(f"dev set not found at {dev_csv}; pass dev_csv=")
    extra = list(extra_rows)
    if not extra:
        return train(load_csv(dev_csv), router=router)
    # The dev set is the background every class is told apart against; confirmed labels count more.
    model = train(load_csv(dev_csv), weighted_rows=[(t, a, weight) for t, a in extra], router=router)
    # Which regencies/cities the local matters came from (the router's default when a text has no place).
    kab = Counter(a.split("|")[0].strip() for _, a in extra if is_kabkota_code(a.split("|")[0].strip()))
    return NaiveBayesModel(model.classes, model.log_prior, model.log_unseen, model.deltas, model.alpha,
                           {**model.meta, "kind": CONFIRMED_KIND, "confirmed": len(extra),
                            "kabkota_labels": dict(kab.most_common(40))})
