"""The Fellegi–Sunter score of a pair: weights per field, strata, and what a steward may see."""

from __future__ import annotations

import math

import pytest

from core.matching import Matcher, MatchModelParameters, default_parameters, match_features, score
from core.matching.model import TermFrequencies, probability_of
from tests.unit.test_matching_features import make_id, mistype, resident


def test_a_score_is_the_prior_plus_each_fields_weight() -> None:
    a = resident(name="王芳", sex="女", birth_date="1985-03-07", phones="13800138000")
    b = resident(name="王芳", sex="女", birth_date="1985-03-07", phones="13800138000")
    result = score(a, b)
    assert result.weight == pytest.approx(result.prior_weight + sum(e.weight for e in result.evidence), abs=1e-3)
    assert result.probability == pytest.approx(probability_of(result.weight))
    assert all(e.bayes_factor == pytest.approx(2 ** e.weight) for e in result.evidence)


def test_each_field_shows_its_level_and_weight_for_a_steward() -> None:
    a = resident(name="张伟", birth_date="1985-03-07")
    b = resident(name="張偉", birth_date="1985-03-08")
    evidence = {e.field: e for e in score(a, b).evidence}
    assert (evidence["name"].level, evidence["name"].left, evidence["name"].right) == ("exact", "张伟", "张伟")
    assert evidence["birth_date"].level == "typo" and evidence["birth_date"].right == "1985-03-08"
    assert evidence["id_number"].level == "null" and evidence["id_number"].weight == 0
    assert evidence["name"].weight > 0 > score(a, resident(name="李强", birth_date="1985-03-07")).field("name").weight


def test_evidence_never_contains_a_raw_id_number() -> None:
    number = make_id("19850307", "002")
    typo = mistype(number)
    result = score(resident(name="王芳", id_number=number), resident(name="王芳", id_number=typo))
    text = result.model_dump_json()
    assert number not in text and typo not in text
    assert result.field("id_number").left == number[:6] + "********" + number[-4:]
    assert result.field("id_number").right == typo[:6] + "********" + typo[-4:] + " (invalid)"


def test_agreements_between_household_members_are_weighed_against_household_members() -> None:
    home = {"address": "中山路12号阳光花园3幢2单元301室", "phones": "025-84561234"}
    twin_a = resident(name="李晓明", birth_date="2010-04-17", **home)
    twin_b = resident(name="李晓华", birth_date="2010-04-17", **home)
    stranger = resident(name="李晓华", birth_date="2010-04-17")
    at_home, apart = score(twin_a, twin_b), score(twin_a, stranger)
    assert at_home.stratum == "household_member_born_same_day"
    assert at_home.field("birth_date").baseline == "household_member"
    assert at_home.field("residence").baseline == "any_resident"
    # The same birth date says less between members of one household than between strangers.
    assert at_home.field("birth_date").weight < apart.field("birth_date").weight


def test_a_rare_exact_name_weighs_more_than_a_common_one() -> None:
    frequencies = TermFrequencies(comparison="name", level="exact", total_records=10_000, min_count=2,
                                  counts={"张伟": 40, "王芳": 30})  # fmt: skip
    parameters = default_parameters().model_copy(update={"term_frequencies": frequencies})
    matcher = Matcher(parameters)
    common = matcher.score(resident(name="张伟"), resident(name="张伟")).field("name").weight
    rare = matcher.score(resident(name="欧阳修"), resident(name="欧阳修")).field("name").weight
    assert rare - common == pytest.approx(math.log2(40 / 2))


def test_profile_weight_of_a_single_record_is_the_pair_weight() -> None:
    matcher = Matcher()
    a = match_features(resident(name="王芳", birth_date="1985-03-07", phones="13800138000"))
    b = match_features(resident(name="王芳", birth_date="198503", address="阳光花园3幢2单元301室"))
    weight, vector = matcher.pair_weight(a, b)
    assert matcher.profile_weight(a, [b])[:2] == (weight, vector)


def test_a_profile_pools_the_phone_of_one_record_and_the_flat_of_another() -> None:
    matcher = Matcher()
    new = match_features(resident(name="王芳", phones="13800138000", address="阳光花园3幢2单元301室"))
    by_phone = match_features(resident(name="王芳", phones="13800138000"))
    by_flat = match_features(resident(name="王芳", address="阳光花园3幢2单元301室"))
    pooled, vector, _ = matcher.profile_weight(new, [by_phone, by_flat])
    assert matcher.comparisons.comparisons[matcher.comparisons.context_index].level_label(
        vector[matcher.comparisons.context_index]
    ) == "home_and_phone"
    assert pooled > max(matcher.pair_weight(new, by_phone)[0], matcher.pair_weight(new, by_flat)[0])


def test_parameters_round_trip_through_json() -> None:
    parameters = default_parameters()
    assert MatchModelParameters.from_json(parameters.to_json()) == parameters


def test_parameters_for_other_levels_are_refused() -> None:
    parameters = default_parameters()
    name = parameters.comparisons[0]
    broken = parameters.model_copy(update={"comparisons": (name.model_copy(update={"levels": name.levels[:-1]}),
                                                           *parameters.comparisons[1:])})  # fmt: skip
    with pytest.raises(ValueError, match="do not fit"):
        Matcher(broken)
