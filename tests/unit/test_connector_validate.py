"""A connector refuses the same rows, for the same reasons, whether it checks only what the
mapping rejects (``first_warning``) or standardises the whole record."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest

from connectors import validate
from connectors.rows import NativeRow
from connectors.spec import ConnectorSpec
from core.standardise import CannotStandardise, StandardiseError
from simulators.district import department_rows, generate_district
from tests.helpers import PROJECT

ODD: list[Any] = [
    "", None, "无", " ", "-", "妖", "3", "5", "9", "0", "男", "女", "M", "火星族", "汉", "漢族", "01", "1", "97",
    "2099-01-01", "1985年13月", "19850230", "1885-01-01", "198503", "1985", "03/07/1985", "一九八五年三月七日",
    1.5, 12345.0, 0, 7, True, "邻居家的", "户主", "本人", "妻子", "离异", "CHN", "中国", "火星",
    "320104198703260055", "32010419870326005X", "320104870326005", "12345", "E12345678", "John SMITH", "１２３",
    "·", "123", "張 偉", "\u3000", "nan", "2024-08-02 10:00:00", "45000", "护照", "06", "外星证件", "13812345678",
]
VARIANTS: list[list[str] | None] = [
    None, [], ["sex_unknown"], ["nationality_unknown", "moved_out_on_unreadable", "marital_status_unknown"],
    ["phone_invalid", "sex_unknown"], ["id_number_invalid", "birth_date_mismatch"],  # these need the whole record
]
TODAY = date(2026, 11, 21)


def _full(spec: ConnectorSpec, row: NativeRow) -> str | None:
    """The reference: the whole record standardised, its first rejected warning."""
    mapping = spec.field_mapping()
    assert mapping is not None
    try:
        return validate._standardised_problem(spec, mapping, row, frozenset(spec.reject_warnings), TODAY)
    except (CannotStandardise, StandardiseError) as exc:
        return f"cannot standardise: {exc}"


@pytest.mark.parametrize("source", ["public_security", "social_security", "civil_affairs", "housing", "community"])
def test_checking_only_the_rejected_kinds_gives_the_standardisers_answer(source: str) -> None:
    base = ConnectorSpec.load(PROJECT / "mappings" / f"{source}.yaml")
    rng = random.Random(source)
    rows = list(department_rows(generate_district(250, seed=3), 3, source))  # type: ignore[arg-type]
    rows = (rows * (1 + 80 // len(rows)))[:80]  # civil affairs knows few residents: reuse them
    mapped = sorted({c for cols in base.standardise.fields.values() for c in cols})  # type: ignore[union-attr]
    refused = 0
    for variant in VARIANTS:
        spec = base if variant is None else base.model_copy(update={"reject_warnings": variant})
        for n, original in enumerate(rows):
            values = dict(original)
            for _ in range(rng.randint(0, 4)):
                values[rng.choice(mapped)] = rng.choice(ODD)
            row = NativeRow(f"{source}:{n}", {k: v for k, v in values.items() if isinstance(v, (str, int, float))
                                              or v is None})
            got = validate.row_problem(spec, spec.field_mapping(), row, today=TODAY)
            expected = _full(spec, row)
            assert got == expected, (variant, row.values)
            refused += got is not None
    assert refused > 30  # the odd values did make rows refused
