"""Splink (DuckDB backend, EM-fitted) on the same standardised records, as the yardstick.

A dev extra: ``splink`` and ``duckdb`` are in the ``dev`` dependencies, not the hub's runtime.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from schemas.resident import ResidentRecord


def _row(record: ResidentRecord) -> dict[str, object]:
    address = record.addresses.get("residential") or record.addresses.get("registered") \
        or record.addresses.get("property")
    passport = next((o.value for o in record.other_ids if o.kind == "passport"), None)
    return {
        "unique_id": f"{record.source}:{record.record_id}",
        "name": record.name,
        "name_key": record.name_pinyin,
        "dob": record.birth_date.isoformat() if record.birth_date else None,
        "birth_month": (record.birth_date.isoformat()[:7] if record.birth_date else record.birth_month),
        "sex": None if record.sex == "unknown" else record.sex,
        "phone": record.phones[0] if record.phones else None,
        "dwelling": address.dwelling_key if address else None,
        "id_number": record.id_number or passport,
        "household": record.household_id,
    }


def splink_clusters(records: Sequence[ResidentRecord], *, seed: int = 1,
                    threshold: float = 0.9) -> dict[str, str]:
    """Dedupe ``records`` with Splink; return {source:record_id: cluster id}."""
    import pandas as pd
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    logging.getLogger("splink").setLevel(logging.WARNING)
    frame = pd.DataFrame([_row(r) for r in records])
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.ExactMatch("id_number"),
            cl.ExactMatch("name"),
            cl.JaroWinklerAtThresholds("name_key", [0.95, 0.88]),
            cl.ExactMatch("birth_month"),
            cl.ExactMatch("dob"),
            cl.ExactMatch("sex"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("dwelling"),
            cl.ExactMatch("household"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("id_number"), block_on("name_key"), block_on("dob"), block_on("phone"), block_on("dwelling"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(frame), settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match([block_on("id_number")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    # Each EM session fixes the comparison it blocks on; Splink refuses to go on when a level's m
    # underflows (seen on some seeds), so a failed session is skipped rather than the baseline lost.
    for rule in ("dob", "name_key", "phone"):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(rule))
        except ValueError as exc:
            logging.getLogger(__name__).warning("Splink EM blocked on %s failed: %s", rule, exc)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    out = clusters.as_pandas_dataframe()  # type: ignore[no-untyped-call]  # splink leaves it unannotated
    return {str(u): str(c) for u, c in zip(out["unique_id"], out["cluster_id"], strict=True)}


def id_number_groups(records: Sequence[ResidentRecord]) -> dict[str, str]:
    """The naive baseline: one cluster per valid ID number; records without one stand alone."""
    return {f"{r.source}:{r.record_id}": (r.id_number or f"alone:{r.source}:{r.record_id}") for r in records}
