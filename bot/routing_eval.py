"""Evaluation of a router on labelled rows: top-1/top-3 accuracy, macro F1, triage precision/recall."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot.routing import TRIAGE, RoutingDecision


class _Routes(Protocol):
    def route(self, text: str) -> RoutingDecision: ...


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
        }

    def render(self) -> str:
        """Human-readable summary."""
        lines = [
            f"n={self.n}  top-1={self.top1:.3f}  top-3={self.top3:.3f}  macro-F1={self.macro_f1:.3f}",
            f"triase: precision={self.triage_precision:.3f} recall={self.triage_recall:.3f}",
        ]
        if self.confusions:
            lines.append("kebingungan terbanyak (benar → tebakan: jumlah):")
            lines.extend(f"  {t} → {p}: {c}" for t, p, c in self.confusions)
        return "\n".join(lines)


def evaluate(router: _Routes, rows: Iterable[tuple[str, str]], *, worst: int = 10) -> EvalReport:
    """Route every text and score against the label (an agency code or 'triase')."""
    n = top1 = top3 = 0
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    confusions: Counter[tuple[str, str]] = Counter()
    for text, label in rows:
        n += 1
        d = router.route(text)
        pred = d.agency if d.agency is not None else TRIAGE
        if pred == label:
            top1 += 1
            tp[label] += 1
        else:
            fp[pred] += 1
            fn[label] += 1
            confusions[(label, pred)] += 1
        if label == TRIAGE:
            top3 += d.agency is None
        else:
            top3 += d.agency == label or any(a == label for a, _ in d.alternatives)
    labels = set(tp) | set(fn) | set(fp)
    f1s = []
    for c in labels:
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
    )


def load_csv(path: Path | str) -> list[tuple[str, str]]:
    """Rows (text, agency) from a CSV with columns text,agency; ValueError names missing columns."""
    with Path(path).open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        missing = [c for c in ("text", "agency") if c not in fields]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(fields) or 'none'}")
        return [(r["text"], r["agency"].strip()) for r in reader if r["text"] and r["agency"]]
