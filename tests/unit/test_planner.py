"""The collection planner and department grants: pure, over profiles built inline."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from core.planner import FormTemplate, GrantError, Grants, UnknownField, extract_row, plan_collection
from core.profile import Golden, GoldenFields, Profile, Provenance
from schemas.resident import Address

WHEN = datetime(2026, 3, 1, tzinfo=timezone.utc)
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
