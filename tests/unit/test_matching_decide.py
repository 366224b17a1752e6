"""decide(): where a new record goes — link, review, new profile, or a merge of profiles.

The records are tiny and inline; the matcher is the shipped settings with their starting
parameters (no training), so these cases hold before a district's own model exists.
"""

from __future__ import annotations

from datetime import datetime

from core.matching import Candidate, Decision, decide
from schemas.resident import ResidentRecord
from tests.unit.test_matching_features import make_id, mistype, resident

HOME = {"address": "南京市秦淮区中山路12号阳光花园3幢2单元301室", "phones": "025-84561234"}


def one(profile_id: str, *records: ResidentRecord, created_at: datetime | None = None) -> Candidate:
    return Candidate(profile_id, list(records), created_at)


def test_twins_sharing_a_home_stay_two_profiles() -> None:
    # Same surname, birth date, flat and home phone; only the given names differ.
    twin_a = resident("public_security", name="李晓明", sex="男", birth_date="2010-04-17",
                      id_number=make_id("20100417", "013"), **HOME)  # fmt: skip
    twin_b = resident("community", name="李建华", sex="男", birth_date="2010-04-17", **HOME)
    decision = decide(twin_b, [one("p-a", twin_a)])
    assert decision.outcome == "new"
    assert decision.candidates[0].note is not None and "names disagree" in decision.candidates[0].note


def test_twins_with_names_one_character_apart_are_never_linked_unseen() -> None:
    # A generation character shared by twins (晓): a slip of the pen or a brother? A steward decides.
    twin_a = resident("public_security", name="李晓明", sex="男", birth_date="2010-04-17",
                      id_number=make_id("20100417", "013"), **HOME)  # fmt: skip
    twin_b = resident("community", name="李晓华", sex="男", birth_date="2010-04-17", **HOME)
    assert decide(twin_b, [one("p-a", twin_a)]).outcome in ("new", "review")


def test_twins_with_two_valid_id_numbers_never_link_even_with_similar_names() -> None:
    twin_a = resident("public_security", name="李晓明", sex="男", birth_date="2010-04-17",
                      id_number=make_id("20100417", "013"), **HOME)  # fmt: skip
    twin_b = resident("public_security", name="李晓鸣", sex="男", birth_date="2010-04-17",
                      id_number=make_id("20100417", "015"), **HOME)  # fmt: skip
    decision = decide(twin_b, [one("p-a", twin_a)])
    assert decision.outcome == "new"
    assert decision.candidates[0].status == "different_valid_ids"


def test_two_zhang_weis_born_the_same_day_in_different_households_stay_apart() -> None:
    first = resident("public_security", name="张伟", sex="男", birth_date="1985-03-07",
                     address="中山路12号阳光花园3幢2单元301室", phones="13800138000")  # fmt: skip
    second = resident("community", name="张伟", sex="男", birth_date="1985-03-07",
                      address="瑞金路8号翠竹园5幢1单元502室", phones="13900139000")  # fmt: skip
    assert decide(second, [one("p-1", first)]).outcome in ("new", "review")


def test_spouses_sharing_a_phone_and_a_flat_stay_two_profiles() -> None:
    husband = resident("public_security", name="王建国", sex="男", birth_date="1960-05-01", household_id="H-2", **HOME)
    wife = resident("housing", name="刘秀英", sex="女", birth_date="1962-08-09", **HOME)
    assert decide(wife, [one("p-husband", husband)]).outcome == "new"


def test_a_typo_in_the_id_number_with_the_same_name_and_birth_links() -> None:
    number = make_id("19850307", "002")
    registered = resident("public_security", name="陈静", sex="女", birth_date="1985-03-07", id_number=number)
    insured = resident("social_security", name="陈静", sex="女", birth_date="198503", id_number=mistype(number))
    assert insured.id_number is None and insured.id_number_invalid is not None
    decision = decide(insured, [one("p-chen", registered)])
    assert (decision.outcome, decision.profile_id) == ("link", "p-chen")
    assert decision.score is not None and decision.score.field("id_number").level == "one_edit"


def test_a_traditional_spelling_links_to_the_simplified_one() -> None:
    registered = resident("public_security", name="张伟明", sex="男", birth_date="1970-01-02", phones="13811112222")
    ledger = resident("civil_affairs", name="張偉明", sex="男", birth_date="1970-01-02", phones="13811112222")
    assert decide(ledger, [one("p-1", registered)]).outcome == "link"


def test_a_homophone_given_name_with_the_same_birth_and_phone_is_linked_or_reviewed() -> None:
    registered = resident("public_security", name="王玮", sex="男", birth_date="1990-06-06", phones="13822223333")
    visit = resident("community", name="王伟", birth_date="1990-06-06", phones="13822223333")
    decision = decide(visit, [one("p-wang", registered)])
    assert decision.outcome in ("link", "review") and decision.profile_id == "p-wang"


def test_a_latin_name_in_comma_form_links_through_the_same_passport() -> None:
    police = resident("public_security", name="SMITH, John", id_kind="护照", id_number="E12345678", birth_date="1980-01-01")
    housing = resident("housing", name="John Smith", passport="E12345678", property_address="12-3-2-301")
    decision = decide(housing, [one("p-smith", police)])
    assert (decision.outcome, decision.profile_id) == ("link", "p-smith")


def test_two_different_valid_id_numbers_never_link_whatever_else_agrees() -> None:
    first = resident("public_security", name="赵敏", sex="女", birth_date="1990-01-01",
                     id_number=make_id("19900101", "002"), **HOME)  # fmt: skip
    second = resident("social_security", name="赵敏", sex="女", birth_date="1990-01-01",
                      id_number=make_id("19900101", "004"), **HOME)  # fmt: skip
    decision = decide(second, [one("p-zhao", first)])
    assert decision.outcome == "new" and decision.profile_id is None


def test_a_different_valid_id_on_any_record_of_a_profile_vetoes_it() -> None:
    number = make_id("19900101", "002")
    no_id = resident("community", name="赵敏", sex="女", birth_date="1990-01-01", **HOME)
    other_id = resident("public_security", name="赵敏", sex="女", birth_date="1990-01-01",
                        id_number=make_id("19900101", "004"))  # fmt: skip
    new = resident("social_security", name="赵敏", sex="女", birth_date="1990-01-01", id_number=number, **HOME)
    assert decide(new, [one("p-zhao", no_id, other_id)]).outcome == "new"


def test_the_same_valid_id_number_links_by_rule_even_with_another_name() -> None:
    number = make_id("19900101", "002")
    registered = resident("public_security", name="赵敏", id_number=number)
    renamed = resident("civil_affairs", name="赵雅琪", id_number=number)
    decision = decide(renamed, [one("p-zhao", registered)])
    assert (decision.outcome, decision.reason) == ("link", "the same valid ID number")


def bridged_profiles() -> tuple[ResidentRecord, ResidentRecord, ResidentRecord]:
    """Two profiles of one resident that only a third record can join.

    The community visit knew the phone, the police record the ID number; alone, name and
    birth date are too little to link (namesakes born the same day exist). The insurance
    record carries the ID number and the phone: it links to both.
    """
    number = make_id("19751120", "031")
    visit = resident("community", name="周国平", sex="男", birth_date="1975-11-20", phones="13855556666")
    police = resident("public_security", name="周国平", sex="男", birth_date="1975-11-20", id_number=number)
    insured = resident("social_security", name="周国平", sex="男", birth_date="197511", id_number=number,
                       phones="13855556666")  # fmt: skip
    return visit, police, insured


def test_late_evidence_bridging_two_profiles_merges_them_into_the_older() -> None:
    visit, police, insured = bridged_profiles()
    assert decide(police, [one("p-visit", visit)]).outcome != "link"
    decision = decide(insured, [
        one("p-police", police, created_at=datetime(2025, 3, 1)),
        one("p-visit", visit, created_at=datetime(2024, 9, 1)),
    ])  # fmt: skip
    assert decision.outcome == "merge"
    assert (decision.profile_id, decision.profile_ids_to_merge) == ("p-visit", ("p-police",))


def test_without_creation_times_the_first_candidate_given_survives_a_merge() -> None:
    visit, police, insured = bridged_profiles()
    decision = decide(insured, [one("p-police", police), one("p-visit", visit)])
    assert (decision.outcome, decision.profile_id, decision.profile_ids_to_merge) == ("merge", "p-police", ("p-visit",))


def test_profiles_with_two_different_valid_id_numbers_are_never_merged() -> None:
    first = resident("public_security", name="周国平", sex="男", birth_date="1975-11-20",
                     id_number=make_id("19751120", "031"))  # fmt: skip
    second = resident("public_security", name="周国平", sex="男", birth_date="1975-11-20",
                      id_number=make_id("19751120", "033"))  # fmt: skip
    visit = resident("community", name="周国平", sex="男", birth_date="1975-11-20", **HOME)
    decision = decide(visit, [one("p-1", first), one("p-2", second)])
    assert decision.outcome != "merge"
    assert decision.profile_ids_to_merge == ()


def test_no_candidates_make_a_new_profile() -> None:
    decision = decide(resident(name="王芳"), [])
    assert (decision.outcome, decision.profile_id, decision.candidates) == ("new", None, ())


def test_a_decision_serialises_without_any_raw_id_number() -> None:
    number = make_id("19850307", "002")
    typo = mistype(number)
    registered = resident("public_security", name="陈静", sex="女", birth_date="1985-03-07", id_number=number)
    insured = resident("social_security", name="陈静", sex="女", birth_date="198503", id_number=typo)
    decision = decide(insured, [one("p-chen", registered)])
    text = decision.model_dump_json()
    assert number not in text and typo not in text
    assert Decision.model_validate_json(text) == decision
