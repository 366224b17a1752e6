"""Names (姓名): Han and Latin standardisation, pinyin and homophone keys."""

from __future__ import annotations

from core.standardise import (
    detect_script,
    homophone_key,
    latin_key,
    name_pinyin,
    sorted_token_key,
    split_surname,
    standardise_name,
)


def test_traditional_name_is_simplified() -> None:
    assert standardise_name("陳志瑋").name == "陈志玮"


def test_name_is_trimmed_and_full_width_folded() -> None:
    # Full-width Latin letters, as typed with a Chinese IME in full-width mode.
    assert standardise_name("  ＪＯＨＮ　ＳＭＩＴＨ ").name == "JOHN SMITH"


def test_stray_space_between_han_characters_is_removed() -> None:
    # Housing records owner names padded to align columns.
    assert standardise_name("张 伟").name == "张伟"
    assert standardise_name("欧阳  娜 娜").name == "欧阳娜娜"


def test_middle_dot_variants_become_one_middle_dot() -> None:
    for dot in ("·", "•", "・", "．", "‧", ".", "･"):
        assert standardise_name(f"阿不都{dot}热合曼").name == "阿不都·热合曼", dot


def test_spaces_around_the_middle_dot_are_removed() -> None:
    assert standardise_name("阿不都 · 热合曼").name == "阿不都·热合曼"


def test_qian_in_a_name_is_not_turned_into_gan() -> None:
    # OpenCC t2s maps a lone 乾 to 干, but 乾 is a simplified name character of its own.
    assert standardise_name("張乾").name == "张乾"


def test_yu_surname_with_its_own_character_is_kept() -> None:
    # 於 is a surname distinct from 于.
    assert standardise_name("於梅").name == "於梅"


def test_script_is_detected() -> None:
    assert detect_script("张伟") == "han"
    assert detect_script("José Müller") == "latin"
    assert detect_script("张Wei") == "mixed"
    assert detect_script("  ") == "empty"
    assert standardise_name("").script == "empty"
    assert standardise_name(None).name is None


def test_comma_form_latin_name_is_turned_around() -> None:
    record = standardise_name("SMITH, John")
    assert record.name == "John SMITH"
    assert record.pinyin == "john smith"


def test_latin_key_strips_accents_and_case() -> None:
    assert latin_key("José  MÜLLER") == "jose muller"


def test_sorted_token_key_meets_names_in_either_order() -> None:
    assert sorted_token_key("Smith John") == sorted_token_key("JOHN SMITH") == "john smith"
    assert standardise_name("Kim Min-jun").sorted_key == standardise_name("Min-jun KIM").sorted_key


def test_pinyin_of_an_ordinary_name() -> None:
    assert name_pinyin("张伟") == "zhang wei"


def test_surname_readings_override_pypinyin() -> None:
    # pypinyin alone reads these ceng, dan, qu, chou, jie, cha, pu, gai, le, tan.
    cases = {
        "曾国藩": "zeng", "单田芳": "shan", "区志坚": "ou", "仇英": "qiu", "解缙": "xie",
        "查良镛": "zha", "朴树": "piao", "盖聂": "ge", "乐嘉": "yue", "覃志刚": "qin",
    }
    for name, surname in cases.items():
        assert name_pinyin(name).split()[0] == surname, name


def test_compound_surnames_are_recognised() -> None:
    assert split_surname("欧阳修") == ("欧阳", "修")
    assert split_surname("司马光") == ("司马", "光")
    assert split_surname("诸葛亮") == ("诸葛", "亮")
    assert split_surname("上官婉儿") == ("上官", "婉儿")
    assert split_surname("张伟") == ("张", "伟")


def test_compound_surname_readings() -> None:
    assert name_pinyin("尉迟恭") == "yu chi gong"
    assert name_pinyin("万俟卨").startswith("mo qi")
    # Two characters alone are surname + given name: 单 (shan) + 于, not the compound 单于 (chan yu).
    assert name_pinyin("单于") == "shan yu"
    assert name_pinyin("单于丹").startswith("chan yu")


def test_minority_name_pinyin_skips_the_dot() -> None:
    assert name_pinyin("阿不都·热合曼") == "a bu dou re he man"


def test_homophone_given_names_share_a_key() -> None:
    # 伟 / 玮 / 炜 all read wei: likely typing variants of one given name.
    assert homophone_key("张伟") == homophone_key("张玮") == homophone_key("张炜") == "zhangwei"


def test_homophone_key_does_not_merge_different_sounds() -> None:
    assert homophone_key("张伟") != homophone_key("章文")


def test_traditional_and_spaced_name_has_the_same_key() -> None:
    assert standardise_name("張 偉").key == standardise_name("张伟").key


def test_latin_homophone_key_is_the_latin_key_without_spaces() -> None:
    assert homophone_key("Smith, John") == "johnsmith"


def test_raw_name_is_kept() -> None:
    assert standardise_name(" 張 偉 ").raw == " 張 偉 "
