"""Comparison vectors: each field's level for a pair of records, as the settings describe them."""

from __future__ import annotations

from core.matching import NULL, comparison_vector, default_settings
from schemas.resident import ResidentRecord
from tests.unit.test_matching_features import make_id, mistype, resident

SETTINGS = default_settings()


def level(a: ResidentRecord, b: ResidentRecord, comparison: str) -> str:
    names = [c.name for c in SETTINGS.comparisons]
    index = names.index(comparison)
    value = comparison_vector(a, b)[index]
    return "null" if value == NULL else SETTINGS.comparisons[index].labels[value]


def name_level(x: str, y: str) -> str:
    return level(resident(name=x), resident(name=y), "name")


def test_names_written_in_traditional_and_simplified_characters_are_exact() -> None:
    assert name_level("張 偉明", "张伟明") == "exact"


def test_homophone_given_names_and_pinyin_spellings_are_the_same_pinyin() -> None:
    assert name_level("王伟", "王玮") == "same_pinyin"
    assert name_level("张伟", "Zhang Wei") == "same_pinyin"


def test_latin_names_match_exactly_in_any_word_order() -> None:
    # Police write "SMITH JOHN" (surname first, no comma), housing "John Smith".
    assert name_level("SMITH, John", "John Smith") == "exact"
    assert name_level("SMITH JOHN", "John Smith") == "exact"


def test_han_syllables_in_another_order_are_reordered() -> None:
    assert name_level("张伟", "Wei Zhang") == "reordered"


def test_latin_typos_and_missing_middle_names_have_their_own_levels() -> None:
    assert name_level("Jonh Smith", "John Smith") == "latin_typo"
    assert name_level("John Paul Smith", "John Smith") == "token_subset"


def test_han_slips_are_told_apart_from_other_names() -> None:
    assert name_level("王晓明", "王晓华") == "one_character_differs"  # a slip of the pen
    assert name_level("王晓明", "王晓鸣") == "same_pinyin"  # 明/鸣 sound alike
    assert name_level("赵亮", "赵亮阳") == "similar_pinyin"  # a character dropped
    assert name_level("王芳", "玉芳") == "same_given_name"  # 王/玉
    assert name_level("李晓明", "李建国") == "same_surname"
    assert name_level("李晓明", "陈静") == "different"


def test_a_two_character_name_with_another_given_name_is_only_the_same_surname() -> None:
    # 张伟 and 张强 are two people, not a one-character slip.
    assert name_level("张伟", "张强") == "same_surname"


def test_a_missing_name_is_null_and_carries_no_evidence() -> None:
    number = make_id("19850307", "002")
    assert level(resident(id_number=number), resident(name="王芳"), "name") == "null"


def birth_level(x: str, y: str) -> str:
    return level(resident(name="王芳", birth_date=x), resident(name="王芳", birth_date=y), "birth_date")


def test_birth_dates_exact_typo_swapped_month_only_or_different() -> None:
    assert birth_level("1985-03-07", "19850307") == "exact"
    assert birth_level("1985-03-07", "1985-03-08") == "typo"
    assert birth_level("1985-03-07", "1985-07-03") == "typo"  # day and month swapped
    assert birth_level("1985-03-07", "1958-03-07") == "typo"  # neighbouring digits swapped
    assert birth_level("1985-03-07", "1975-04-07") == "different"
    assert birth_level("1985-03-07", "198503") == "month_only_agrees"
    assert birth_level("1985-03-07", "1986-11-20") == "different"


def id_level(x: str, y: str) -> str:
    return level(resident(name="王芳", id_number=x), resident(name="王芳", id_number=y), "id_number")


def test_an_invalid_id_number_one_keystroke_from_a_valid_one_is_a_typo() -> None:
    number = make_id("19850307", "002")
    assert id_level(number, number) == "same_valid"
    assert id_level(number, mistype(number)) == "one_edit"
    swapped = number[:8] + number[9] + number[8] + number[10:]  # 1985 → 1958: neighbours swapped
    assert id_level(number, swapped) == "one_edit"
    assert id_level(number, mistype(mistype(number, 3), 12)) == "two_edits"
    assert id_level(number, make_id("19850307", "004")) == "different_valid"


def test_documents_are_compared_within_one_kind() -> None:
    a = resident(name="John Smith", passport="E12345678")
    assert level(a, resident(name="John Smith", passport="E12345678"), "other_ids") == "same"
    assert level(a, resident(name="John Smith", passport="E12345679"), "other_ids") == "one_edit"
    assert level(a, resident(name="John Smith"), "other_ids") == "null"


def residence_level(a: dict[str, str], b: dict[str, str]) -> str:
    return level(resident(name="王芳", **a), resident(name="王芳", **b), "residence")


def test_residence_levels_from_household_flat_and_phone() -> None:
    flat = {"address": "中山路12号阳光花园3幢2单元301室"}
    assert residence_level({**flat, "phones": "13800138000"}, {**flat, "phones": "13800138000"}) == "home_and_phone"
    assert residence_level(flat, {"address": "阳光花园3栋2单元301"}) == "home"
    assert residence_level({"household_id": "H1"}, {"household_id": "H1", "phones": "13800138000"}) == "home"
    assert residence_level({"phones": "13800138000"}, {"phones": "138 0013 8000"}) == "phone"
    assert residence_level(flat, {"property_address": "12-3-2-301"}) == "same_flat"
    assert residence_level(flat, {"address": "3栋2单元301"}) == "flat_only"
    assert residence_level(flat, {"address": "阳光花园5幢1单元101室"}) == "same_place"
    assert residence_level(flat, {"address": "瑞金路8号翠竹园5幢1单元502室"}) == "nothing_shared"
    # A household number on one side and only an address on the other cannot be compared.
    assert residence_level({"household_id": "H1"}, flat) == "null"
