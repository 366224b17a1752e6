"""A value holding NUL, other control characters, lone surrogates or bidi overrides (accepted by
the ingest API, legal in a CSV cell) reaches no field: PostgreSQL refuses NUL in text, and one such
record must not stop the profile store for everyone. The raw record keeps them as evidence."""

from __future__ import annotations

from core.standardise import FieldMapping, standardise
from core.standardise._text import strip_unsafe
from schemas.source_record import SourceRecord

MAPPING = FieldMapping(source="community", fields={"name": "姓名", "addresses.residential": "居住地址",
                                                   "attributes.remarks": "备注"})


def _visit(**payload: str) -> SourceRecord:
    return SourceRecord.of(source="community", record_id="ZF-1", payload=payload, mapping_version="t")


def test_a_nul_in_a_name_is_removed_and_noted() -> None:
    record = standardise(_visit(姓名="王\x00芳", 居住地址="秦虹小区3幢2单元301室"), MAPPING)
    assert record.name == "王芳"
    assert "unsafe_characters_removed:姓名" in record.warnings


def test_bidi_overrides_and_controls_leave_every_field() -> None:
    record = standardise(_visit(姓名="李娜", 居住地址="秦虹小区\u202e3幢\x07", 备注="独居\u2066老人\x1b"), MAPPING)
    assert "\u202e" not in record.addresses["residential"].raw and "\x07" not in record.addresses["residential"].raw
    assert record.attributes["remarks"] == "独居老人"


def test_a_clean_record_gets_no_warning() -> None:
    record = standardise(_visit(姓名="张伟", 居住地址="秦虹小区3幢"), MAPPING)
    assert not [w for w in record.warnings if w.startswith("unsafe_characters_removed")]


def test_line_breaks_and_tabs_stay_for_the_address_parser() -> None:
    assert strip_unsafe("南京市秦淮区\n秦虹小区\t3幢") == "南京市秦淮区\n秦虹小区\t3幢"
    assert strip_unsafe("a\ud800b\x9fc") == "abc"
