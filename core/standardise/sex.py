"""Sex (性别) per GB/T 2261.1: 0 unknown, 1 male, 2 female, 9 unstated."""

from __future__ import annotations

from collections.abc import Mapping

from core.standardise._text import as_text
from core.standardise.codes import SEX
from core.standardise.errors import UnknownCodeValue
from core.standardise.id_numbers import check_id_number
from schemas.resident import Sex

__all__ = ["parse_sex", "sex_code", "sex_disagreement"]

_BY_CODE: dict[str, Sex] = {"0": "unknown", "1": "male", "2": "female", "9": "unknown"}
_CODE_OF: dict[Sex, str] = {"unknown": "0", "male": "1", "female": "2"}
_CANONICAL: dict[str, Sex] = {"male": "male", "female": "female", "unknown": "unknown"}


def parse_sex(value: object, table: Mapping[str, str] | None = None) -> Sex:
    """Read a sex value: 男/女, M/F, 1/2/0/9, male/female; blank is ``"unknown"``.

    ``table`` is a department's own spelling → canonical value (``"male"`` or a GB code),
    consulted first; e.g. ``{"1": "male", "2": "female"}``.

    >>> parse_sex("女"), parse_sex("1"), parse_sex(" M "), parse_sex(None)
    ('female', 'male', 'male', 'unknown')
    """
    text = as_text(value)
    if text is None:
        return "unknown"
    if table:
        mapped = table.get(text)
        if mapped is None:
            mapped = {k.casefold(): v for k, v in table.items()}.get(text.casefold())
        if mapped is not None:
            text = mapped
    if text.casefold() in _CANONICAL:
        return _CANONICAL[text.casefold()]
    try:
        return _BY_CODE[SEX.code_of(text)]
    except UnknownCodeValue:
        raise UnknownCodeValue(SEX.title, value) from None


def sex_code(sex: Sex) -> str:
    """The GB/T 2261.1 code of a canonical sex: ``sex_code("female") == "2"``."""
    return _CODE_OF[sex]


def sex_disagreement(sex: Sex, id_number: str) -> str | None:
    """A warning when a known sex disagrees with the sex inside a valid ID number, else ``None``.

    The sequence digit (the 17th) is odd for men and even for women.
    """
    check = check_id_number(id_number)
    if sex == "unknown" or check.sex is None or check.sex == sex:
        return None
    return f"sex_mismatch: record says {sex}, ID number says {check.sex}"
