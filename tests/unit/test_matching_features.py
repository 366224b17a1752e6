"""Match features: the keys the matcher derives once per record, and how they stay private.

Also home of ``resident()`` and ``make_id()``, the small record builders the other
``test_matching_*`` modules share: records go through the real standardiser, as in the hub.
"""

from __future__ import annotations

from datetime import date
from itertools import count
from typing import Any

from stdnum.cn import ric

from core.matching import match_features
from core.matching.features import Residence
from core.standardise import FieldMapping, standardise
from schemas.resident import ResidentRecord
from schemas.source_record import SourceRecord

TODAY = date(2025, 6, 1)
_RECORD_IDS = count(1)

# One mapping for every test department: each canonical field read from a column of its name.
_MAPPING = FieldMapping.model_validate(
    {
        "fields": {
            "name": "name", "id_number": "id_number", "id_kind": "id_kind", "sex": "sex", "birth_date": "birth_date",
            "phones": "phones", "household_id": "household_id", "addresses.residential": "address",
            "addresses.registered": "registered_address", "addresses.property": "property_address",
            "other_ids.passport": "passport",
        },
        "default_area_code": "025",
    }
)  # fmt: skip


def resident(source: str = "community", **payload: Any) -> ResidentRecord:
    """A standardised record from a payload whose keys are canonical field names (see ``_MAPPING``)."""
    source_record = SourceRecord.of(
        source=source, record_id=f"{source}-{next(_RECORD_IDS)}", payload=payload, mapping_version="test"
    )
    return standardise(source_record, _MAPPING, today=TODAY)


def make_id(birth: str, sequence: str, division: str = "320104") -> str:
    """A valid citizen ID number: division code, birth date YYYYMMDD, 3-digit sequence (odd = male)."""
    body = division + birth + sequence
    return body + ric.calc_check_digit(body + "0")


def mistype(id_number: str, position: int = 10) -> str:
    """The number with one digit changed: its check digit no longer fits."""
    digit = "1" if id_number[position] != "1" else "2"
    return id_number[:position] + digit + id_number[position + 1 :]


def test_traditional_and_simplified_spellings_share_one_exact_name_key() -> None:
    assert match_features(resident(name="張偉明")).name == match_features(resident(name="张伟明")).name == "张伟明"


def test_a_latin_name_has_one_exact_key_in_any_word_order() -> None:
    comma, written = match_features(resident(name="SMITH, John")), match_features(resident(name="John Smith"))
    assert comma.name == written.name == match_features(resident(name="SMITH JOHN")).name == "john smith"
    assert comma.surname == "smith" and comma.given_name == "john"


def test_pinyin_keys_make_homophones_and_pinyin_spellings_meet() -> None:
    han, homophone, latin = (match_features(resident(name=n)) for n in ("王伟", "王玮", "Wang Wei"))
    assert han.pinyin_key == homophone.pinyin_key == latin.pinyin_key == "wangwei"
    assert match_features(resident(name="Wei Wang")).sorted_tokens == han.sorted_tokens


def test_compound_surnames_are_split_as_one_surname() -> None:
    features = match_features(resident(name="欧阳修"))
    assert (features.surname, features.given_name, features.surname_pinyin) == ("欧阳", "修", "ouyang")


def test_a_short_housing_address_and_the_full_address_share_the_flat() -> None:
    full = match_features(resident(name="王芳", address="南京市秦淮区中山路12号阳光花园3幢2单元301室")).residence
    short = match_features(resident(name="王芳", property_address="12-3-2-301")).residence
    assert full.flats == short.flats == frozenset({"3|2|301"})
    assert full.number_flats == short.number_flats == frozenset({"12|3|2|301"})
    assert "compound:阳光花园|3|2|301" in full.dwellings and "road:中山路12|3|2|301" in full.dwellings


def test_a_profile_residence_pools_its_records_phones_and_flats() -> None:
    a = match_features(resident(name="王芳", phones="13800138000")).residence
    b = match_features(resident(name="王芳", address="阳光花园3幢2单元301室", household_id="H-1")).residence
    pooled = Residence.pool([a, b])
    assert pooled.phones == a.phones and pooled.dwellings == b.dwellings and pooled.households == {"H-1"}


def test_birth_month_alone_gives_a_month_but_no_date() -> None:
    features = match_features(resident(source="social_security", name="王芳", birth_date="198503"))
    assert (features.birth_digits, features.birth_month, features.birth_year) == (None, "198503", "1985")


def test_a_legacy_invalid_id_number_is_compared_in_its_18_digit_form() -> None:
    legacy_typo = "32010485030700"  # 14 digits: not even a legacy number; kept as it is
    assert match_features(resident(name="王芳", id_number=legacy_typo)).id_text == legacy_typo
    legacy = "320104850307001"  # valid legacy numbers are upgraded by the standardiser
    assert match_features(resident(name="王芳", id_number=legacy)).valid_id == make_id("19850307", "001")


def test_features_never_show_a_raw_id_number() -> None:
    number = make_id("19850307", "002")
    features = match_features(resident(name="王芳", id_number=number, phones="13800138000"))
    assert number not in repr(features)
    assert "13800138000" not in repr(features)
    assert features.display("id_number") == number[:6] + "********" + number[-4:]
    assert number not in str(features.shown)


def test_features_are_memoised_by_record_content() -> None:
    record = resident(name="王芳")
    assert match_features(record) is match_features(record)
    assert match_features(record.model_copy(update={"name": "王方"})).name == "王方"


def test_a_flat_is_read_off_the_address_text_even_when_a_road_name_holds_a_compound_word() -> None:
    # 苜蓿园大街 and 瞻园路 end in a compound word (园): the flat must still be the same.
    police = match_features(resident(name="周炜超", registered_address="江苏省南京市秦淮区苜蓿园大街23号金泰家园19幢1单元702室"))
    housing = match_features(resident(name="周炜超", property_address="苜蓿园大街23-19-1-702"))
    visit = match_features(resident(name="周炜超", address="金泰家园19栋1单元702"))
    assert "road:苜蓿园大街23|19|1|702" in police.residence.dwellings & housing.residence.dwellings
    assert "compound:金泰家园|19|1|702" in police.residence.dwellings & visit.residence.dwellings


def test_a_courtyard_house_on_an_unsuffixed_lane_is_one_dwelling() -> None:
    # 张家衙 is a lane without 路/街/巷: the door number alone makes the dwelling.
    full = match_features(resident(name="王虹萍", address="江苏省南京市秦淮区双塘街道船板巷社区张家衙15号"))
    short = match_features(resident(name="王虹萍", property_address="张家衙15号"))
    assert full.residence.dwellings == short.residence.dwellings == frozenset({"road:张家衙15|house"})
