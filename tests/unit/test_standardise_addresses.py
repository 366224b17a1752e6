"""Chinese addresses into Address fields."""

from __future__ import annotations

from core.standardise import parse_address


def parts(raw: str) -> dict[str, object]:
    return parse_address(raw).model_dump(exclude_none=True, exclude={"raw"})


def test_full_address_is_split_into_every_level() -> None:
    assert parts("江苏省南京市鼓楼区宁海路街道北京西路社区北京西路8号阳光花园3栋2单元1502室") == {
        "city": "南京市", "district": "鼓楼区", "subdistrict": "宁海路街道", "community": "北京西路社区",
        "road": "北京西路", "number": "8", "compound": "阳光花园", "building": "3", "unit": "2", "room": "1502",
    }


def test_12_3_2_301_is_number_building_unit_room() -> None:
    assert parts("12-3-2-301") == {"number": "12", "building": "3", "unit": "2", "room": "301"}


def test_3_2_301_after_a_compound_is_building_unit_room() -> None:
    assert parts("阳光花园3-2-301") == {"compound": "阳光花园", "building": "3", "unit": "2", "room": "301"}


def test_short_form_after_a_road_keeps_the_road() -> None:
    assert parts("中山路12-3-2-301")["road"] == "中山路"


def test_dong_and_zhuang_mean_the_same_building() -> None:
    # 栋 and 幢 are both "building"; 室 on the room is optional.
    assert parts("3栋2单元301") == parts("3幢2单元301室") == {"building": "3", "unit": "2", "room": "301"}


def test_hao_lou_is_a_building_not_a_house_number() -> None:
    assert parts("建国路88号院3号楼1单元1001") == {
        "road": "建国路", "number": "88", "building": "3", "unit": "1", "room": "1001"
    }


def test_chinese_numerals_for_building_and_unit() -> None:
    assert parts("幸福小区十二栋三单元502") == {"compound": "幸福小区", "building": "12", "unit": "3", "room": "502"}


def test_full_width_digits_are_read() -> None:
    assert parts("中山路１２号３栋２单元３０１") == {
        "road": "中山路", "number": "12", "building": "3", "unit": "2", "room": "301"
    }


def test_missing_city_and_district_is_fine() -> None:
    assert parts("湖南路街道中山路5号") == {"subdistrict": "湖南路街道", "road": "中山路", "number": "5"}


def test_municipality_without_shi_is_a_city() -> None:
    assert parts("北京朝阳区")["city"] == "北京市"


def test_county_level_city_under_a_city_is_the_district() -> None:
    assert parts("苏州市昆山市玉山镇") == {"city": "苏州市", "district": "昆山市", "subdistrict": "玉山镇"}


def test_new_village_is_a_compound_not_a_village() -> None:
    # 工人新村 is a housing estate; a name ending in 村 is a compound or a road in a city
    # district, and a village committee (community level) only when 村委会/村民委员会 is written.
    assert parts("工人新村12栋3单元101")["compound"] == "工人新村"
    assert parts("朝阳区和平村") == {"district": "朝阳区", "compound": "和平村"}
    assert parts("朝阳区和平村村委会")["community"] == "和平村"


def test_xiaoqu_is_not_taken_for_a_district() -> None:
    assert "district" not in parts("幸福小区3栋")


def test_committee_suffixes_are_shortened() -> None:
    assert parts("鼓楼区华侨路街道办事处莲花社区居委会")["subdistrict"] == "华侨路街道"
    assert parts("鼓楼区华侨路街道办事处莲花社区居委会")["community"] == "莲花社区"


def test_traditional_characters_and_spaces_are_normalised() -> None:
    assert parts("南京市 鼓樓區 中山路 5號") == {"city": "南京市", "district": "鼓楼区", "road": "中山路", "number": "5"}


def test_floor_note_is_not_a_room() -> None:
    assert parts("中山路5号3楼301")["room"] == "301"


def test_raw_text_is_kept_and_equal_flats_share_a_dwelling_key() -> None:
    housing = parse_address("阳光花园3-2-301")
    civil = parse_address("阳光花园三幢2单元301室")
    assert housing.raw == "阳光花园3-2-301"
    assert housing.dwelling_key == civil.dwelling_key is not None
