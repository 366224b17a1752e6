"""The collection planner and department grants: pure, over profiles built inline."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core.planner import FormTemplate, GrantError, Grants, UnknownField, extract_row, plan_collection
from core.profile import Golden, GoldenFields, Profile, Provenance
from schemas.resident import Address

WHEN = datetime(2026, 3, 1, tzinfo=UTC)
PS = Provenance(source="public_security", record_id="P1", observed_at=WHEN)
CM = Provenance(source="community", record_id="V1", observed_at=WHEN)


def _profile(profile_id: str, golden: GoldenFields, status: str = "active") -> Profile:
    return Profile(profile_id=profile_id, version=1, status=status, created_at=WHEN, updated_at=WHEN, golden=golden)


# 王芳: public security knows her name, birth date and ID number; the community worker her phone.
WANG = _profile("p-wang", GoldenFields(
    name=Golden(value="王芳", provenance=PS),
    id_number=Golden(value="11010519491231002X", provenance=PS),
    birth_date=Golden(value=date(1949, 12, 31), provenance=PS),
    phones=Golden(value=("+8613800000000",), provenance=CM),
    residential_address=Golden(value=Address(raw="秦淮区夫子庙街道12-3-2-301", community="夫子庙社区"), provenance=CM),
    attributes={"assistance": Golden(value="高龄津贴", provenance=CM)},
))
# 李强: only his name is known.
LI = _profile("p-li", GoldenFields(name=Golden(value="李强", provenance=CM)))
SURVEY = FormTemplate(name="elderly_survey", title="老年人入户调查表",
                      fields=("name", "birth_date", "phones", "marital_status", "attributes.assistance"))


def test_the_plan_fills_known_fields_with_their_source_and_lists_only_the_gaps() -> None:
    plan = plan_collection([WANG, LI], SURVEY)
    li, wang = plan.residents  # sorted by profile id
    assert wang.known["birth_date"].value == "1949-12-31"
    assert (wang.known["phones"].source, wang.known["phones"].observed_at) == ("community", WHEN)
    assert wang.known["attributes.assistance"].value == "高龄津贴"
    assert wang.missing == ("marital_status",)
    assert li.missing == ("birth_date", "phones", "marital_status", "attributes.assistance")
    assert (plan.requested, plan.known) == (10, 5)
    assert plan.share_known == pytest.approx(0.5)


def test_merged_away_profiles_are_redirects_not_residents_to_visit() -> None:
    gone = _profile("p-old", GoldenFields(name=Golden(value="王芳", provenance=PS)), status="merged_into:p-wang")
    assert [r.profile_id for r in plan_collection([gone, WANG], SURVEY).residents] == ["p-wang"]


def test_a_form_naming_a_field_the_hub_does_not_hold_is_refused() -> None:
    with pytest.raises(UnknownField):
        FormTemplate(name="x", title="x", fields=("name", "shoe_size"))
    form = FormTemplate.from_dict("x", {"fields": [{"name": "姓名"}, "sex"]})
    assert form.fields == ("name", "sex") and form.label("name") == "姓名" and form.label("sex") == "sex"


CATALOGUE = {"name": "unconditional", "id_number": "conditional", "attributes.remarks": "not_shared"}


def test_an_extract_row_holds_the_profile_id_and_exactly_the_granted_fields() -> None:
    grants = Grants.from_dict({"catalogue": CATALOGUE, "departments": {
        "housing": {"grants": [{"fields": ["name"], "purpose": "租赁备案核对"}]},
        "civil_affairs": {"grants": [{"fields": ["name"], "purpose": "低保核对"},
                                     {"fields": ["id_number"], "purpose": "身份核验", "basis": "协议 3"}]},
    }})
    assert extract_row(WANG, grants.departments["housing"]) == {"profile_id": "p-wang", "name": "王芳"}
    assert extract_row(WANG, grants.departments["civil_affairs"])["id_number"] == "11010519491231002X"
    assert extract_row(LI, grants.departments["civil_affairs"]) == {"profile_id": "p-li", "name": "李强",
                                                                     "id_number": None}


@pytest.mark.parametrize(("grant", "why"), [
    ({"fields": ["attributes.remarks"], "purpose": "p"}, "not shared"),
    ({"fields": ["id_number"], "purpose": "p"}, "basis"),
    ({"fields": ["name"], "purpose": ""}, "purpose"),
    ({"fields": ["phones"], "purpose": "p"}, "catalogue"),
    ({"fields": ["name"], "purpose": "p", "sharing": "conditional"}, "unconditional in the catalogue"),
])
def test_grants_that_break_the_sharing_rules_are_refused_on_load(grant: dict[str, object], why: str) -> None:
    with pytest.raises(GrantError, match=why):
        Grants.from_dict({"catalogue": CATALOGUE, "departments": {"housing": {"grants": [grant]}}})


def test_the_shipped_grants_and_forms_load() -> None:
    import yaml

    from onceonly.settings import PROJECT_ROOT

    config = PROJECT_ROOT / "config"
    grants = Grants.from_dict(yaml.safe_load((config / "grants.yaml").read_text(encoding="utf-8")))
    assert "id_number" not in grants.departments["housing"].field_names
    form = yaml.safe_load((config / "forms" / "elderly_survey.yaml").read_text(encoding="utf-8"))
    assert "attributes.assistance" in FormTemplate.from_dict("elderly_survey", form).fields


# -- targets, grids, masking and the way back ---------------------------------------------------

def test_a_target_is_a_community_a_grid_within_it_or_a_list_of_profiles() -> None:
    from core.planner import InvalidTarget, PlanTarget

    assert PlanTarget(community=" 夫子庙社区 ").kind == "community"
    assert PlanTarget(community="夫子庙社区", grid="第3网格").kind == "grid"
    assert PlanTarget(profile_ids=("p-1", " p-1", "", "p-2")).profile_ids == ("p-1", "p-2")
    for bad, why in (({}, "no residents"), ({"grid": "第3网格"}, "within its community"),
                     ({"community": "夫子庙社区", "profile_ids": ("p-1",)}, "not both"),
                     ({"community": "  "}, "no residents")):
        with pytest.raises(InvalidTarget, match=why):
            PlanTarget(**bad)


def test_a_grid_holds_the_profiles_whose_surviving_grid_is_that_grid() -> None:
    from core.planner import grids_of, in_grid

    def gridded(pid: str, grid: str | None) -> Profile:
        attributes: dict[str, Golden[str]] = {"grid": Golden(value=grid, provenance=CM)} if grid else {}
        return _profile(pid, GoldenFields(name=Golden(value="张三", provenance=CM), attributes=attributes))

    people = [gridded("a", "第3网格"), gridded("b", "第10网格"), gridded("c", None), gridded("d", "第3网格")]
    assert [p.profile_id for p in in_grid(people, "第3网格")] == ["a", "d"]
    assert in_grid(people, "第4网格") == []
    assert grids_of(people) == ["第3网格", "第10网格"]  # natural order, no grid for an unknown one


def test_the_plan_view_masks_known_values_as_the_profile_view_does_and_notes_what_it_disclosed() -> None:
    from core.access import Principal
    from core.access.views import field_views
    from core.planner import plan_view

    worker = Principal(user_id="u1", username="w", role="community_worker", communities=frozenset({"夫子庙社区"}))
    form = FormTemplate(name="f", title="f", fields=("name", "id_number", "phones", "attributes.assistance",
                                                     "marital_status"))
    collection = plan_collection([WANG], form)
    view = plan_view(collection, {"p-wang": WANG}, worker)
    (resident,) = view.residents
    profile_view = {f["field"]: f["value"] for f in field_views(WANG, worker)}
    known = {k["field"]: k for k in resident["known"]}
    for name in ("name", "id_number", "phones", "attributes.assistance"):
        assert known[name]["value"] == profile_view[name]
    assert known["id_number"]["value"] == "110105********002X" and known["id_number"]["masked"]
    assert known["phones"]["value"] == ["138****0000"] and known["attributes.assistance"]["value"] == "***"
    assert known["name"]["source"] == "public_security" and not known["name"]["masked"]
    assert resident["missing"] == ["marital_status"]
    assert view.disclosed == ["name", "id_number*", "phones*", "attributes.assistance*"]


@pytest.mark.parametrize("role", ["auditor", "admin", "department_reader"])
def test_only_community_workers_and_stewards_plan(role: str) -> None:
    from core.access import AccessDenied, Principal
    from core.planner import plan_view

    reader = Principal(user_id="u", username="x", role=role, department="civil_affairs")  # type: ignore[arg-type]
    with pytest.raises(AccessDenied, match="may not plan"):
        plan_view(plan_collection([WANG], SURVEY), {"p-wang": WANG}, reader)


def test_answered_gaps_become_one_community_visit_naming_the_resident_by_its_identity_on_file() -> None:
    from core.planner import collected_answers, visit_row
    from core.standardise import FieldMapping

    mapping = FieldMapping(fields={"name": "姓名", "sex": "性别", "phones": "联系电话", "addresses.residential": "居住地址",
                                   "marital_status": "婚姻状况", "attributes.grid": "网格",
                                   "attributes.community": "社区"}, codes={"sex": {"男": "male", "女": "female"}})
    form = FormTemplate(name="f", title="f", fields=("name", "sex", "id_number", "phones", "marital_status",
                                                     "birth_date"))
    resident = plan_collection([WANG], form).residents[0]
    assert resident.missing == ("sex", "marital_status")
    # The worker answered both gaps, overwrote a known cell (not taken) and left a blank.
    cells = {"name": "王芳芳", "sex": "女", "id_number": None, "phones": "", "marital_status": "丧偶", "birth_date": None}
    collected = collected_answers(resident, cells)
    assert dict(collected.answers) == {"sex": "女", "marital_status": "丧偶"} and collected.ignored == ("name",)
    row, not_carried = visit_row(collected, WANG, form, mapping, "走访编号")
    assert not_carried == ()
    assert row["姓名"] == "王芳" and row["性别"] == "女" and row["婚姻状况"] == "丧偶"
    assert row["居住地址"] == "秦淮区夫子庙街道12-3-2-301" and row["联系电话"] == "+8613800000000"
    assert row["社区"] == "夫子庙社区" and row["走访编号"].startswith("JH-p-wang-")
    again, _ = visit_row(collected_answers(resident, cells), WANG, form, mapping, "走访编号")
    other, _ = visit_row(collected_answers(resident, {**cells, "marital_status": "已婚"}), WANG, form, mapping, "走访编号")
    assert again["走访编号"] == row["走访编号"] != other["走访编号"]  # same answers: the same record
    # An answer the community source does not carry is named, not smuggled in.
    li = plan_collection([LI], form).residents[0]
    _, uncarried = visit_row(collected_answers(li, {"id_number": "11010519491231002X", "sex": "男"}), LI, form,
                             mapping, "走访编号")
    assert uncarried == ("id_number",)


def test_a_form_for_older_residents_leaves_out_younger_ones_and_keeps_unknown_ages() -> None:
    form = FormTemplate.from_dict("elderly", {"title": "老年人", "fields": ["name", "phones"], "for": {"min_age": 60}})
    assert form.min_age == 60
    young = _profile("p-young", GoldenFields(name=Golden(value="王小明", provenance=PS),
                                             birth_date=Golden(value=date(1966, 1, 1), provenance=PS)))
    on_his_birthday = plan_collection([WANG, LI, young], form, today=date(2026, 1, 1))  # turns 60 today: in
    assert [r.profile_id for r in on_his_birthday.residents] == ["p-li", "p-wang", "p-young"]
    day_before = plan_collection([WANG, LI, young], form, today=date(2025, 12, 31))  # 59: left out
    assert [r.profile_id for r in day_before.residents] == ["p-li", "p-wang"]  # 李强's age is unknown: kept
    assert day_before.left_out == {"under_min_age": 1}


def test_a_resident_known_to_have_died_is_left_out_of_every_plan() -> None:
    gone = WANG.model_copy(update={"golden": WANG.golden.model_copy(
        update={"deceased_on": Golden(value=date(2024, 3, 1), provenance=PS)})})
    plan = plan_collection([gone, LI], SURVEY)
    assert [r.profile_id for r in plan.residents] == ["p-li"] and plan.left_out == {"deceased": 1}


def test_a_form_file_with_a_bad_for_clause_is_refused() -> None:
    with pytest.raises(ValueError, match="min_age"):
        FormTemplate.from_dict("x", {"fields": ["name"], "for": {"min_age": "sixty"}})
    with pytest.raises(ValueError, match="only min_age"):
        FormTemplate.from_dict("x", {"fields": ["name"], "for": {"max_age": 18}})
