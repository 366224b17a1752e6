"""standardise(): a department's source record into a canonical resident record."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError
from stdnum.cn import ric

from core.standardise import CannotStandardise, FieldMapping, standardise
from schemas.resident import Address, OtherId
from schemas.source_record import SourceRecord

TODAY = date(2025, 6, 1)


def make_id(birth: str = "19850307", seq: str = "002", division: str = "110105") -> str:
    body = division + birth + seq
    return body + ric.calc_check_digit(body + "0")


WOMAN_1985 = make_id()  # female (even sequence), born 1985-03-07

# The shape a department's YAML file takes once loaded (yaml.safe_load gives these types).
PUBLIC_SECURITY = FieldMapping.model_validate(
    {
        "source": "public_security",
        "fields": {
            "name": "姓名",
            "id_number": "公民身份号码",
            "sex": "性别",
            "birth_date": "出生日期",
            "phones": ["联系电话", "sjhm"],
            "addresses.registered": "户籍地址",
            "addresses.residential": "现住址",
            "household_id": "户号",
            "relation_to_head": "与户主关系",
            "ethnicity": "民族",
            "deceased_on": "注销日期",
            "attributes.assistance": "救助类别",
            "other_ids.passport": "护照号码",
        },
        "default_area_code": "025",
    }
)
SOCIAL_SECURITY = FieldMapping.model_validate(
    {
        "source": "social_security",
        "fields": {"name": "xm", "id_number": "sfzh", "sex": "xb", "birth_date": "csny", "phones": "sjhm"},
        "codes": {"sex": {1: "male", 2: "female"}},  # int keys, as YAML reads `1: male`
    }
)
HOUSING = FieldMapping.model_validate(
    {
        "source": "housing",
        "fields": {
            "name": "权利人",
            "id_kind": "证件类型",
            "id_number": "证件号码",
            "nationality": "国籍",
            "addresses.property": "房屋坐落",
        },
    }
)


def record(payload: dict[str, Any], source: str = "public_security") -> SourceRecord:
    return SourceRecord.of(source=source, record_id="r-1", payload=payload, mapping_version="1")


def test_public_security_record_is_standardised_field_by_field() -> None:
    resident = standardise(
        record(
            {
                "姓名": "張 偉", "公民身份号码": WOMAN_1985.lower(), "性别": "女", "出生日期": "1985年3月7日",
                "联系电话": "84561234", "sjhm": "13800138000", "户籍地址": "南京市鼓楼区中山路12-3-2-301",
                "户号": " 320106 001 ", "与户主关系": "妻", "民族": "汉", "救助类别": "城市低保",
            }
        ),
        PUBLIC_SECURITY,
        today=TODAY,
    )
    assert resident.name == "张伟" and resident.name_raw == "張 偉" and resident.name_pinyin == "zhang wei"
    assert resident.name_script == "han"
    assert resident.id_number == WOMAN_1985 and resident.id_number_invalid is None
    assert resident.sex == "female" and resident.birth_date == date(1985, 3, 7)
    assert resident.phones == ("+862584561234", "+8613800138000")  # local number took area code 025
    assert resident.addresses["registered"].room == "301"
    assert "residential" not in resident.addresses
    assert resident.household_id == "320106001"
    assert resident.relation_to_head == "12" and resident.ethnicity == "01"
    assert resident.attributes == {"assistance": "城市低保"}
    assert resident.warnings == ()
    assert (resident.source, resident.record_id) == ("public_security", "r-1")


def test_legacy_id_in_an_old_row_is_stored_in_18_digit_form() -> None:
    legacy = WOMAN_1985[:6] + WOMAN_1985[8:17]
    resident = standardise(record({"姓名": "张伟", "公民身份号码": legacy}), PUBLIC_SECURITY, today=TODAY)
    assert resident.id_number == WOMAN_1985


def test_id_number_fills_a_blank_birth_date_and_sex() -> None:
    resident = standardise(record({"姓名": "张伟", "公民身份号码": WOMAN_1985}), PUBLIC_SECURITY, today=TODAY)
    assert resident.birth_date == date(1985, 3, 7)
    assert resident.sex == "female"
    assert resident.warnings == ()


def test_birth_date_disagreeing_with_id_is_kept_and_warned() -> None:
    resident = standardise(
        record({"姓名": "张伟", "公民身份号码": WOMAN_1985, "出生日期": "1985-03-08"}), PUBLIC_SECURITY, today=TODAY
    )
    assert resident.birth_date == date(1985, 3, 8)  # the record's own value stays
    assert any(w.startswith("birth_date_mismatch") for w in resident.warnings)


def test_sex_disagreeing_with_id_is_kept_and_warned() -> None:
    resident = standardise(
        record({"姓名": "张伟", "公民身份号码": WOMAN_1985, "性别": "男"}), PUBLIC_SECURITY, today=TODAY
    )
    assert resident.sex == "male"
    assert any(w.startswith("sex_mismatch") for w in resident.warnings)


def test_social_security_code_table_and_birth_month() -> None:
    # Social security writes sex as 1/2 and only the birth month.
    resident = standardise(
        record({"xm": "王芳", "sfzh": WOMAN_1985, "xb": 2, "csny": "198503"}, source="social_security"),
        SOCIAL_SECURITY,
        today=TODAY,
    )
    assert resident.sex == "female"
    # The month agrees with the ID number, so the ID's full date fills the day in.
    assert resident.birth_date == date(1985, 3, 7) and resident.birth_month is None


def test_birth_month_alone_is_kept_as_a_month() -> None:
    resident = standardise(
        record({"xm": "王芳", "csny": "1985-03"}, source="social_security"), SOCIAL_SECURITY, today=TODAY
    )
    assert resident.birth_month == "1985-03" and resident.birth_date is None


def test_birth_month_disagreeing_with_id_is_warned_and_not_filled() -> None:
    resident = standardise(
        record({"xm": "王芳", "sfzh": WOMAN_1985, "csny": "198504"}, source="social_security"),
        SOCIAL_SECURITY,
        today=TODAY,
    )
    assert resident.birth_month == "1985-04" and resident.birth_date is None
    assert any(w.startswith("birth_date_mismatch") for w in resident.warnings)


def test_typo_in_id_number_goes_to_id_number_invalid_with_a_masked_warning() -> None:
    typo = WOMAN_1985[:-1] + ("1" if WOMAN_1985[-1] != "1" else "2")
    resident = standardise(record({"xm": "王芳", "sfzh": typo}, source="social_security"), SOCIAL_SECURITY)
    assert resident.id_number is None
    assert resident.id_number_invalid == typo  # evidence, never identity
    assert resident.warnings and all(typo not in w for w in resident.warnings)


def test_record_with_no_name_and_no_id_cannot_be_standardised() -> None:
    with pytest.raises(CannotStandardise, match="no name"):
        standardise(record({"联系电话": "13800138000"}), PUBLIC_SECURITY)


def test_cannot_standardise_masks_the_invalid_id_number() -> None:
    typo = WOMAN_1985[:-1] + ("1" if WOMAN_1985[-1] != "1" else "2")
    with pytest.raises(CannotStandardise) as raised:
        standardise(record({"公民身份号码": typo}), PUBLIC_SECURITY)
    assert typo not in str(raised.value)
    assert "110105" in str(raised.value)


def test_a_valid_id_number_without_a_name_is_enough() -> None:
    assert standardise(record({"公民身份号码": WOMAN_1985}), PUBLIC_SECURITY).name is None


def test_end_marker_cannot_be_standardised() -> None:
    end = SourceRecord.of(source="public_security", record_id="r-1", payload={}, mapping_version="1", change="end")
    with pytest.raises(CannotStandardise, match="end marker"):
        standardise(end, PUBLIC_SECURITY)


def test_mapping_of_another_department_is_refused() -> None:
    with pytest.raises(CannotStandardise, match="mapping is for"):
        standardise(record({"xm": "王芳"}, source="civil_affairs"), SOCIAL_SECURITY)


def test_foreign_resident_with_a_passport_gets_other_ids_and_nationality() -> None:
    resident = standardise(
        record(
            {"权利人": "SMITH, John", "证件类型": "护照", "证件号码": "e 1234 5678", "国籍": "美国",
             "房屋坐落": "阳光花园3-2-301"},
            source="housing",
        ),
        HOUSING,
    )
    assert resident.name == "John SMITH" and resident.name_script == "latin"
    assert resident.name_pinyin == "john smith"
    assert resident.other_ids == (OtherId(kind="passport", value="E12345678"),)
    assert resident.id_number is None and resident.id_number_invalid is None
    assert resident.nationality == "USA"
    assert resident.addresses["property"] == Address(
        raw="阳光花园3-2-301", compound="阳光花园", building="3", unit="2", room="301"
    )


def test_passport_column_adds_an_other_id_beside_the_citizen_id() -> None:
    resident = standardise(
        record({"姓名": "张伟", "公民身份号码": WOMAN_1985, "护照号码": "E12345678"}), PUBLIC_SECURITY
    )
    assert resident.id_number == WOMAN_1985
    assert resident.other_ids == (OtherId(kind="passport", value="E12345678"),)


def test_foreigner_permanent_residence_number_is_an_other_id_not_an_invalid_ric() -> None:
    body = "911840" + "19850307" + "001"
    permit = body + ric.calc_check_digit(body + "0")
    resident = standardise(record({"权利人": "Anna Berg", "证件号码": permit}, source="housing"), HOUSING)
    assert resident.other_ids == (OtherId(kind="foreigner_permit", value=permit),)
    assert resident.id_number_invalid is None


def test_unknown_code_values_are_warnings_not_failures() -> None:
    resident = standardise(
        record({"姓名": "张伟", "民族": "火星族", "与户主关系": "邻居的猫"}), PUBLIC_SECURITY
    )
    assert resident.ethnicity is None and resident.relation_to_head is None
    assert any(w.startswith("ethnicity_unknown") for w in resident.warnings)
    assert any(w.startswith("relation_to_head_unknown") for w in resident.warnings)


def test_unreadable_dates_and_phones_are_warnings() -> None:
    resident = standardise(
        record({"姓名": "张伟", "出生日期": "不详", "注销日期": "2020-05", "联系电话": "12345"}),
        PUBLIC_SECURITY,
        today=TODAY,
    )
    assert resident.birth_date is None and resident.deceased_on is None and resident.phones == ()
    kinds = {w.split(":")[0] for w in resident.warnings}
    assert {"birth_date_unreadable", "deceased_on_unreadable", "phone_invalid"} <= kinds


def test_deceased_date_is_read() -> None:
    resident = standardise(record({"姓名": "张伟", "注销日期": 43831}), PUBLIC_SECURITY, today=TODAY)
    assert resident.deceased_on == date(2020, 1, 1)  # Excel serial 43831


def test_missing_native_columns_are_blank_fields() -> None:
    resident = standardise(record({"姓名": "张伟"}), PUBLIC_SECURITY)
    assert resident.phones == () and resident.addresses == {} and resident.attributes == {}


def test_first_non_blank_column_wins_for_a_scalar_field() -> None:
    mapping = FieldMapping.model_validate({"fields": {"name": ["姓名", "户主姓名"]}})
    resident = standardise(record({"姓名": "", "户主姓名": "李娜"}), mapping)
    assert resident.name == "李娜"


def test_field_mapping_rejects_unknown_targets() -> None:
    with pytest.raises(ValidationError, match="not a canonical field"):
        FieldMapping.model_validate({"fields": {"nmae": "姓名"}})
    with pytest.raises(ValidationError):
        FieldMapping.model_validate({"fields": {"addresses.holiday": "地址"}})


def test_field_mapping_refuses_an_area_code_that_yaml_read_as_a_number() -> None:
    with pytest.raises(ValidationError, match="area code as text"):
        FieldMapping.model_validate({"fields": {"name": "姓名"}, "default_area_code": 21})


def test_field_mapping_is_frozen() -> None:
    with pytest.raises(ValidationError):
        PUBLIC_SECURITY.default_area_code = "010"  # type: ignore[misc]


def test_attribute_values_pass_through_their_code_table() -> None:
    mapping = FieldMapping.model_validate(
        {"fields": {"name": "姓名", "attributes.assistance": "jzlb"}, "codes": {"attributes.assistance": {"1": "城市低保"}}}
    )
    assert standardise(record({"姓名": "张伟", "jzlb": "1"}), mapping).attributes == {"assistance": "城市低保"}


def _mapping_file(source: str) -> FieldMapping:
    import yaml

    from tests.helpers import PROJECT

    loaded = yaml.safe_load((PROJECT / "mappings" / f"{source}.yaml").read_text(encoding="utf-8"))
    return FieldMapping.model_validate({"source": source, **loaded["standardise"]})


@pytest.mark.parametrize(("status", "deceased", "moved"), [
    ("死亡注销", date(2023, 5, 1), None),
    ("迁出注销", None, date(2023, 5, 1)),
    ("正常", None, None),
])
def test_one_column_read_as_death_or_move_out_by_the_status_beside_it(status: str, deceased: date | None,
                                                                     moved: date | None) -> None:
    mapping = _mapping_file("public_security")  # 注销日期 means either, by 人员状态
    resident = standardise(record({"姓名": "张伟", "人员状态": status, "注销日期": "2023-05-01"}), mapping,
                           today=TODAY)
    assert (resident.deceased_on, resident.moved_out_on) == (deceased, moved)


def test_a_condition_holds_only_for_the_listed_values() -> None:
    mapping = FieldMapping.model_validate({"fields": {"name": "姓名", "deceased_on": "日期"},
                                           "when": {"deceased_on": {"状态": ["死亡", "死亡注销"]}}})
    assert mapping.applies("deceased_on", {"状态": " 死亡 "})
    assert not mapping.applies("deceased_on", {"状态": "迁出"}) and not mapping.applies("deceased_on", {})
    assert mapping.applies("name", {})  # no condition


def test_a_condition_on_an_unmapped_target_or_without_values_is_refused() -> None:
    with pytest.raises(ValidationError, match="not mapped"):
        FieldMapping.model_validate({"fields": {"name": "姓名"}, "when": {"deceased_on": {"状态": ["死亡"]}}})
    with pytest.raises(ValidationError, match="no values"):
        FieldMapping.model_validate({"fields": {"name": "姓名", "deceased_on": "日期"},
                                     "when": {"deceased_on": {"状态": []}}})
