"""Blocking keys: which records become candidate pairs, without raw ID numbers in any key."""

from __future__ import annotations

from core.matching import Blocker, BlockingIndex, blocking_keys, default_settings
from tests.unit.test_matching_features import make_id, mistype, resident


def test_no_blocking_key_contains_an_id_number_or_a_passport_number() -> None:
    number = make_id("19850307", "002")
    keys = blocking_keys(resident(name="王芳", id_number=number, passport="E12345678", birth_date="1985-03-07"))
    text = " ".join(keys)
    assert number not in text and number[:14] not in text and number[-8:] not in text
    assert "E12345678" not in text and "12345678" not in text


def test_a_typo_in_an_id_number_still_meets_the_valid_number() -> None:
    number = make_id("19850307", "002")
    valid = blocking_keys(resident(name="王芳", id_number=number))
    for typo in (mistype(number, 0), mistype(number, 9), mistype(number, 16), number[:5] + number[6] + number[5] + number[7:]):
        assert valid & blocking_keys(resident(name="王芳", id_number=typo)), typo


def test_keys_differ_under_another_hash_key() -> None:
    record = resident(name="王芳", id_number=make_id("19850307", "002"))
    assert Blocker(id_hash_key="one").keys(record) != Blocker(id_hash_key="two").keys(record)


def test_a_pinyin_spelling_meets_the_han_name_through_name_and_birth_year() -> None:
    han = blocking_keys(resident(name="张伟", birth_date="1985-03-07"))
    latin = blocking_keys(resident(name="Wei ZHANG", birth_date="1985-11-30"))
    assert "pinyin_tokens_birth_year:wei zhang|1985" in han & latin


def test_a_latin_name_is_found_by_its_words_in_any_order() -> None:
    assert blocking_keys(resident(name="SMITH, John")) & blocking_keys(resident(name="Smith John"))


def test_the_index_skips_a_key_shared_by_more_records_than_its_cap() -> None:
    blocker = Blocker()
    index = BlockingIndex(blocker)
    cap = blocker.caps["phone"]
    shared_phone = {"phone:+8613800138000"}
    for i in range(cap):
        index.add(f"r{i}", shared_phone)
    assert len(index.lookup(shared_phone)) == cap
    index.add("one-too-many", shared_phone)
    assert index.lookup(shared_phone) == []  # e.g. a community worker's phone written for every elder
    index.remove("one-too-many", shared_phone)
    assert len(index.lookup(shared_phone)) == cap


def test_every_rule_of_the_settings_has_a_cap() -> None:
    assert set(Blocker().caps) == {rule.name for rule in default_settings().blocking_rules}
