"""Evaluation of a router on labelled rows: top-1/top-3 accuracy, macro F1, triage and jurisdiction.

A row may list several acceptable owners ("dpubmck|kab-sragen"): a prediction is right when it is
one of them. Labels are provincial agency codes, regency/city codes (kab-…/kota-…), vertical-body
codes or 'triase'.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot.domain.agencies import Jurisdiction, destination_by_code
from bot.routing import TRIAGE, RoutingDecision


class _Routes(Protocol):
    def route(self, text: str, *, author_location: str | None = None) -> RoutingDecision: ...


@dataclass(frozen=True, slots=True)
class LabelledRow:
    """One CSV row: the text, its acceptable owners, the author's location (optional), its line."""

    text: str
    labels: tuple[str, ...]
    location: str | None = None
    line: int = 0


def jurisdiction_of(code: str) -> str:
    """provinsi / kabkota / vertikal of a label code (triage counts as provincial)."""
    d = destination_by_code().get(code)
    return d.jurisdiction.value if d is not None else Jurisdiction.PROVINCE.value


@dataclass(frozen=True, slots=True)
class Prediction:
    row: LabelledRow
    decision: RoutingDecision

    @property
    def correct(self) -> bool:
        return self.decision.predicted in self.row.labels


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Scores of one evaluation run."""

    n: int
    top1: float
    top3: float
    macro_f1: float
    triage_precision: float
    triage_recall: float
    confusions: tuple[tuple[str, str, int], ...]  # (true, predicted, count), worst first
    triage_share: float = 0.0  # predicted triage (no agency, no destination) / n
    jurisdiction_accuracy: float | None = None  # over rows labelled only with non-provincial codes
    jurisdiction_n: int = 0

    def to_json(self) -> dict[str, Any]:
        """Plain dict for the CLI."""
        return {
            "n": self.n,
            "top1": round(self.top1, 4),
            "top3": round(self.top3, 4),
            "macro_f1": round(self.macro_f1, 4),
            "triage_precision": round(self.triage_precision, 4),
            "triage_recall": round(self.triage_recall, 4),
            "confusions": [list(c) for c in self.confusions],
            "triage_share": round(self.triage_share, 4),
            "jurisdiction_accuracy": None if self.jurisdiction_accuracy is None
            else round(self.jurisdiction_accuracy, 4),
            "jurisdiction_n": self.jurisdiction_n,
        }

    def render(self) -> str:
        """Human-readable summary."""
        lines = [
            f"n={self.n}  top-1={self.top1:.3f}  top-3={self.top3:.3f}  macro-F1={self.macro_f1:.3f}",
            f"triase: precision={self.triage_precision:.3f} recall={self.triage_recall:.3f} "
            f"share={self.triage_share:.3f}",
        ]
        if self.jurisdiction_accuracy is not None:
            lines.append(f"kewenangan (kab/kota, vertikal): {self.jurisdiction_accuracy:.3f} "
                         f"dari {self.jurisdiction_n} aduan")
        if self.confusions:
            lines.append("kebingungan terbanyak (benar → tebakan: jumlah):")
            lines.extend(f"  {t} → {p}: {c}" for t, p, c in self.confusions)
        return "\n".join(lines)


def predict(router: _Routes, rows: Iterable[LabelledRow]) -> list[Prediction]:
    return [Prediction(r, router.route(r.text, author_location=r.location or None)) for r in rows]


def evaluate(router: _Routes, rows: Iterable[LabelledRow | tuple[str, str]], *, worst: int = 10) -> EvalReport:
    """Route every text and score against its label(s)."""
    return score(predict(router, (_as_row(r) for r in rows)), worst=worst)


def score(preds: Sequence[Prediction], *, worst: int = 10) -> EvalReport:
    n = top1 = top3 = triaged = 0
    j_n = j_ok = 0
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    confusions: Counter[tuple[str, str]] = Counter()
    for p in preds:
        n += 1
        d, labels = p.decision, p.row.labels
        pred = d.predicted
        triaged += pred == TRIAGE
        main = labels[0]
        if pred in labels:
            top1 += 1
            tp[pred] += 1
        else:
            fp[pred] += 1
            fn[main] += 1
            confusions[("|".join(labels), pred)] += 1
        if pred in labels:
            top3 += 1
        elif TRIAGE not in labels:
            top3 += any(a in labels for a, _ in d.alternatives)
        kinds = {jurisdiction_of(c) for c in labels if c != TRIAGE}
        if labels and TRIAGE not in labels and Jurisdiction.PROVINCE.value not in kinds:
            j_n += 1
            j_ok += d.jurisdiction in kinds
    labels_seen = set(tp) | set(fn) | set(fp)
    f1s = []
    for c in labels_seen:
        p_den = tp[c] + fp[c]
        r_den = tp[c] + fn[c]
        if r_den == 0:
            continue  # a class never labelled does not enter the macro average (only its FPs hurt others)
        prec = tp[c] / p_den if p_den else 0.0
        rec = tp[c] / r_den
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    t_p = tp[TRIAGE] + fp[TRIAGE]
    t_r = tp[TRIAGE] + fn[TRIAGE]
    return EvalReport(
        n=n,
        top1=top1 / n if n else 0.0,
        top3=top3 / n if n else 0.0,
        macro_f1=sum(f1s) / len(f1s) if f1s else 0.0,
        triage_precision=tp[TRIAGE] / t_p if t_p else 0.0,
        triage_recall=tp[TRIAGE] / t_r if t_r else 0.0,
        confusions=tuple((t, p, c) for (t, p), c in sorted(confusions.items(), key=lambda x: (-x[1], x[0]))[:worst]),
        triage_share=triaged / n if n else 0.0,
        jurisdiction_accuracy=j_ok / j_n if j_n else None,
        jurisdiction_n=j_n,
    )


def write_predictions(path: Path, preds: Sequence[Prediction]) -> None:
    """One row per input: text, label, predicted, confidence, top-3, jurisdiction, reasons."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label", "predicted", "correct", "confidence", "top3", "jurisdiction", "destination",
                    "reasons"])
        for p in preds:
            d = p.decision
            w.writerow([p.row.text, "|".join(p.row.labels), d.predicted, int(p.correct), f"{d.confidence:.4f}",
                        "|".join(a for a, _ in d.alternatives), d.jurisdiction or "", d.destination or "",
                        "; ".join(d.reasons)])


def _as_row(r: LabelledRow | tuple[str, str]) -> LabelledRow:
    if isinstance(r, LabelledRow):
        return r
    return LabelledRow(r[0], split_labels(r[1]))


def split_labels(raw: str) -> tuple[str, ...]:
    """'dpubmck | kab-sragen' → ('dpubmck', 'kab-sragen'); order kept, duplicates dropped."""
    return tuple(dict.fromkeys(p.strip().lower() for p in raw.split("|") if p.strip()))


class LabelFileError(ValueError):
    """A labelled CSV that cannot be used; the message names the lines."""


def read_labelled(path: Path | str, *, known: set[str] | frozenset[str] | None = None,
                  strict: bool = False) -> list[LabelledRow]:
    """Rows of a CSV with columns text, agency (and optional location).

    With `known`, unknown codes are refused naming their lines. `strict` (imports) also refuses
    empty texts and empty labels instead of skipping them.
    """
    p = Path(path)
    try:
        fh = p.open(encoding="utf-8-sig", newline="")
    except OSError as e:
        raise LabelFileError(f"cannot read {p}: {e.strerror or e}") from None
    rows: list[LabelledRow] = []
    problems: list[str] = []
    with fh:
        reader = csv.DictReader(fh)
        fields = [f.strip().lower() for f in (reader.fieldnames or [])]
        missing = [c for c in ("text", "agency") if c not in fields]
        if missing:
            raise LabelFileError(f"{p.name}: missing column(s) {', '.join(missing)}; "
                                 f"found {', '.join(fields) or 'none'}")
        reader.fieldnames = fields
        try:
            for rec in reader:
                line = reader.line_num
                text = (rec.get("text") or "").strip()
                labels = split_labels(rec.get("agency") or "")
                if not text or not labels:
                    if strict:
                        problems.append(f"line {line}: empty {'text' if not text else 'agency'}")
                    continue
                if known is not None:
                    bad = [c for c in labels if c not in known]
                    if bad:
                        problems.append(f"line {line}: unknown code(s) {', '.join(bad)}")
                        continue
                rows.append(LabelledRow(text, labels, (rec.get("location") or "").strip() or None, line))
        except (csv.Error, UnicodeDecodeError) as e:
            raise LabelFileError(f"{p.name} line {reader.line_num}: not a readable CSV ({e})") from None
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise LabelFileError(f"{p.name}: " + "; ".join(problems[:10]) + more)
    return rows


def load_csv(path: Path | str) -> list[tuple[str, str]]:
    """Rows (text, first label) for training from a CSV with columns text,agency."""
    try:
        return [(r.text, r.labels[0]) for r in read_labelled(path)]
    except LabelFileError as e:
        raise ValueError(str(e)) from None
