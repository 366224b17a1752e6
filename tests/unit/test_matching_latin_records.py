"""Records in Latin letters (FEBRL-like: foreign residents, other registers): names with typos and
swapped fields, one part of a name left empty, addresses compared as text, other documents one
keystroke apart; and the hard negatives that must stay apart (twins and spouses sharing a home,
neighbours, a brother or sister with a similar given name)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest

from core.matching import Candidate, Matcher, decide, default_parameters, estimate_parameters
from core.matching.blocking import blocking_keys
from core.matching.features import match_features
from core.matching.settings import default_settings
from schemas.resident import ResidentRecord
from tests.unit.test_matching_comparisons import level, name_level, residence_level
from tests.unit.test_matching_estimate_sparse_data import SYLLABLES, latin_people
from tests.unit.test_matching_features import resident

AT = datetime(2025, 6, 1, tzinfo=UTC)
HOME = {"address": "27 markell place frenchs forest 6728 qld"}


def one(profile_id: str, *records: ResidentRecord) -> Candidate:
    return Candidate(profile_id, list(records), None)


# Names -----------------------------------------------------------------------------------------


def test_a_typo_in_a_name_whose_fields_were_swapped_agrees_word_by_word() -> None:
    # As one string "neumann amner" and "amber neumann" are far apart (Jaro-Winkler 0.86).
    assert name_level("Neumann Amner", "Amber Neumann") == "latin_words_typo"


def test_word_by_word_a_brother_or_sister_with_a_similar_given_name_is_not_a_typo() -> None:
    # Jaro-Winkler of john/joan is 0.87, below the 0.88 a word needs (splink's NameComparison levels).
    assert name_level("Smith Joan Paul", "John Smith Paul") != "latin_words_typo"


def test_a_name_with_its_given_name_left_empty_agrees_with_the_full_name() -> None:
    assert name_level("Fimeri", "Dale Fimeri") == "one_word_missing"
    assert name_level("Dale", "Dale Fimerri") == "one_word_missing"
    assert name_level("Fimeri", "Dale Thrussell") == "different"


def test_hyphens_and_spaces_in_latin_names_do_not_split_one_name() -> None:
    assert name_level("Mary Smith-Jones", "Mary Smith Jones") == "exact"
    assert name_level("Mary Smith-Jones", "Mary Smithjones") == "same_pinyin"


def test_han_names_never_take_the_latin_levels() -> None:
    assert name_level("王", "王芳") not in ("one_word_missing", "latin_words_typo")


# Addresses written in Latin letters ---------------------------------------------------------------


def test_a_latin_address_spelt_slightly_otherwise_is_a_similar_address() -> None:
    assert residence_level({"address": "7 calder crescent pitt town 3810 nsw"},
                           {"address": "7 calder cre scent pitt town 3810 nsw"}) == "similar_address"
    # A part left out on one side (the suburb) and a letter typo: partly alike.
    assert residence_level({"address": "5 beaumont close tyrone hills coonabarabran 4020 nsw"},
                           {"address": "5 beaumont c lose coonabavrabran 4020 nsw"}) == "address_partly_alike"


def test_neighbours_on_one_street_do_not_share_an_address() -> None:
    # Their own level (a door number mistyped looks the same): weighed by what EM estimates,
    # never a shared home, so it neither defines the household stratum nor triggers the hold.
    assert residence_level({"address": "12 calder crescent pitt town 3810 nsw"},
                           {"address": "14 calder crescent pitt town 3810 nsw"}) == "same_street_other_door"
    settings = default_settings()
    assert "same_street_other_door" not in settings.conditioning.household.levels
    hold = settings.rules.at_most_review[0]
    assert all("same_street_other_door" not in condition.levels for condition in hold.when)


def test_a_postcode_is_not_a_door_number_when_the_door_number_is_left_out() -> None:
    # "balfour crescent … 2064 vic" has no door number: its first number is the postcode.
    assert residence_level({"address": "24 balfour crescent killara lodge cranbourne 2064 vic"},
                           {"address": "balfour rcescent killaravlodge cranbourne 2064 vic"}) == "similar_address"


def test_a_latin_address_with_parts_left_out_and_typos_agrees_word_by_word() -> None:
    assert residence_level({"address": "51 hurley street kempsdy 5612 vic"},
                           {"address": "51 hurley street lakes retirement estate kempsey 5162 vic"}) == "parts_missing"
    # Word by word, but never two door numbers and never a word of the shorter missing.
    assert residence_level({"address": "51 hurley street kempsey 5162 vic"},
                           {"address": "53 hurley street lakes retirement estate kempsey 5162 vic"}) != "parts_missing"
    assert residence_level({"address": "51 hurley street kempsey 5162 vic"},
                           {"address": "51 ocean road lakes retirement estate kempsey 5162 vic"}) != "parts_missing"


def test_latin_addresses_whose_numbers_agree_but_words_do_not_have_their_own_level() -> None:
    assert residence_level({"address": "62 matina street newocmb 4107 wa"},
                           {"address": "62 matina street sun city resort ascot park 4107 wa"}) == "same_numbers"
    # A door number alone is no such evidence.
    assert residence_level({"address": "62 matina street"}, {"address": "62 ocean road"}) == "nothing_shared"


def test_latin_addresses_get_no_flat_keys_from_the_chinese_address_reader() -> None:
    features = match_features(resident(name="Dale Fimeri", address="37 burdett crescent star court arcade wilson 6618"))
    assert not (features.residence.dwellings or features.residence.flats or features.residence.places)
    assert features.residence.latin_addresses == frozenset({"37 burdett crescent star court arcade wilson 6618"})


def test_chinese_addresses_are_never_compared_as_text() -> None:
    assert residence_level({"property_address": "12-3-2-301"}, {"property_address": "12-3-2-302"}) != "similar_address"
    assert residence_level({"address": "中山路12号阳光花园3幢2单元301室"},
                           {"address": "中山路12号阳光花园3幢2单元302室"}) != "similar_address"
    assert match_features(resident(name="王芳", address="中山路12号阳光花园3幢2单元301室")).residence.latin_addresses \
        == frozenset()


# Other identity documents with edit distance ---------------------------------------------------------


def test_a_passport_number_one_keystroke_away_is_its_own_level() -> None:
    a = resident(name="Amy Miteff", passport="2583901")
    assert level(a, resident(name="Amy Miteff", passport="2583902"), "other_ids") == "one_edit"
    assert level(a, resident(name="Amy Miteff", passport="2538901"), "other_ids") == "one_edit"  # a swap
    assert level(a, resident(name="Amy Miteff", passport="2538911"), "other_ids") == "two_edits"  # and a digit
    assert level(a, resident(name="Amy Miteff", passport="9191751"), "other_ids") == "different"


def test_a_passport_number_one_keystroke_away_makes_a_candidate_pair_without_showing_the_number() -> None:
    # Nothing else brings these two together: other names, no birth date, no address.
    a = resident(name="Jacobie Tilleq", passport="4137877")
    b = resident(name="Blake Moody", passport="4137787")
    shared = blocking_keys(a) & blocking_keys(b)
    assert {key.partition(":")[0] for key in shared} == {"other_id_one_edit"}
    assert not any("4137" in key for key in blocking_keys(a))
    assert not blocking_keys(a) & blocking_keys(resident(name="Blake Moody", passport="9191751"))


def test_one_word_of_a_latin_name_makes_a_candidate_pair() -> None:
    # The given name replaced and the birth date mistyped: only the surname still meets.
    a = resident(name="Laurex Frahn", birth_date="1981-07-01")
    b = resident(name="Lauren Frahn", birth_date="1918-07-01")
    assert "latin_name_word:frahn" in blocking_keys(a) & blocking_keys(b)
    assert not any(key.startswith("latin_name_word:") for key in blocking_keys(resident(name="王芳")))


# The hold on disagreeing names --------------------------------------------------------------------------


def test_latin_twins_sharing_a_home_are_never_linked_unseen() -> None:
    twin_a = resident("housing", name="John Smith", sex="male", birth_date="2010-04-17", **HOME)
    twin_b = resident("community", name="Mary Smith", sex="female", birth_date="2010-04-17", **HOME)
    decision = decide(twin_b, [one("p-a", twin_a)])
    assert decision.outcome in ("new", "review")
    assert decision.candidates[0].note is not None and "names disagree" in decision.candidates[0].note


def test_disagreeing_names_outside_a_shared_home_are_weighed_not_held() -> None:
    # Not sharing a home, a name disagreement is evidence like any other (FEBRL replaces given
    # names): the hold is for twins, spouses and relatives living together.
    matcher = Matcher(default_parameters())
    a = match_features(resident(name="Sophie Lovelock", birth_date="1947-04-13", address="7 calder crescent pitt town"))
    b = match_features(resident(name="Tiarna Lovelock", birth_date="1947-04-13", address="9 centaurus street figtree"))
    _, vector = matcher.pair_weight(a, b)
    assert matcher.cap_reason(vector) is None
    same_home = match_features(resident(name="Tiarna Lovelock", birth_date="1947-04-13",
                                        address="7 calder crescent pitt town"))
    _, vector = matcher.pair_weight(a, same_home)
    assert matcher.cap_reason(vector) is not None


def test_a_document_one_keystroke_away_lifts_the_hold_on_disagreeing_names() -> None:
    matcher = Matcher(default_parameters())
    a = match_features(resident(name="Sophie Lovelock", passport="1321061", **HOME))
    b = match_features(resident(name="Tiarna Loveolck", passport="1321051", **HOME))
    _, vector = matcher.pair_weight(a, b)
    assert matcher.cap_reason(vector) is None


# Estimating strata without known non-matches -----------------------------------------------------------


@pytest.fixture(scope="module")
def febrl_like() -> list[ResidentRecord]:
    return latin_people(300, seed=13)  # every duplicate shares its birth date; no ID numbers at all


def test_a_stratum_with_no_known_non_match_keeps_the_strangers_u(febrl_like: list[ResidentRecord]) -> None:
    # Nearly every pair born the same day here is one resident twice. With no known non-match
    # among them EM could call them strangers who agree on everything, so u stays the strangers'.
    name = estimate_parameters(febrl_like, version="latin", trained_at=AT, seed=1).comparison("name")
    exact = name.levels[0]
    assert exact.u_born_same_day == pytest.approx(exact.u, rel=0.05)


def test_duplicates_born_the_same_day_link_when_the_data_has_no_id_numbers(
        febrl_like: list[ResidentRecord]) -> None:
    matcher = Matcher(estimate_parameters(febrl_like, version="latin", trained_at=AT, seed=1))
    by_id = {r.record_id: r for r in febrl_like}
    pairs = [(by_id[k], by_id[k[:-1] + "b"]) for k in by_id if k.endswith("-a") and k[:-1] + "b" in by_id]
    exact = [(a, b) for a, b in pairs if a.name == b.name]
    assert exact
    for a, b in exact:
        weight, _ = matcher.pair_weight(match_features(a), match_features(b))
        assert weight >= matcher.threshold_weight("link"), (a.name, b.name)


def test_two_strangers_with_one_common_latin_name_and_birth_year_stay_apart() -> None:
    born = date(1970, 1, 1)
    people = latin_people(300, seed=5)
    matcher = Matcher(estimate_parameters(people, version="latin", trained_at=AT, seed=1))
    a = match_features(resident(name="John Smith", birth_date=born.isoformat(), address="1 a street x 2000"))
    b = match_features(resident(name="John Smith", birth_date="1970-06-30", address="88 other road y 3000"))
    weight, _ = matcher.pair_weight(a, b)
    assert weight < matcher.threshold_weight("link")


def test_u_among_strangers_discounts_the_residents_met_twice_among_random_pairs() -> None:
    # 150 residents with three records each, every address its own: one random pair in 150 is a
    # resident met twice, and only those share an address. Counted as strangers they would make
    # the same address look a thousand times commoner among strangers than it is.
    rng = random.Random(3)
    records = []
    for i in range(150):
        name = f"{rng.choice(SYLLABLES)}{rng.choice(SYLLABLES)} {rng.choice(SYLLABLES)}{rng.choice(SYLLABLES)}"
        address = f"{i + 1} {rng.choice(SYLLABLES)}{rng.choice(SYLLABLES)} street {1000 + i} vic"
        born = date(1930 + rng.randrange(70), 1 + rng.randrange(12), 1 + rng.randrange(28)).isoformat()
        records += [resident(name=name, birth_date=born, address=address) for _ in range(3)]
    pairs = len(records) * (len(records) - 1) / 2
    share_of_random_pairs = 150 * 3 / pairs
    parameters = estimate_parameters(records, version="febrl-like", trained_at=AT, seed=1)
    same_address = next(lv for lv in parameters.comparison("residence").levels if lv.label == "same_address")
    assert same_address.u < share_of_random_pairs / 20
    assert same_address.m > 0.9
