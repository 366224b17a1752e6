"""The field catalogue (config/fields.yaml): Chinese labels for every field the mappings produce,
the one list of sensitive fields, codes shown by name through the national code tables, department
names from the mappings' titles, and the console's Chinese lines (why linked, history, changes)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import yaml

from core.access import SENSITIVE_FIELDS, is_sensitive
from core.access.catalogue import UNLISTED, CatalogueError, catalogue, parse_catalogue
from core.access.masking import FIELDS
from core.access.views import changes_between, history_line, link_reasons, link_summary, local_time
from core.profile import replay
from schemas.profile_events import (
    FieldEvidence,
    LinkedRecord,
    ProfileCreated,
    ProfilesMerged,
    ProfileSplit,
    RecordLinked,
    ResidentDeceased,
    ResidentMoved,
)
from schemas.resident import Address, ResidentRecord
from tests.helpers import PROJECT

T0 = datetime(2025, 6, 1, 0, 30, tzinfo=UTC)  # 08:30 in Beijing
MAPPINGS = sorted((PROJECT / "mappings").glob("*.yaml"))


def _mapped_fields() -> set[str]:
    """The canonical fields and attribute keys every department mapping produces."""
    out = set()
    for path in MAPPINGS:
        for target in (yaml.safe_load(path.read_text(encoding="utf-8"))["standardise"]["fields"]):
            if target.startswith("addresses."):
                out.add(target.split(".", 1)[1] + "_address")
            elif not target.startswith("other_ids.") and target != "id_kind":
                out.add(target)
    return out


def test_every_profile_field_and_every_mapped_attribute_has_a_chinese_label() -> None:
    fields = _mapped_fields() | set(FIELDS)
    assert {"attributes.employer", "attributes.floor_area", "attributes.insured_since", "attributes.grid"} <= fields
    for field in sorted(fields):
        label = catalogue().label(field)
        assert label != UNLISTED, field
        assert not any("a" <= ch.lower() <= "z" for ch in label), (field, label)  # no English key shows through
    assert catalogue().label("attributes.employer") == "工作单位"
    assert catalogue().label("attributes.floor_area").startswith("建筑面积")


def test_an_uncatalogued_attribute_is_headed_without_its_english_key() -> None:
    assert catalogue().label("attributes.shoe_size") == UNLISTED


def test_the_catalogue_is_the_one_list_of_sensitive_fields() -> None:
    assert {"id_number", "phones"} == SENSITIVE_FIELDS
    for field in ("attributes.assistance", "attributes.disability", "attributes.monthly_amount",
                  "attributes.person_category"):
        assert catalogue().fields[field].sensitive and is_sensitive(field)
    # an attribute nobody catalogued yet is masked when its key says it is about health or disability
    assert is_sensitive("attributes.health_insurance_note") and is_sensitive("attributes.disabled_since")
    assert not is_sensitive("attributes.employer") and not is_sensitive("name")


@pytest.mark.parametrize(("field", "value", "shown"), [
    ("relation_to_head", "02", "户主"), ("relation_to_head", "12", "妻"), ("ethnicity", "01", "汉族"),
    ("ethnicity", "05", "维吾尔族"), ("nationality", "CHN", "中国"), ("sex", "female", "女"), ("sex", "male", "男"),
    ("marital_status", "20", "已婚"), ("marital_status", "40", "离婚"), ("attributes.living_alone", "是", "是"),
    ("attributes.living_alone", "true", "是"),
    ("relation_to_head", "火星人", "火星人"),  # outside the table: as the source wrote it
    ("attributes.employer", "南京新街口酒店", "南京新街口酒店"),
])
def test_codes_are_shown_by_their_standard_names(field: str, value: str, shown: str) -> None:
    assert catalogue().display(field, value) == shown


def test_departments_are_named_by_the_first_word_of_their_mappings_titles() -> None:
    names = {catalogue().department(s) for s in
             ("public_security", "social_security", "civil_affairs", "housing", "community", "grid_centre")}
    assert names == {"公安", "人社", "民政", "住建", "社区", "网格中心"}
    for path in MAPPINGS:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert spec["title"].startswith(catalogue().department(spec["source"]))


def test_a_catalogue_naming_an_unknown_code_table_is_refused() -> None:
    with pytest.raises(CatalogueError, match="no code table"):
        parse_catalogue({"fields": {"sex": {"label": "性别", "codes": "gender"}}})
    with pytest.raises(CatalogueError, match="needs a label"):
        parse_catalogue({"fields": {"sex": {"codes": "sex"}}})


# -- why linked, history lines, changes ----------------------------------------------------------------
EVIDENCE = (
    FieldEvidence(field="id_number", level="same_valid", weight=28.9, left="320104********6202",
                  right="320104********6202"),
    FieldEvidence(field="name", level="exact", weight=9.78, left="向思月", right="向思月"),
    FieldEvidence(field="birth_date", level="null", weight=0.0),
    FieldEvidence(field="residence", level="home", weight=13.0),
    FieldEvidence(field="sex", level="different", weight=-5.6, left="male", right="female"),
)


def test_a_linked_record_says_why_field_by_field_with_its_weight_and_no_compared_value() -> None:
    reasons = link_reasons(EVIDENCE)
    assert [(r["text"], r["weight"]) for r in reasons] == [
        ("身份证号一致", 28.9), ("同一住址（或户号）", 13.0), ("姓名一致", 9.78), ("性别不一致", -5.6)]
    assert not reasons[-1]["agrees"]
    assert "6202" not in repr(reasons)  # only the phrase and the weight, never the (masked) number
    assert link_summary("id_number", 1.0, EVIDENCE) == "身份证号一致，得分 1.00"
    assert link_summary("probabilistic", 0.987, EVIDENCE[1:]) == "同一住址（或户号）、姓名一致，得分 0.99"
    assert link_summary("probabilistic", 1.0, ()) == "首条记录，得分 1.00"


GA = ResidentRecord(source="public_security", record_id="GA-1", observed_at=T0, name="张伟",
                    birth_date=date(1950, 3, 7), phones=("+8613800138000",),
                    addresses={"residential": Address(raw="珠江路8号301室", road="珠江路", number="8号", room="301")})


def _linked(version: int, record: ResidentRecord, at: datetime = T0) -> RecordLinked:
    return RecordLinked(profile_id="p-1", version=version, occurred_at=at, caused_by=f"src-{version}",
                        record=record, rule="id_number", score=1.0, evidence=EVIDENCE)


def test_history_lines_are_in_chinese_with_departments_by_name() -> None:
    assert history_line(ProfileCreated(profile_id="p-1", version=1, occurred_at=T0, caused_by="x")) == "建立档案"
    assert history_line(_linked(2, GA)) == "关联 公安 记录 GA-1（身份证号一致，得分 1.00）"
    merged = ProfilesMerged(profile_id="p-1", version=3, occurred_at=T0, caused_by="c", survivor="p-1",
                            merged_away="p-2222222222", reason="late evidence", evidence=EVIDENCE,
                            records=(LinkedRecord(record=GA, rule="id_number", score=1.0, linked_at=T0),))
    assert history_line(merged).startswith("合并：系统依据新证据自动并入画像 p-222222 的 1 条记录（身份证号一致")
    split = ProfileSplit(profile_id="p-1", version=4, occurred_at=T0, caused_by="c", from_profile="p-1",
                         to_profile="p-3", steward="steward", reason="两人同名 110105194912310021",
                         records=(LinkedRecord(record=GA, rule="id_number", score=1.0, linked_at=T0),))
    line = history_line(split)
    assert line.startswith("拆分：1 条记录拆出至画像 p-3") and "110105194912310021" not in line
    died = ResidentDeceased(profile_id="p-1", version=5, occurred_at=T0, caused_by="c", deceased_on=date(2025, 5, 30),
                            source="public_security", record_id="GA-1")
    assert history_line(died) == "死亡注销：2025-05-30（公安）"
    moved = ResidentMoved(profile_id="p-1", version=6, occurred_at=T0, caused_by="c", address_kind="registered",
                          moved_on=date(2025, 5, 1), source="public_security", record_id="GA-1")
    assert history_line(moved) == "迁出注销：2025-05-01（公安）"


def test_times_are_shown_in_beijing_time() -> None:
    assert local_time(T0) == "2025-06-01 08:30"
    assert local_time("2025-06-01T00:30:00+00:00", seconds=True) == "2025-06-01 08:30:00"
    assert local_time("2025-06-01T00:30:00") == "2025-06-01 08:30"  # a naive time is UTC
    assert local_time(None) == ""


def test_changes_say_a_new_phone_masked_a_new_home_and_a_death() -> None:
    created = ProfileCreated(profile_id="p-1", version=1, occurred_at=T0, caused_by="open")
    before = replay([created, _linked(2, GA)])["p-1"]
    later = T0 + timedelta(days=3)
    moved = GA.model_copy(update={"observed_at": later, "phones": ("+8613800138000", "+8613912345678"),
                                  "deceased_on": date(2025, 6, 3),
                                  "addresses": {"residential": Address(raw="中华路104号10幢1702", road="中华路",
                                                                       number="104号")}})
    from schemas.profile_events import RecordUpdated

    after = replay([created, _linked(2, GA), RecordUpdated(profile_id="p-1", version=3, occurred_at=later,
                                                           caused_by="u", record=moved)])["p-1"]
    found = {c["kind"]: c["text"] for c in changes_between(before, after)}
    assert found["died"] == "去世（2025-06-03）"
    assert found["moved_in"] == "住址变更为 中华路104号10幢1702"
    assert found["new_phone"] == "新电话 139****5678"
    assert changes_between(None, after) == [{"kind": "new", "text": "新建档"}]
    assert changes_between(after, after) == []
