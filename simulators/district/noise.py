"""Small, realistic corruptions that department clerks and their systems introduce.

Each function takes the caller's ``random.Random`` and returns a new string; none changes
anything unless the caller has already decided (by a rate in ``NoiseConfig``) to apply it.
"""

from __future__ import annotations

import random
from functools import cache

import opencc

from simulators.district.id_numbers import check_character
from simulators.district.names import HOMOPHONES, SIMILAR_SHAPES, SURNAME_VARIANTS

__all__ = [
    "dot_variant",
    "format_mobile",
    "fullwidth",
    "homophone",
    "mistype_digit",
    "mistype_id",
    "space_id",
    "space_name",
    "to_traditional",
    "typo_name",
]


@cache
def _s2t() -> opencc.OpenCC:
    # Built once: the converter is an immutable dictionary, expensive to load.
    return opencc.OpenCC("s2t")


def to_traditional(text: str) -> str:
    """Simplified → traditional (张伟 → 張偉), as typed on a traditional-character input method."""
    return str(_s2t().convert(text))


def fullwidth(text: str) -> str:
    """ASCII letters and digits as full-width forms (１２３Ｘ), as some input methods produce."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def homophone(given_name: str, rng: random.Random) -> str:
    """One character of a given name swapped for another with the same pinyin (伟 → 玮)."""
    positions = [i for i, c in enumerate(given_name) if len(HOMOPHONES.get(c, "")) > 1]
    if not positions:
        return given_name
    i = rng.choice(positions)
    options = [c for c in HOMOPHONES[given_name[i]] if c != given_name[i]]
    return given_name[:i] + rng.choice(options) + given_name[i + 1 :]


def typo_name(surname: str, given_name: str, rng: random.Random) -> str:
    """A rare written slip: a look-alike character, or a commonly confused surname (肖/萧, 闫/阎)."""
    if surname in SURNAME_VARIANTS and rng.random() < 0.5:
        return SURNAME_VARIANTS[surname] + given_name
    positions = [i for i, c in enumerate(given_name) if c in SIMILAR_SHAPES]
    if positions:
        i = rng.choice(positions)
        return surname + given_name[:i] + SIMILAR_SHAPES[given_name[i]] + given_name[i + 1 :]
    if surname in SIMILAR_SHAPES:
        return SIMILAR_SHAPES[surname] + given_name
    return surname + homophone(given_name, rng)


def space_name(name: str, rng: random.Random) -> str:
    """Spaces between characters, as when a name is padded to line up in a printed form."""
    if rng.random() < 0.6 and len(name) == 2:
        return f"{name[0]} {name[1]}"
    return " ".join(name) if rng.random() < 0.7 else f"{name[0]}  {name[1:]}"


def dot_variant(name: str, rng: random.Random) -> str:
    """The middle dot of a minority or transliterated name as typed on another keyboard."""
    if "·" not in name:
        return name
    return name.replace("·", rng.choice((".", "•", "・", "．", "", " ", "-")))


def mistype_id(id_number: str, rng: random.Random) -> str:
    """One digit changed, or two neighbouring digits swapped: the check character no longer fits.

    Changing any one digit, or swapping two different neighbours, always changes the MOD 11-2
    sum (every weight is non-zero mod 11), so the result is guaranteed invalid.
    """
    chars = list(id_number)
    if rng.random() < 0.5:
        swappable = [i for i in range(16) if chars[i] != chars[i + 1]]
        if swappable:
            i = rng.choice(swappable)
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
            return "".join(chars)
    i = rng.randrange(17)
    chars[i] = rng.choice([d for d in "0123456789" if d != chars[i]])
    result = "".join(chars)
    assert check_character(result[:17]) != result[17]
    return result


def space_id(id_number: str, rng: random.Random) -> str:
    """Spaces as typed from a printed card: "320104 19850312 0417", or a stray trailing blank."""
    style = rng.random()
    if style < 0.5:
        return f"{id_number[:6]} {id_number[6:14]} {id_number[14:]}"
    if style < 0.75:
        return f" {id_number} "
    return id_number[:6] + " " + id_number[6:]


def mistype_digit(number: str, rng: random.Random) -> str:
    """One digit of a phone number wrong."""
    positions = [i for i, c in enumerate(number) if c.isdigit()]
    i = rng.choice(positions[3:] or positions)
    return number[:i] + rng.choice([d for d in "0123456789" if d != number[i]]) + number[i + 1 :]


def format_mobile(mobile: str, rng: random.Random) -> str:
    """A mobile number as people write it: grouped, dashed, or with the country code."""
    style = rng.random()
    if style < 0.6:
        return mobile
    if style < 0.8:
        return f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    if style < 0.9:
        return f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"
    return f"+86 {mobile}" if style < 0.95 else f"86-{mobile}"


def format_landline(landline: str, rng: random.Random) -> str:
    """A Nanjing fixed line with or without its area code: "025-84123456", "84123456", "(025)84123456"."""
    local = landline.removeprefix("025-")
    style = rng.random()
    if style < 0.5:
        return landline
    if style < 0.8:
        return local
    return f"(025){local}" if style < 0.9 else f"025{local}"
