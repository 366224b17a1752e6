from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.privacy import keyed_hash, mask_id_number, redact_id_numbers
from schemas.codec import UnknownEventType, decode, encode
from schemas.source_record import DeadLetter, SourceRecord, content_hash


def test_content_hash_ignores_key_order_but_not_values() -> None:
    assert content_hash({"姓名": "张伟", "电话": "1"}) == content_hash({"电话": "1", "姓名": "张伟"})
    assert content_hash({"姓名": "张伟"}) != content_hash({"姓名": "张玮"})


def test_source_record_round_trips_through_the_codec_unchanged() -> None:
    record = SourceRecord.of(source="civil_affairs", record_id="MZ-1", payload={"姓名": "張偉"},
                             mapping_version="1", location="a.csv:2")
    assert decode(encode(record)) == record


def test_envelopes_are_frozen() -> None:
    record = SourceRecord.of(source="s", record_id="1", payload={}, mapping_version="1")
    with pytest.raises(ValidationError):
        record.record_id = "2"  # type: ignore[misc]


def test_an_end_event_has_no_content() -> None:
    end = SourceRecord.of(source="s", record_id="1", payload={}, mapping_version="1", change="end")
    assert end.content_hash == "end"


def test_codec_refuses_an_unknown_type() -> None:
    with pytest.raises(UnknownEventType):
        decode(b'{"type": "Nope", "data": {}}')


def test_dead_letter_round_trips() -> None:
    letter = DeadLetter(source="housing", location="f.csv:3", reason="missing record id")
    assert decode(encode(letter)) == letter


def test_id_numbers_are_masked_in_free_text() -> None:
    text = "row 3 has 11010519491231002X and legacy 110105491231002, phone 13912345678"
    redacted = redact_id_numbers(text)
    assert "11010519491231002X" not in redacted and "110105491231002" not in redacted
    assert "110105********002X" in redacted
    assert "13912345678" not in redacted and "139****5678" in redacted  # a phone is masked as a phone (issue 14)


def test_mask_keeps_division_code_and_last_four() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"


def test_keyed_hash_depends_on_the_key() -> None:
    assert keyed_hash("11010519491231002X", "a") != keyed_hash("11010519491231002X", "b")
    assert keyed_hash("11010519491231002X", "a") == keyed_hash("11010519491231002X", "a")
