"""The planner asks for a door check (入户核实) where the records disagree on where a resident lives
(住址有冲突, issue #10): pure, over profiles built inline."""

from __future__ import annotations

from datetime import UTC, date, datetime

from core.access import Principal
from core.planner import DOOR_CHECK, FormTemplate, collected_answers, plan_collection, plan_view, visit_row
from core.profile import Golden, GoldenFields, Profile, Provenance
from core.standardise import FieldMapping
from schemas.resident import Address

WHEN = datetime(2026, 3, 1, tzinfo=UTC)
CM = Provenance(source="community", record_id="V1", observed_at=WHEN)
ADDRESS = "秦淮区夫子庙街道12-3-2-301"


def _resident(profile_id: str, name: str) -> Profile:
    """A resident of whom the hub knows everything the survey asks, address and community included."""
    return Profile(profile_id=profile_id, version=1, status="active", created_at=WHEN, updated_at=WHEN,
                   golden=GoldenFields(
                       name=Golden(value=name, provenance=CM),
                       sex=Golden(value="female", provenance=CM),
                       residential_address=Golden(value=Address(raw=ADDRESS, community="夫子庙社区"), provenance=CM),
                       marital_status=Golden(value="widowed", provenance=CM),
                       attributes={"community": Golden(value="夫子庙社区", provenance=CM),
                                   "grid": Golden(value="第3网格", provenance=CM)}))


WANG, ZHAO = _resident("p-wang", "王芳"), _resident("p-zhao", "赵敏")
SURVEY = FormTemplate(name="survey", title="调查表", fields=("name", "marital_status"))
# The community mapping's columns (mappings/community.yaml) for what a visit carries.
MAPPING = FieldMapping(fields={"name": "姓名", "sex": "性别", "addresses.residential": "居住地址",
                               "marital_status": "婚姻状况", "attributes.community": "社区", "attributes.grid": "网格",
                               "attributes.visited_on": "走访日期", "attributes.verification": "核实方式"},
                       codes={"sex": {"男": "male", "女": "female"},
                              "attributes.verification": {"入户核实": "at_door", "电话核实": "by_phone"}})
WORKER = Principal(user_id="u", username="w", role="community_worker", department="community",
                   communities=frozenset({"夫子庙社区"}))


def test_a_contested_resident_is_asked_for_a_door_check_even_when_nothing_is_missing() -> None:
    plan = plan_collection([WANG, ZHAO], SURVEY, contested={"p-wang"})
    wang, zhao = plan.residents
    assert plan.form.fields == ("name", "marital_status", *DOOR_CHECK)
    assert plan.form.label("residential_address") == "现住地址（入户核实）"
    assert plan.form.label("attributes.verification") == "核实方式"
    assert wang.door_check and wang.missing == tuple(DOOR_CHECK)
    assert "residential_address" not in wang.known  # the addresses the records disagree on are not shown
    # The uncontested neighbour is asked nothing: the door-check columns are not hers.
    assert not zhao.door_check and zhao.missing == () and set(zhao.known) == {"name", "marital_status"}
    assert (plan.requested, plan.known) == (2 + 3 + 2, 4)


def test_no_door_check_column_when_nobody_planned_is_contested() -> None:
    plan = plan_collection([ZHAO], SURVEY, contested={"p-someone-else"})
    assert plan.form == SURVEY and plan.residents[0].missing == () and not plan.residents[0].door_check


def test_a_held_address_on_the_form_becomes_the_door_check_gap_and_is_not_shown() -> None:
    form = FormTemplate(name="f", title="f", fields=("name", "residential_address"), labels={"residential_address": "现住址"})
    plan = plan_collection([WANG, ZHAO], form, contested={"p-wang"})
    assert plan.form.fields == ("name", "residential_address", "attributes.verification", "attributes.visited_on")
    assert plan.form.door_check == ("attributes.verification", "attributes.visited_on")
    view = plan_view(plan, {"p-wang": WANG, "p-zhao": ZHAO}, WORKER)
    wang, zhao = view.residents
    assert [k["field"] for k in wang["known"]] == ["name"]
    assert wang["missing"] == ["residential_address", "attributes.verification", "attributes.visited_on"]
    assert ADDRESS not in str(wang)
    assert [k["field"] for k in zhao["known"]] == ["name", "residential_address"] and zhao["missing"] == []


def test_the_door_check_answer_is_a_visit_with_its_verification_and_day_and_no_place_on_file() -> None:
    plan = plan_collection([WANG], SURVEY, contested={"p-wang"})
    wang = plan.residents[0]
    found = "秦淮区五老村街道8-1-101"
    collected = collected_answers(wang, {"name": "王芳", "marital_status": None, "residential_address": found,
                                         "attributes.verification": "入户核实", "attributes.visited_on": "2026-04-02"})
    assert dict(collected.answers) == {"residential_address": found, "attributes.verification": "入户核实",
                                       "attributes.visited_on": "2026-04-02"}
    row, not_carried = visit_row(collected, WANG, plan.form, MAPPING, "走访编号", answered_on=date(2026, 4, 9))
    assert not_carried == ()
    assert (row["核实方式"], row["走访日期"], row["居住地址"]) == ("入户核实", "2026-04-02", found)
    assert row["姓名"] == "王芳" and row["性别"] == "女"
    # The community and grid on file are the hub's guess the records disagree on: not written.
    assert "社区" not in row and "网格" not in row
    # Left blank, the day is the day the answers came back.
    undated, _ = visit_row(collected_answers(wang, {"residential_address": found, "attributes.verification": "入户核实"}),
                           WANG, plan.form, MAPPING, "走访编号", answered_on=date(2026, 4, 9))
    assert undated["走访日期"] == "2026-04-09"


def test_an_uncontested_resident_s_door_check_cells_are_not_taken() -> None:
    # The workbook came back with the door-check columns (a neighbour was contested); this row's are filled.
    plan = plan_collection([WANG, ZHAO], SURVEY, contested={"p-wang"})
    again = plan_collection([ZHAO], plan.form, contested={"p-wang"})
    zhao = again.residents[0]
    collected = collected_answers(zhao, {"residential_address": "别处", "attributes.verification": "入户核实",
                                         "attributes.visited_on": "2026-04-02", "marital_status": "widowed"})
    assert dict(collected.answers) == {}
    row, _ = visit_row(collected_answers(zhao, {"marital_status": None}), ZHAO, again.form, MAPPING, "走访编号",
                       answered_on=date(2026, 4, 9))
    assert "核实方式" not in row and "走访日期" not in row and row["社区"] == "夫子庙社区"


def test_the_workbook_asks_the_door_check_and_reads_its_columns_back() -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    from services.plan_workbook import read_workbook, workbook_bytes

    plan = plan_collection([WANG, ZHAO], SURVEY, contested={"p-wang"})
    data = workbook_bytes(plan)
    sheet = load_workbook(BytesIO(data))["form"]
    rows = [[c.value for c in line] for line in sheet.iter_rows()]
    assert rows[0] == ["profile_id", "name", "marital_status", "现住地址（入户核实）", "核实方式", "走访日期"]
    assert rows[2][0] == "p-wang" and rows[2][3:] == [None, None, None] and ADDRESS not in str(rows)
    assert [v.formula1 for v in sheet.data_validations.dataValidation] == ['"入户核实,电话核实"']
    filled = read_workbook(data)
    assert filled.fields == plan.form.fields and filled.door_check == tuple(DOOR_CHECK)
    assert FormTemplate(name=filled.form_name, title="t", fields=filled.fields, door_check=filled.door_check) == \
        FormTemplate(name="survey", title="t", fields=plan.form.fields, door_check=plan.form.door_check)
