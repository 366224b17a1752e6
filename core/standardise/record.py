"""A department's source record (来源记录) standardised into a canonical resident record.

The department's mapping file (YAML, one per department) becomes a :class:`FieldMapping`:

.. code-block:: yaml

    source: social_security
    fields:                       # canonical field: native column (or a list, first non-blank)
      name: 姓名
      id_number: 公民身份号码
      sex: 性别
      birth_date: 出生年月
      phones: [联系电话, sjhm]    # every listed column is read
      addresses.residential: 现住址
      attributes.insurance: 参保状态
      other_ids.passport: 护照号码
    codes:                        # per canonical field: native value → canonical value
      sex: {"1": male, "2": female}
    default_area_code: "025"      # quote it: YAML reads 025 as an octal number

A field can also be built from several columns:

.. code-block:: yaml

    fields:
      name: {join: [surname, given_name]}         # 张 + 伟 → 张伟; John + SMITH → "John SMITH"
      addresses.residential: {join: [省, 市, 区, 街道, 详细地址]}
      birth_date: {year: 出生年, month: 出生月, day: 出生日}   # day left out: a birth month

``join`` skips blank parts and puts a space only between two parts that meet in Latin letters
or digits (Han text is written without spaces). ``year``/``month``/``day`` is for the date
fields (``birth_date``, ``deceased_on``, ``moved_out_on``, ``changed_on``, ``seen_on``); a missing year leaves the date blank.

A code value that stands for a pair of codes told apart by sex (与户主关系 子女: 子 20 or 女 30
in GB/T 4761) takes the record's sex; when the sex is not known the field stays empty with the
warning ``relation_to_head_group:子女`` (GB/T 4761 has no code for "a child").

The record keeps what the source says. A valid ID number only *fills blanks* (birth date, sex)
and *warns* when it disagrees; it never overwrites the source's own value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.privacy import mask_id_number, redact
from core.standardise._text import as_text, fold_width, has_unsafe, strip_unsafe
from core.standardise.addresses import parse_address
from core.standardise.codes import (
    ETHNICITY,
    MARITAL_STATUS,
    NATIONALITY,
    RELATION_TO_HEAD,
    CodeTable,
    GroupCodeValue,
)
from core.standardise.dates import YearMonth, parse_date, parse_full_date
from core.standardise.errors import CannotStandardise, StandardiseError, UnknownCodeValue
from core.standardise.id_numbers import check_id_number, looks_like_foreigner_permit
from core.standardise.names import detect_script, standardise_name
from core.standardise.phones import parse_phones
from core.standardise.sex import parse_sex
from schemas.resident import Address, AddressKind, IdKind, OtherId, ResidentRecord, Sex
from schemas.source_record import SourceRecord

__all__ = ["CHECKABLE_WARNINGS", "PLAIN_TARGETS", "ComposedField", "FieldMapping", "ID_KIND_NAMES", "first_warning",
           "standardise"]

_SCALAR_FIELDS = frozenset(
    {
        "name", "id_number", "id_kind", "sex", "birth_date", "household_id", "relation_to_head",
        "ethnicity", "marital_status", "nationality", "deceased_on", "moved_out_on", "changed_on",
        "seen_on",
    }
)
_LIST_FIELDS = frozenset({"phones"})
PLAIN_TARGETS = _SCALAR_FIELDS | _LIST_FIELDS  # targets without a ``prefix.`` (the mapping file's JSON Schema)
_ADDRESS_KINDS: dict[str, AddressKind] = {kind: kind for kind in get_args(AddressKind)}
_ID_KINDS: dict[str, IdKind] = {kind: kind for kind in get_args(IdKind)}
_ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_DATE_FIELDS = frozenset({"birth_date", "deceased_on", "moved_out_on", "changed_on", "seen_on"})
_WORD_EDGE = re.compile(r"[A-Za-z0-9]")  # parts meeting in these characters are joined with a space

# Names of identity documents (证件类型) as departments write them → IdKind.
ID_KIND_NAMES: dict[str, IdKind] = {
    "居民身份证": "ric", "身份证": "ric", "二代身份证": "ric", "临时身份证": "ric",
    "港澳台居民居住证": "ric", "港澳居民居住证": "ric", "台湾居民居住证": "ric",
    "护照": "passport", "外国护照": "passport", "普通护照": "passport",
    "港澳居民来往内地通行证": "hk_macao_permit", "回乡证": "hk_macao_permit",
    "台湾居民来往大陆通行证": "taiwan_permit", "台胞证": "taiwan_permit",
    "外国人永久居留身份证": "foreigner_permit", "外国人永久居留证": "foreigner_permit",
    **{kind: kind for kind in get_args(IdKind)},
}


class ComposedField(BaseModel):
    """A canonical field built from several native columns: ``{join: [...]}`` or
    ``{year: ..., month: ..., day: ...}`` (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    join: tuple[str, ...] = ()
    year: str | None = None
    month: str | None = None
    day: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> ComposedField:
        dated = (self.year, self.month, self.day) != (None, None, None)
        if self.join and dated:
            raise ValueError("give either join: [columns] or year/month/day, not both")
        if not self.join and not dated:
            raise ValueError("give join: [columns] or year/month/day")
        if dated and (self.year is None or self.month is None):
            raise ValueError("a date from its parts needs at least year and month")
        return self

    def columns(self) -> tuple[str, ...]:
        if self.join:
            return self.join
        return tuple(c for c in (self.year, self.month, self.day) if c is not None)

    def value(self, payload: Mapping[str, Any]) -> str | None:
        """The composed text of one payload, or ``None`` when the parts are blank."""
        if self.join:
            return _join([text for column in self.join if (text := as_text(payload.get(column))) is not None])
        year = _number_text(payload.get(self.year or ""))
        if year is None:
            return None
        month = _number_text(payload.get(self.month or ""))
        day = _number_text(payload.get(self.day)) if self.day else None
        if month is None:
            return year  # a year alone: the date parser says why it cannot be read
        return f"{year}-{month}" + (f"-{day}" if day is not None else "")


def _join(parts: list[str]) -> str | None:
    """Parts as one text: a space only where two parts meet in Latin letters or digits.

    >>> _join(["张", "伟"]), _join(["John", "SMITH"]), _join(["南京市", "秦淮区", "中华路104号"])
    ('张伟', 'John SMITH', '南京市秦淮区中华路104号')
    """
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        spaced = _WORD_EDGE.match(out[-1]) and _WORD_EDGE.match(part[0])
        out += (" " if spaced else "") + part
    return out


def _number_text(value: object) -> str | None:
    text = as_text(value)
    if text is not None and text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text


class FieldMapping(BaseModel):
    """How one department's native columns map onto the canonical resident record.

    ``fields`` keys are canonical targets: ``name``, ``id_number``, ``id_kind`` (证件类型),
    ``sex``, ``birth_date``, ``phones``, ``household_id``, ``relation_to_head``, ``ethnicity``,
    ``marital_status``, ``nationality``, ``deceased_on``, ``moved_out_on``, ``changed_on`` (the day
    a register last changed the row itself), ``seen_on`` (the day a worker saw the resident),
    ``addresses.<registered|residential|property>``, ``other_ids.<IdKind>`` and
    ``attributes.<snake_case_key>``. ``codes`` are keyed the same way.

    A target is one native column, a list of columns (the first non-blank is read), or a
    :class:`ComposedField` (``{join: [...]}``, ``{year, month, day}``). ``fields`` always lists
    the native columns a target reads; ``composed`` keeps how the composed ones are built.

    ``when`` makes a target conditional on other columns: ``{deceased_on: {人员状态: [死亡注销]}}``
    reads ``deceased_on`` only from rows whose 人员状态 is one of the listed values (a department
    that keeps the date of death and the date of moving away in one column).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str | None = None
    fields: dict[str, tuple[str, ...]]
    composed: dict[str, ComposedField] = Field(default_factory=dict)
    codes: dict[str, dict[str, str]] = Field(default_factory=dict)
    when: dict[str, dict[str, tuple[str, ...]]] = Field(default_factory=dict)
    default_area_code: str | None = None
    # A standard-address register (标准地址库) has rows about buildings, not people: nothing in
    # them needs to identify a resident.
    holds: Literal["residents", "standard_addresses"] = "residents"

    @model_validator(mode="before")
    @classmethod
    def _composed_apart(cls, data: Any) -> Any:
        """``fields: {name: {join: [...]}}`` → the columns in ``fields``, the recipe in ``composed``."""
        if not isinstance(data, Mapping) or not isinstance(data.get("fields"), Mapping):
            return data
        fields: dict[str, Any] = {}
        composed: dict[str, Any] = dict(data.get("composed") or {})
        for target, value in data["fields"].items():
            if isinstance(value, Mapping | ComposedField):
                recipe = value if isinstance(value, ComposedField) else ComposedField.model_validate(value)
                composed[str(target)] = recipe
                fields[str(target)] = recipe.columns()
            else:
                fields[str(target)] = value
        return {**data, "fields": fields, "composed": composed}

    @field_validator("composed")
    @classmethod
    def _composed_targets(cls, value: dict[str, ComposedField], info: Any) -> dict[str, ComposedField]:
        for target, recipe in value.items():
            if target not in (info.data.get("fields") or {}):
                raise ValueError(f"composed.{target}: {target!r} is not mapped in fields")
            if recipe.year is not None and target not in _DATE_FIELDS:
                raise ValueError(f"{target}: year/month/day builds a date field ({', '.join(sorted(_DATE_FIELDS))})")
        return value

    @field_validator("fields", mode="before")
    @classmethod
    def _columns_as_tuples(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: (v,) if isinstance(v, str) else tuple(v) for k, v in value.items()}
        return value

    @field_validator("codes", mode="before")
    @classmethod
    def _codes_as_text(cls, value: Any) -> Any:
        # YAML reads `1: male` with an int key; department codes are text.
        if isinstance(value, Mapping):
            return {
                str(field): {str(k): str(v) for k, v in table.items()} if isinstance(table, Mapping) else table
                for field, table in value.items()
            }
        return value

    @field_validator("when", mode="before")
    @classmethod
    def _conditions_as_text(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        out: dict[str, dict[str, tuple[str, ...]]] = {}
        for target, condition in value.items():
            if not isinstance(condition, Mapping) or not condition:
                raise ValueError(f"when.{target}: give {{column: [values]}}")
            out[str(target)] = {str(column): tuple(str(v) for v in ((allowed,) if isinstance(allowed, str | int)
                                                                     else allowed))
                                for column, allowed in condition.items()}
        return out

    @field_validator("when")
    @classmethod
    def _conditions_on_mapped_targets(cls, value: dict[str, dict[str, tuple[str, ...]]],
                                      info: Any) -> dict[str, dict[str, tuple[str, ...]]]:
        fields = info.data.get("fields") or {}
        for target, condition in value.items():
            if target not in fields:
                raise ValueError(f"when.{target}: {target!r} is not mapped in fields")
            for column, allowed in condition.items():
                if not allowed:
                    raise ValueError(f"when.{target}.{column}: no values given")
        return value

    def applies(self, target: str, payload: Mapping[str, Any]) -> bool:
        """Whether ``target`` is read from this row (its ``when`` condition, if any, holds)."""
        condition = self.when.get(target)
        if not condition:
            return True
        return all(as_text(payload.get(column)) in allowed for column, allowed in condition.items())

    @field_validator("default_area_code", mode="before")
    @classmethod
    def _area_code_is_text(cls, value: Any) -> Any:
        if isinstance(value, int):
            raise ValueError('write the area code as text ("025"): YAML reads 025 as an octal number')
        return value

    @field_validator("fields")
    @classmethod
    def _known_targets(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for target, columns in value.items():
            _check_target(target)
            if not columns:
                raise ValueError(f"{target}: no native column given")
        return value

    @field_validator("codes")
    @classmethod
    def _known_code_targets(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for target in value:
            _check_target(target)
        return value

    def columns(self, target: str) -> tuple[str, ...]:
        return self.fields.get(target, ())

    def targets(self, prefix: str) -> dict[str, tuple[str, ...]]:
        """The ``prefix.<key>`` targets, by key: ``targets("addresses") == {"registered": (...)}``."""
        start = prefix + "."
        return {t[len(start) :]: cols for t, cols in self.fields.items() if t.startswith(start)}


def _check_target(target: str) -> None:
    if target in _SCALAR_FIELDS or target in _LIST_FIELDS:
        return
    prefix, _, key = target.partition(".")
    if prefix == "addresses" and key in _ADDRESS_KINDS:
        return
    if prefix == "other_ids" and key in _ID_KINDS:
        return
    if prefix == "attributes" and _ATTRIBUTE_KEY.match(key):
        return
    raise ValueError(f"{target!r} is not a canonical field")


class _Reader:
    """Reads canonical fields out of one payload and collects warnings."""

    def __init__(self, payload: Mapping[str, Any], mapping: FieldMapping) -> None:
        self.mapping = mapping
        self.warnings: list[str] = []
        # Control, surrogate and bidi-override characters never reach a field (the raw record
        # keeps them as evidence): one such value must not stop the store for everyone.
        if not has_unsafe("".join(v for v in payload.values() if isinstance(v, str))):
            self.payload = dict(payload)  # the common case, one search instead of one per cell
            return
        cleaned = {k: strip_unsafe(v) if isinstance(v, str) else v for k, v in payload.items()}
        changed = sorted(k for k, v in payload.items() if isinstance(v, str) and cleaned[k] != v)
        if changed:
            self.warnings.append(f"unsafe_characters_removed:{','.join(changed)}")
        self.payload = cleaned

    def raw(self, target: str) -> object:
        """The first non-blank value of the target's columns (the original object), or the
        composed text of a composed target."""
        if not self.mapping.applies(target, self.payload):
            return None
        recipe = self.mapping.composed.get(target)
        if recipe is not None:
            return recipe.value(self.payload)
        for column in self.mapping.columns(target):
            value = self.payload.get(column)
            if as_text(value) is not None:
                return value
        return None

    def all_raw(self, target: str) -> list[object]:
        if not self.mapping.applies(target, self.payload):
            return []
        if target in self.mapping.composed:
            return [self.raw(target)]
        return [self.payload.get(column) for column in self.mapping.columns(target)]

    def text(self, target: str) -> str | None:
        return as_text(self.raw(target))

    def mapped(self, target: str, text: str) -> str:
        """A native value through the department's code table for ``target``, if it has one."""
        table = self.mapping.codes.get(target)
        if not table:
            return text
        if text in table:
            return table[text]
        folded = {k.casefold(): v for k, v in table.items()}
        return folded.get(text.casefold(), text)

    def code(self, target: str, table: CodeTable, sex: Sex | None = None) -> str | None:
        """The code of ``target``; a value outside the table leaves it empty with a warning that
        keeps the value (``ethnicity_unknown: '火星族' is not …``), a group value (子女) whose sex
        is not known with ``relation_to_head_group:子女``."""
        text = self.text(target)
        if text is None:
            return None
        try:
            return table.code_of(self.mapped(target, text), sex=sex)
        except GroupCodeValue as error:
            self.warn(f"{target}_group:{error.group}")
            return None
        except UnknownCodeValue as error:
            self.warn(f"{target}_unknown: {error.message}")
            return None

    def warn(self, warning: str) -> None:
        masked = redact(warning)
        if masked not in self.warnings:
            self.warnings.append(masked)


def _id_kind(reader: _Reader) -> IdKind | None:
    text = reader.text("id_kind")
    if text is None:
        return None
    value = reader.mapped("id_kind", text)
    kind = ID_KIND_NAMES.get(value) or ID_KIND_NAMES.get(value.casefold())
    if kind is None:
        reader.warn(f"id_kind_unknown: {value!r} is not a known identity document; kept as other")
        return "other"
    return kind


def _other_id_value(text: str) -> str:
    return "".join(text.split()).upper()


def standardise(
    source_record: SourceRecord, mapping: FieldMapping, *, today: date | None = None
) -> ResidentRecord:
    """Standardise one source record with its department's field mapping.

    Raises :class:`CannotStandardise` when nothing in the record identifies a resident (no
    name, no valid ID number, no other identity document), or for an end marker. Doubts about
    single fields never raise: they land in ``warnings`` and the field stays empty.
    """
    where = _where(source_record.source, source_record.record_id, source_record.change, mapping)
    today = today or date.today()
    reader = _Reader(source_record.payload, mapping)

    identity = _identity(reader, mapping, today)
    name_raw = reader.raw("name")
    name = standardise_name(None if name_raw is None else str(name_raw))
    if name.name is None and mapping.holds == "residents":
        _must_identify(identity, where)

    sex = _sex(reader, mapping, identity.sex)
    birth_date, birth_month = _birth(reader, today, identity.birth_date)

    # Phones and addresses.
    phones = parse_phones(*reader.all_raw("phones"), default_area_code=mapping.default_area_code)
    for warning in phones.warnings:
        reader.warn(warning)
    addresses: dict[AddressKind, Address] = {}
    for key in mapping.targets("addresses"):
        text = reader.text(f"addresses.{key}")
        if text is not None:
            addresses[_ADDRESS_KINDS[key]] = parse_address(text)

    # Household, codes, life events, attributes.
    household_id = reader.text("household_id")
    dates = _life_dates(reader, today)
    codes = _codes(reader, sex)
    attributes: dict[str, str] = {}
    for key in mapping.targets("attributes"):
        text = reader.text(f"attributes.{key}")
        if text is not None:
            attributes[key] = reader.mapped(f"attributes.{key}", text)

    return ResidentRecord(
        source=source_record.source,
        record_id=source_record.record_id,
        observed_at=source_record.observed_at,
        name=name.name,
        name_raw=name.raw or None,
        name_script=name.script,
        name_pinyin=name.pinyin,
        id_number=identity.id_number,
        id_number_invalid=identity.id_number_invalid,
        other_ids=tuple(identity.other_ids),
        sex=sex,
        birth_date=birth_date,
        birth_month=str(birth_month) if birth_month else None,
        phones=phones.numbers,
        addresses=addresses,
        household_id="".join(household_id.split()) if household_id else None,
        relation_to_head=codes["relation_to_head"],
        ethnicity=codes["ethnicity"],
        marital_status=codes["marital_status"],
        nationality=codes["nationality"],
        deceased_on=dates["deceased_on"],
        moved_out_on=dates["moved_out_on"],
        changed_on=dates["changed_on"],
        seen_on=dates["seen_on"],
        attributes=attributes,
        warnings=tuple(reader.warnings),
    )


# Warning kinds :func:`first_warning` finds without standardising the whole record: the doubts
# about single codes and dates (those a connector refuses a row for by default).
CHECKABLE_WARNINGS = frozenset({
    "sex_unknown", "birth_date_unreadable", "deceased_on_unreadable", "moved_out_on_unreadable",
    "changed_on_unreadable", "seen_on_unreadable",
    "relation_to_head_unknown", "ethnicity_unknown", "marital_status_unknown", "nationality_unknown",
})


def first_warning(
    payload: Mapping[str, Any], mapping: FieldMapping, kinds: frozenset[str], *, source: str,
    record_id: str, today: date | None = None,
) -> str | None:
    """What :func:`standardise` would say about a payload, as far as ``kinds`` are concerned,
    at a fraction of its cost (no name keys, phones, addresses or records are built).

    Raises :class:`CannotStandardise` exactly when :func:`standardise` would; otherwise returns
    the first of its warnings whose kind is in ``kinds`` (``None`` if there is none). ``kinds``
    must lie within :data:`CHECKABLE_WARNINGS`: the identity, mismatch and phone warnings need
    the whole record.
    """
    if not kinds <= CHECKABLE_WARNINGS:
        raise ValueError(f"not checkable without standardising: {sorted(kinds - CHECKABLE_WARNINGS)}")
    where = _where(source, record_id, "upsert", mapping)
    today = today or date.today()
    reader = _Reader(payload, mapping)
    name_raw = reader.raw("name")
    if mapping.holds == "residents" and detect_script(fold_width("" if name_raw is None else str(name_raw))) == "empty":
        # no name (standardise_name would give None): only an identity document can identify
        _must_identify(_identity(reader, mapping, today), where)
        reader.warnings.clear()  # identity warnings are not checkable kinds
    # standardise's sections in its order, each only if it can give a kind asked for; without
    # an ID number's sex and birth date they add only their own parse warnings (the mismatch
    # warnings are not checkable), so the first warning of a kind asked for is the answer.
    if "sex_unknown" in kinds:
        _sex(reader, mapping, None)
    if "birth_date_unreadable" in kinds:
        _birth(reader, today, None)
    for target in _LIFE_DATES:
        if f"{target}_unreadable" in kinds:
            _life_date(reader, target, today)
    for target, table in _CODE_TABLES:
        if f"{target}_unknown" in kinds:
            reader.code(target, table)
    for warning in reader.warnings:
        if warning.split(":", 1)[0] in kinds:
            return warning
    return None


class _Identity(NamedTuple):
    other_ids: list[OtherId]
    id_number: str | None
    id_number_invalid: str | None
    birth_date: date | None
    sex: Sex | None


def _where(source: str, record_id: str, change: str, mapping: FieldMapping) -> dict[str, str]:
    where = {"source": source, "record_id": record_id}
    if change == "end":
        raise CannotStandardise("an end marker carries no payload to standardise", **where)
    if mapping.source and mapping.source != source:
        raise CannotStandardise(f"the mapping is for {mapping.source!r}", **where)
    return where


def _identity(reader: _Reader, mapping: FieldMapping, today: date) -> _Identity:
    """Identity documents: a valid ID number (with its birth date and sex), an invalid one kept
    as evidence, other documents."""
    other_ids: list[OtherId] = []
    id_number: str | None = None
    id_number_invalid: str | None = None
    id_birth: date | None = None
    id_sex: Sex | None = None
    id_text = reader.text("id_number")
    kind = _id_kind(reader)
    if id_text is not None and kind is not None and kind != "ric":
        other_ids.append(OtherId(kind=kind, value=_other_id_value(id_text)))
    elif id_text is not None:
        check = check_id_number(id_text, today=today)
        if check.id_number is not None:
            id_number, id_birth, id_sex = check.id_number, check.birth_date, check.sex
            for warning in check.warnings:
                reader.warn(f"id_number_doubt: {warning}")
        elif looks_like_foreigner_permit(check.cleaned):
            other_ids.append(OtherId(kind="foreigner_permit", value=check.cleaned))
        else:
            id_number_invalid = check.cleaned
            reader.warn(f"id_number_invalid: {mask_id_number(check.cleaned)}: {check.reason}")
    for key in mapping.targets("other_ids"):
        text = reader.text(f"other_ids.{key}")
        other = OtherId(kind=_ID_KINDS[key], value=_other_id_value(text)) if text else None
        if other is not None and other not in other_ids:
            other_ids.append(other)
    return _Identity(other_ids, id_number, id_number_invalid, id_birth, id_sex)


def _must_identify(identity: _Identity, where: dict[str, str]) -> None:
    """A record without a name must carry a valid ID number or another identity document."""
    if identity.id_number is None and not identity.other_ids:
        reason = "no name and no valid ID number or other identity document"
        if identity.id_number_invalid is not None:
            reason += f" (the ID number {mask_id_number(identity.id_number_invalid)} is invalid)"
        raise CannotStandardise(reason, **where)


def _sex(reader: _Reader, mapping: FieldMapping, id_sex: Sex | None) -> Sex:
    """Sex as the record says, cross-checked with (or filled from) the ID number's."""
    sex: Sex = "unknown"
    try:
        sex = parse_sex(reader.raw("sex"), mapping.codes.get("sex"))
    except StandardiseError as error:
        reader.warn(f"sex_unknown: {error.message}")
    if id_sex is not None:
        if sex == "unknown":
            sex = id_sex
        elif sex != id_sex:
            reader.warn(f"sex_mismatch: record says {sex}, ID number says {id_sex}")
    return sex


def _birth(reader: _Reader, today: date, id_birth: date | None) -> tuple[date | None, YearMonth | None]:
    """Birth date (or month) as the record says, cross-checked with (or filled from) the ID number's."""
    birth_date: date | None = None
    birth_month: YearMonth | None = None
    birth_raw = reader.raw("birth_date")
    if birth_raw is not None:
        try:
            parsed = parse_date(birth_raw, today=today)
        except StandardiseError as error:
            reader.warn(f"birth_date_unreadable: {error.message}")
        else:
            if isinstance(parsed, YearMonth):
                birth_month = parsed
            else:
                birth_date = parsed
    if id_birth is not None:
        if birth_date is not None and birth_date != id_birth:
            reader.warn(f"birth_date_mismatch: record says {birth_date}, ID number says {id_birth}")
        elif birth_month is not None and not birth_month.contains(id_birth):
            reader.warn(f"birth_date_mismatch: record says {birth_month}, ID number says {id_birth}")
        elif birth_date is None:
            birth_date, birth_month = id_birth, None
    return birth_date, birth_month


_LIFE_DATES = ("deceased_on", "moved_out_on", "changed_on", "seen_on")
_CODE_TABLES: tuple[tuple[str, CodeTable], ...] = (
    ("relation_to_head", RELATION_TO_HEAD), ("ethnicity", ETHNICITY), ("marital_status", MARITAL_STATUS),
    ("nationality", NATIONALITY),
)


def _life_date(reader: _Reader, target: str, today: date) -> date | None:
    value = reader.raw(target)
    if value is None:
        return None
    try:
        return parse_full_date(value, today=today)
    except StandardiseError as error:
        reader.warn(f"{target}_unreadable: {error.message}")
        return None


def _life_dates(reader: _Reader, today: date) -> dict[str, date | None]:
    return {target: _life_date(reader, target, today) for target in _LIFE_DATES}


def _codes(reader: _Reader, sex: Sex) -> dict[str, str | None]:
    known = None if sex == "unknown" else sex
    return {target: reader.code(target, table, known) for target, table in _CODE_TABLES}
