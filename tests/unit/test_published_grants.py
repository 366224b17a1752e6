"""Issue 14, item 5: one grants model for the query service and the flows, and a published topic that
carries only what some grant shares, never a clear ID number."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import yaml

from core.access import GrantError, Grants, Principal, parse_grants, visibility
from core.planner import published_snapshot
from core.privacy import keyed_hash
from core.profile import Golden, GoldenFields, Profile, Provenance
from onceonly import bootstrap
from onceonly.settings import PROJECT_ROOT
from schemas.resident import Address

WHEN = datetime(2026, 3, 1, tzinfo=UTC)
CA = Provenance(source="civil_affairs", record_id="C1", observed_at=WHEN)
KEY = "published-test-key"
SCHEMA = json.loads((PROJECT_ROOT / "schemas" / "published" / "profile_snapshot.schema.json").read_text("utf-8"))
SHIPPED = bootstrap.grants()

# 王芳 on assistance: ID number, phone, assistance, the monthly amount and a remark (both not shared).
WANG = Profile(profile_id="p-wang", version=3, status="active", created_at=WHEN, updated_at=WHEN,
               golden=GoldenFields(
                   name=Golden(value="王芳", provenance=CA),
                   id_number=Golden(value="11010519491231002X", provenance=CA),
                   phones=Golden(value=("13800000000", "13912345678"), provenance=CA),
                   residential_address=Golden(value=Address(raw="秦淮区夫子庙街道12-3-2-301"), provenance=CA),
                   attributes={"assistance": Golden(value="城市低保", provenance=CA),
                               "monthly_amount": Golden(value="780", provenance=CA),
                               "remarks": Golden(value="独居，患糖尿病", provenance=CA)}))


def test_the_published_snapshot_has_no_clear_id_number_phone_or_unshared_field() -> None:
    snapshot = published_snapshot(WANG, SHIPPED, id_hash_key=KEY)
    text = json.dumps(snapshot, ensure_ascii=False)
    for secret in ("11010519491231002X", "13800000000", "13912345678", "城市低保", "780", "糖尿病", "provenance",
                   "civil_affairs"):
        assert secret not in text, secret
    fields = snapshot["fields"]
    assert fields["id_number_hash"] == keyed_hash("11010519491231002X", KEY)  # joinable with the hub's key
    assert fields["id_number"] == "110105********002X"
    assert fields["phones"] == "138****0000;139****5678" and fields["attributes.assistance"] == "***"
    assert fields["name"] == "王芳" and fields["residential_address"] == "秦淮区夫子庙街道12-3-2-301"
    assert "attributes.monthly_amount" not in fields and "attributes.remarks" not in fields
    assert set(fields) - {"id_number_hash"} == SHIPPED.shared_fields
    jsonschema.validate(snapshot, SCHEMA)


def test_a_merged_away_profile_is_published_as_its_redirect_only() -> None:
    gone = WANG.model_copy(update={"profile_id": "p-old", "status": "merged_into:p-wang", "merged_into": "p-wang"})
    snapshot = published_snapshot(gone, SHIPPED, id_hash_key=KEY)
    assert snapshot == {"schema_version": 2, "profile_id": "p-old", "version": 3, "status": "merged_into:p-wang",
                        "merged_into": "p-wang"}
    jsonschema.validate(snapshot, SCHEMA)


def test_the_query_service_and_the_flows_read_one_model_that_refuses_a_not_shared_grant(tmp_path: Path) -> None:
    data = yaml.safe_load((PROJECT_ROOT / "config" / "grants.yaml").read_text(encoding="utf-8"))
    data["departments"]["housing"]["grants"].append({"fields": ["attributes.remarks"], "purpose": "核对"})
    leaky = tmp_path / "grants.yaml"
    leaky.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(GrantError, match="not shared"):
        bootstrap.grants(leaky)
    with pytest.raises(GrantError, match="not shared"):
        bootstrap.access_grants(leaky)
    with pytest.raises(GrantError, match="not shared"):
        parse_grants(data)


def test_what_a_department_reader_sees_is_what_its_extract_carries() -> None:
    access = bootstrap.access_grants()
    for department, grant in SHIPPED.departments.items():
        reader = Principal(user_id="r", username="r", role="department_reader", department=department)
        seen = {f for f in (*SHIPPED.catalogue, "attributes.assistance")
                if visibility(reader, f, grants=access) != "hidden"}
        assert seen == set(grant.field_names), department
        assert access[department].unmasked == {g.field for g in grant.fields if g.basis}


def test_grants_without_a_catalogue_class_are_refused_by_both() -> None:
    bare = {"departments": {"housing": {"grants": [{"fields": ["name"], "purpose": "核对"}]}}}
    with pytest.raises(GrantError, match="catalogue"):
        Grants.from_dict(bare)
    with pytest.raises(GrantError, match="catalogue"):
        parse_grants(bare)
