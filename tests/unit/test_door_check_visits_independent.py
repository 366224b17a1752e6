"""Nobody at home is drawn afresh for each visit of the simulated door checks (入户核实): a household
out on the first round is found on a later one as often as any other, and another district seed
finds other households out."""

from __future__ import annotations

import pytest

from simulators.district import NoiseConfig, Resident, door_check_round, generate_district

N = 1500
SEED = 41


@pytest.fixture(scope="module")
def residents() -> list[Resident]:
    return list(generate_district(N, seed=SEED))


def _out(residents: list[Resident], seed: int, round_number: int) -> set[str]:
    """The households of present residents that did not answer a round asked of every present resident."""
    present = [r for r in residents if r.present]
    answered = {a.resident_id for a in door_check_round(residents, {r.resident_id for r in present}, seed,
                                                         round_number=round_number)}
    return {r.household_id for r in present if r.resident_id not in answered}


def test_a_household_out_on_the_first_round_is_usually_in_on_the_second(residents: list[Resident]) -> None:
    first, second = _out(residents, SEED, 1), _out(residents, SEED, 2)
    assert first and second
    missed = 1 - NoiseConfig().cm_household_coverage
    # independent visits: the share of the first round's absentees out again is the rate itself,
    # not 1 (the same households failing forever); 4 standard deviations of slack
    again = len(first & second) / len(first)
    assert abs(again - missed) < 4 * (missed * (1 - missed) / len(first)) ** 0.5 + 0.01


def test_another_seed_finds_other_households_out(residents: list[Resident]) -> None:
    one, other = _out(residents, SEED, 1), _out(residents, SEED + 1, 1)
    assert one != other
    assert _out(residents, SEED, 1) == one  # and one seed and round always finds the same households out
