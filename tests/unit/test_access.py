"""Access decisions, pure: roles, community scope, masking, department grants, session cookies."""

from __future__ import annotations

import pytest

from api.auth import Sessions
from core.access import (
    AccessDenied,
    Grant,
    Principal,
    can,
    is_sensitive,
    mask_value,
    may_see_community,
    parse_grants,
    require,
    visibility,
)

WORKER = Principal("u1", "li", "community_worker", frozenset({"秦虹社区"}))
GRID_WORKER = Principal("u6", "wang", "community_worker", grids=frozenset({"秦虹社区/第2网格"}))
STEWARD = Principal("u2", "st", "steward")
AUDITOR = Principal("u3", "au", "auditor")
ADMIN = Principal("u4", "ad", "admin")
DEPT = Principal("u5", "ca", "department_reader", department="civil_affairs")
GRANTS = {"civil_affairs": Grant("civil_affairs", "资格核对", frozenset({"name", "id_number", "phones"}),
                                 frozenset({"id_number"}))}


def test_a_community_worker_sees_only_residents_of_their_communities() -> None:
    assert may_see_community(WORKER, "秦虹社区")
    assert not may_see_community(WORKER, "瞻园社区")
    assert not may_see_community(WORKER, None)  # unknown community: outside every worker's scope
    assert may_see_community(STEWARD, "瞻园社区") and may_see_community(STEWARD, None)


def test_a_grid_worker_sees_residents_of_their_grids_only() -> None:
    assert may_see_community(GRID_WORKER, "秦虹社区", "秦虹社区/第2网格")
    assert not may_see_community(GRID_WORKER, "秦虹社区", "秦虹社区/第3网格")  # the rest of the community
    assert not may_see_community(GRID_WORKER, "秦虹社区", None)
    assert not may_see_community(GRID_WORKER, "瞻园社区", "瞻园社区/第2网格")  # 第2网格 of another community
    # a worker of a community still sees its residents whatever their grid; either scope suffices
    assert may_see_community(WORKER, "秦虹社区", "秦虹社区/第3网格")
    both = Principal("u7", "zhao", "community_worker", frozenset({"瞻园社区"}), grids=frozenset({"秦虹社区/第2网格"}))
    assert may_see_community(both, "瞻园社区", None) and may_see_community(both, "秦虹社区", "秦虹社区/第2网格")
    assert not may_see_community(both, "秦虹社区", "秦虹社区/第1网格")


def test_auditors_and_admins_never_read_resident_data() -> None:
    for who in (AUDITOR, ADMIN):
        assert not may_see_community(who, "秦虹社区")
        assert visibility(who, "name") == "hidden"
        with pytest.raises(AccessDenied):
            require(who, "read_profile")
    assert can(AUDITOR, "audit") and not can(STEWARD, "audit")


@pytest.mark.parametrize("field", ["id_number", "phones", "attributes.assistance", "attributes.disability_grade",
                                   "attributes.health_status", "attributes.monthly_amount"])
def test_id_numbers_phones_and_sensitive_attributes_are_masked_by_default(field: str) -> None:
    assert is_sensitive(field)
    assert visibility(WORKER, field) == "masked"
    assert visibility(WORKER, field, unmask={field if not field.startswith("attributes.") else "attributes"}) == "shown"


def test_ordinary_fields_are_shown() -> None:
    for field in ("name", "birth_date", "residential_address", "attributes.grid"):
        assert not is_sensitive(field) and visibility(WORKER, field) == "shown"


def test_a_department_reads_granted_fields_only_in_clear_where_granted() -> None:
    assert visibility(DEPT, "name", grants=GRANTS) == "shown"
    assert visibility(DEPT, "id_number", grants=GRANTS) == "shown"
    assert visibility(DEPT, "phones", grants=GRANTS) == "masked"
    assert visibility(DEPT, "birth_date", grants=GRANTS) == "hidden"
    assert visibility(DEPT, "name", grants={}) == "hidden"  # no grant, nothing
    assert not can(DEPT, "unmask")


def test_masks_keep_only_what_identifies_nobody() -> None:
    assert mask_value("id_number", "11010519491231002X") == "110105********002X"
    assert mask_value("phones", "+8613912345678") == "139****5678"
    assert mask_value("attributes.assistance", "城市低保") == "***"


def test_grants_are_read_from_the_shared_file_form_with_its_catalogue() -> None:
    shared = parse_grants({"catalogue": {"name": "unconditional", "id_number": "conditional"},
                           "departments": {"housing": {"grants": [
                               {"fields": ["name"], "purpose": "租赁备案核对", "sharing": "unconditional"},
                               {"fields": ["id_number"], "purpose": "身份核验", "basis": "协议第3条"}]}}})
    assert shared["housing"].fields == {"name", "id_number"} and shared["housing"].unmasked == {"id_number"}
    assert shared["housing"].allows("name") and not shared["housing"].allows("phones")
    # One model (core.access.Grants): the short form with no sharing classes is gone, as is a bad list.
    with pytest.raises(ValueError):
        parse_grants({"grants": {"housing": {"fields": ["name"], "purpose": "x"}}})
    with pytest.raises(ValueError):
        parse_grants({"departments": {"housing": {"grants": "all"}}})


def test_a_session_cookie_is_refused_when_forged_or_expired() -> None:
    sessions = Sessions(b"secret")
    cookie = sessions.issue("u1", now=1000)
    assert sessions.user_id(cookie, now=1001) == "u1"
    assert sessions.user_id(cookie.replace("u1", "u2"), now=1001) is None
    assert sessions.user_id(Sessions(b"other").issue("u1", now=1000), now=1001) is None
    assert sessions.user_id(cookie, now=1000 + 9 * 3600) is None
    assert sessions.user_id("garbage", now=1001) is None
