"""Standardisation core (标准化): department values into the hub's canonical forms.

Pure functions over the standard library, pydantic and pure libraries (stdnum, OpenCC,
pypinyin, phonenumbers). The entry point is :func:`standardise`; the parsers it uses are
public too, for connectors, the matcher and the steward tools.
"""

from __future__ import annotations

from core.standardise.addresses import parse_address
from core.standardise.codes import ETHNICITY, MARITAL_STATUS, NATIONALITY, RELATION_TO_HEAD, SEX, CodeTable
from core.standardise.dates import YearMonth, excel_serial_to_date, parse_date, parse_full_date
from core.standardise.errors import (
    CannotStandardise,
    ImplausibleDate,
    InvalidIdNumber,
    StandardiseError,
    UnknownCodeValue,
    UnreadableDate,
)
from core.standardise.id_numbers import (
    IdNumberCheck,
    check_id_number,
    clean_id_number,
    keyed_hash,
    looks_like_foreigner_permit,
    mask_id_number,
    upgrade_legacy_id_number,
    validate_id_number,
)
from core.standardise.names import (
    StandardName,
    detect_script,
    homophone_key,
    latin_key,
    name_pinyin,
    sorted_token_key,
    split_surname,
    standardise_name,
)
from core.standardise.phones import PhoneParse, mask_phone, parse_phone, parse_phones
from core.standardise.record import FieldMapping, standardise
from core.standardise.sex import parse_sex, sex_code, sex_disagreement

__all__ = [
    "CannotStandardise",
    "CodeTable",
    "ETHNICITY",
    "FieldMapping",
    "IdNumberCheck",
    "ImplausibleDate",
    "InvalidIdNumber",
    "MARITAL_STATUS",
    "NATIONALITY",
    "PhoneParse",
    "RELATION_TO_HEAD",
    "SEX",
    "StandardName",
    "StandardiseError",
    "UnknownCodeValue",
    "UnreadableDate",
    "YearMonth",
    "check_id_number",
    "clean_id_number",
    "detect_script",
    "excel_serial_to_date",
    "homophone_key",
    "keyed_hash",
    "latin_key",
    "looks_like_foreigner_permit",
    "mask_id_number",
    "mask_phone",
    "name_pinyin",
    "parse_address",
    "parse_date",
    "parse_full_date",
    "parse_phone",
    "parse_phones",
    "parse_sex",
    "sex_code",
    "sex_disagreement",
    "sorted_token_key",
    "split_surname",
    "standardise",
    "standardise_name",
    "upgrade_legacy_id_number",
    "validate_id_number",
]
