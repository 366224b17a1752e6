"""Estimating m, u and the prior by EM, on a small synthetic district built for the test."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.matching import MatchModelParameters, default_settings, estimate_parameters
from schemas.resident import ResidentRecord
from tests.unit.test_matching_quality import fast_settings, synthetic_district

TRAINED_AT = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def district() -> tuple[list[ResidentRecord], list[int]]:
    records, truth, _people, _noise = synthetic_district(residents=500, seed=3)
    return records, truth


@pytest.fixture(scope="module")
def parameters(district: tuple[list[ResidentRecord], list[int]]) -> MatchModelParameters:
    return estimate_parameters(district[0], version="v-test", trained_at=TRAINED_AT, seed=1, settings=fast_settings())


def level(parameters: MatchModelParameters, comparison: str, label: str) -> tuple[float, float]:
    found = next(lv for lv in parameters.comparison(comparison).levels if lv.label == label)
    return found.m, found.u


def test_em_finds_that_one_resident_has_one_birth_date(parameters: MatchModelParameters) -> None:
    m, u = level(parameters, "birth_date", "exact")
    assert m > 0.9
    assert u < 1e-3  # two strangers share a birth date about once in tens of thousands of pairs


def test_em_finds_names_agree_for_one_resident_and_rarely_for_strangers(parameters: MatchModelParameters) -> None:
    m_exact, u_exact = level(parameters, "name", "exact")
    m_different, u_different = level(parameters, "name", "different")
    assert m_exact > 0.8 and u_exact < 1e-3
    assert m_different < 0.02 and u_different > 0.8


def test_household_members_share_a_surname_far_more_often_than_strangers(parameters: MatchModelParameters) -> None:
    surname = next(lv for lv in parameters.comparison("name").levels if lv.label == "same_surname")
    assert surname.u_household is not None and surname.u_household > 5 * surname.u


def test_the_prior_is_close_to_the_share_of_true_matching_pairs(
    parameters: MatchModelParameters, district: tuple[list[ResidentRecord], list[int]]
) -> None:
    records, truth = district
    true_pairs = sum(truth.count(t) * (truth.count(t) - 1) // 2 for t in set(truth))
    all_pairs = len(records) * (len(records) - 1) / 2
    assert parameters.prior == pytest.approx(true_pairs / all_pairs, rel=0.2)


def test_em_agrees_with_the_free_labels_of_valid_id_numbers(parameters: MatchModelParameters) -> None:
    assert parameters.training is not None
    assert parameters.training.labelled_matches > 0 and parameters.training.labelled_non_matches > 0
    from_labels = parameters.training.m_from_labels["birth_date"]["exact"]
    assert level(parameters, "birth_date", "exact")[0] == pytest.approx(from_labels, abs=0.05)


def test_estimation_is_deterministic_for_a_seed_and_stamps_the_callers_version(
    parameters: MatchModelParameters, district: tuple[list[ResidentRecord], list[int]]
) -> None:
    again = estimate_parameters(district[0], version="v-test", trained_at=TRAINED_AT, seed=1, settings=fast_settings())
    assert again == parameters
    assert (parameters.version, parameters.trained_at, parameters.settings_version) == (
        "v-test", TRAINED_AT, default_settings().version
    )
    assert parameters.training is not None and parameters.training.converged


def test_trained_parameters_round_trip_through_json(parameters: MatchModelParameters) -> None:
    assert MatchModelParameters.from_json(parameters.to_json()) == parameters


def test_trained_parameters_carry_no_id_number(
    parameters: MatchModelParameters, district: tuple[list[ResidentRecord], list[int]]
) -> None:
    text = parameters.to_json()
    numbers = {r.id_number for r in district[0] if r.id_number} | {r.id_number_invalid for r in district[0] if r.id_number_invalid}
    assert not any(number in text for number in numbers)


def test_too_few_records_are_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        estimate_parameters([], version="v")
