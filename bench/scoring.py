"""Scoring a clustering against the truth: pairwise precision, recall, F1 and mixed profiles.

Pairwise counts come from cluster sizes (no pair enumeration), so a million records score fast.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PairwiseScore:
    records: int
    clusters: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    mixed_clusters: int  # predicted clusters holding two or more true residents

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def score(truth: Mapping[str, str], predicted: Mapping[str, str]) -> PairwiseScore:
    """``truth`` and ``predicted`` map a record key (source:record_id) to a resident / cluster id.

    Records missing from ``predicted`` count as singletons (a lost record costs recall).
    """
    keys = list(truth)
    clusters: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        clusters[predicted.get(key, f"missing:{key}")].append(key)
    true_sizes = Counter(truth[k] for k in keys)
    correct = 0
    mixed = 0
    for members in clusters.values():
        by_resident = Counter(truth[k] for k in members)
        correct += sum(_pairs(n) for n in by_resident.values())
        mixed += len(by_resident) > 1
    return PairwiseScore(
        records=len(keys),
        clusters=len(clusters),
        true_pairs=sum(_pairs(n) for n in true_sizes.values()),
        predicted_pairs=sum(_pairs(len(m)) for m in clusters.values()),
        correct_pairs=correct,
        mixed_clusters=mixed,
    )


def read_links(path: Path, cluster_column: str) -> dict[str, str]:
    """Read ``source,record_id,<cluster_column>`` CSV into {source:record_id: cluster}."""
    with path.open(encoding="utf-8", newline="") as fh:
        return {f"{row['source']}:{row['record_id']}": row[cluster_column] for row in csv.DictReader(fh)}


def table_rows(results: Iterable[tuple[str, PairwiseScore]]) -> list[list[str]]:
    return [[name, f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", str(s.mixed_clusters), str(s.clusters),
             str(s.records)] for name, s in results]
