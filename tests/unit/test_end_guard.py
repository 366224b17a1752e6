"""The mass-change guard's decision: when a pull's ends wait for a steward (pure, no I/O)."""

from __future__ import annotations

from connectors.end_guard import DEFAULT_MAX_END_SHARE, FileShape, hold_reasons, shape_changes
from connectors.spec import ConnectorSpec


def test_an_emptied_source_is_held() -> None:
    [reason] = hold_reasons(live=30, vanishing=30, max_share=0.05)
    assert "30 of 30" in reason and "100.0 %" in reason


def test_one_deletion_in_thirty_ends_without_a_steward() -> None:
    assert hold_reasons(live=30, vanishing=1, max_share=0.05) == ()


def test_exactly_the_allowed_share_still_ends_and_one_more_is_held() -> None:
    assert hold_reasons(live=100, vanishing=5, max_share=0.05) == ()
    assert hold_reasons(live=100, vanishing=6, max_share=0.05) != ()


def test_nothing_to_end_is_never_held_even_with_a_changed_header() -> None:
    assert hold_reasons(live=10, vanishing=0, max_share=0.0, shape_changes=["a.csv: header changed"]) == ()


def test_a_changed_header_holds_even_a_small_deletion() -> None:
    reasons = hold_reasons(live=100, vanishing=1, max_share=0.05, shape_changes=["a.csv: header changed"])
    assert reasons == ("a.csv: header changed",)


def test_a_share_of_one_never_holds_for_size() -> None:
    assert hold_reasons(live=3, vanishing=3, max_share=1.0) == ()


def test_a_renamed_column_is_a_header_change_naming_old_and_new() -> None:
    before = FileShape(("档案编号", "姓名", "联系电话"), "gb18030")
    [change] = shape_changes("街道1.csv", before, FileShape(("档案编号", "姓名", "手机号码"), "gb18030"))
    assert change == "街道1.csv: header changed: column(s) 联系电话 missing (new: 手机号码)"


def test_an_added_column_is_no_change() -> None:
    before = FileShape(("档案编号", "姓名"), "utf-8")
    assert shape_changes("a.csv", before, FileShape(("档案编号", "姓名", "备注"), "utf-8")) == []


def test_another_encoding_is_a_change_but_plain_ascii_tells_nothing() -> None:
    before = FileShape(("id",), "gb18030")
    assert shape_changes("a.csv", before, FileShape(("id",), "utf-8")) == [
        "a.csv: encoding changed from gb18030 to utf-8"]
    assert shape_changes("a.csv", before, FileShape(("id",), None)) == []


def test_the_first_file_of_a_source_has_nothing_to_differ_from() -> None:
    assert shape_changes("a.csv", None, FileShape((), "unknown")) == []


def test_a_shape_survives_its_json_round_trip() -> None:
    shape = FileShape(("档案编号", "姓名"), "gb18030")
    assert FileShape.from_json(shape.as_json()) == shape
    assert FileShape.from_json(None) is None and FileShape.from_json({"columns": "x"}) is None


def test_a_mapping_file_gets_the_default_share_and_may_set_its_own() -> None:
    spec = {"source": "x", "kind": "files", "version": "1", "record_id": ["id"]}
    assert ConnectorSpec.model_validate(spec).max_end_share == DEFAULT_MAX_END_SHARE == 0.05
    assert ConnectorSpec.model_validate({**spec, "max_end_share": 0.2}).max_end_share == 0.2


def test_a_data_row_taken_for_a_header_is_not_repeated_in_the_reason() -> None:
    before = FileShape(("档案编号", "姓名", "身份证号"), "gb18030")
    [change] = shape_changes("ledger.csv", before, FileShape(("QHMZ-1", "张三", "110105198503070021"), "gb18030"))
    assert "110105" not in change and "张三" not in change
    assert change == "ledger.csv: header changed: column(s) 档案编号, 姓名, 身份证号 missing " \
                     "(its first line does not look like a header)"
