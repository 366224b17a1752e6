"""Personal names (姓名): Han names and Latin names of foreign residents.

Han names are folded to half-width, simplified (OpenCC ``t2s``), stripped of stray spaces
("张 伟") and given one middle dot (·) between the parts of minority names (阿不都·热合曼).
Latin names are kept as written but for spaces and the "SURNAME, Given" comma form; their
comparison key is case- and accent-free.

Pinyin is for blocking and homophone keys (伟/玮/炜 all read ``wei``), not for the final score.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from pypinyin import Style, lazy_pinyin

from core.standardise._text import fold_width, to_simplified

__all__ = [
    "COMPOUND_SURNAMES",
    "SURNAME_READINGS",
    "StandardName",
    "detect_script",
    "homophone_key",
    "latin_key",
    "name_pinyin",
    "sorted_token_key",
    "split_surname",
    "standardise_name",
]

NameScript = Literal["han", "latin", "mixed", "empty"]

# Readings of characters used as surnames that differ from their common reading, which
# pypinyin gives out of context (曾 ceng, 单 dan, 区 qu…).
SURNAME_READINGS: dict[str, str] = {
    "曾": "zeng", "单": "shan", "区": "ou", "仇": "qiu", "解": "xie", "查": "zha",
    "朴": "piao", "盖": "ge", "乐": "yue", "覃": "qin", "缪": "miao", "翟": "zhai",
    "召": "shao", "种": "chong", "重": "chong", "秘": "bi", "员": "yun", "繁": "po",
    "句": "gou", "折": "she", "都": "du", "隗": "wei", "乜": "nie",
    "薄": "bo", "藏": "zang",
}

# Compound surnames (复姓) with their readings; 尉迟 and 万俟 are the classic traps.
COMPOUND_SURNAMES: dict[str, str] = {
    "欧阳": "ou yang", "司马": "si ma", "诸葛": "zhu ge", "上官": "shang guan",
    "东方": "dong fang", "皇甫": "huang fu", "尉迟": "yu chi", "万俟": "mo qi",
    "公孙": "gong sun", "慕容": "mu rong", "长孙": "zhang sun", "宇文": "yu wen",
    "司徒": "si tu", "司空": "si kong", "令狐": "ling hu", "夏侯": "xia hou",
    "轩辕": "xuan yuan", "端木": "duan mu", "独孤": "du gu", "南宫": "nan gong",
    "西门": "xi men", "闻人": "wen ren", "呼延": "hu yan", "澹台": "tan tai",
    "公冶": "gong ye", "太叔": "tai shu", "申屠": "shen tu", "钟离": "zhong li",
    "赫连": "he lian", "拓跋": "tuo ba", "百里": "bai li", "东郭": "dong guo",
    "单于": "chan yu", "濮阳": "pu yang", "淳于": "chun yu", "宗政": "zong zheng",
    "公羊": "gong yang", "第五": "di wu", "谷梁": "gu liang", "亓官": "qi guan",
    "左丘": "zuo qiu", "乐正": "yue zheng", "梁丘": "liang qiu", "鲜于": "xian yu",
    "羊舌": "yang she", "仲孙": "zhong sun", "即墨": "ji mo", "颛孙": "zhuan sun",
}

# t2s maps these characters although they are also standard simplified name characters:
# 乾 is not 干 in a name, and 於 is a surname of its own (not 于).
_KEEP_IN_NAMES = {"乾": None, "於": 0}  # character → only at this index (None: anywhere)

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_IS_HAN = re.compile(rf"[{_HAN}]")
_DOTS = "·•・‧∙⋅･●.．。"
_DOT_BETWEEN_HAN = re.compile(rf"(?<=[{_HAN}])\s*[{re.escape(_DOTS)}]+\s*(?=[{_HAN}])")
_SPACE_BETWEEN_HAN = re.compile(rf"(?<=[{_HAN}·])\s+(?=[{_HAN}·])")
_SPACES = re.compile(r"\s+")
_NOT_LETTER = re.compile(r"[^\w\s]|_|\d")


@dataclass(frozen=True)
class StandardName:
    """A standardised name and its keys.

    ``name`` is the form to store; ``pinyin`` the space-separated syllables (Han) or the
    lower-cased accent-free tokens (Latin); ``key`` the homophone key used for blocking.
    """

    raw: str
    name: str | None
    script: NameScript
    pinyin: str | None
    key: str | None
    sorted_key: str | None


def detect_script(name: str) -> NameScript:
    """``han``, ``latin``, ``mixed`` or ``empty``: which letters the name is written in.

    >>> detect_script("张伟"), detect_script("John Smith"), detect_script("张Wei"), detect_script(" ")
    ('han', 'latin', 'mixed', 'empty')
    """
    han = latin = False
    for ch in name:
        if _IS_HAN.match(ch):
            han = True
        elif ch.isalpha():
            latin = True
    if han and latin:
        return "mixed"
    if han:
        return "han"
    return "latin" if latin else "empty"


def _simplify(name: str) -> str:
    simplified = to_simplified(name)
    if len(simplified) != len(name):
        return simplified
    chars = list(simplified)
    for i, original in enumerate(name):
        if original in _KEEP_IN_NAMES and _KEEP_IN_NAMES[original] in (None, i):
            chars[i] = original
    return "".join(chars)


def _standard_han(text: str) -> str:
    text = _DOT_BETWEEN_HAN.sub("·", text)
    text = _SPACE_BETWEEN_HAN.sub("", text)
    text = _SPACES.sub(" ", text).strip()
    return _simplify(text)


def _standard_latin(text: str) -> str:
    text = _SPACES.sub(" ", text).strip(" ,")
    if text.count(",") == 1:
        surname, given = (part.strip() for part in text.split(","))
        if surname and given:
            text = f"{given} {surname}"
    return text


def latin_key(name: str) -> str:
    """Case- and accent-free tokens of a Latin name, in written order.

    >>> latin_key("SMITH, John"), latin_key("José  Müller-Lüdenscheidt")
    ('john smith', 'jose muller ludenscheidt')
    """
    text = _standard_latin(fold_width(name))
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.replace("ß", "ss").replace("ø", "o").replace("æ", "ae").replace("ł", "l")
    return " ".join(_NOT_LETTER.sub(" ", stripped).split())


def sorted_token_key(name: str) -> str:
    """The Latin key with tokens sorted, so "John Smith" and "Smith John" meet.

    >>> sorted_token_key("Smith John") == sorted_token_key("John SMITH")
    True
    """
    return " ".join(sorted(latin_key(name).split()))


def split_surname(name: str) -> tuple[str, str]:
    """Surname and given name of a Han name, recognising compound surnames (复姓).

    >>> split_surname("欧阳修"), split_surname("张伟")
    (('欧阳', '修'), ('张', '伟'))
    """
    if "·" in name:  # minority names are not surname + given name
        return "", name
    if len(name) > 2 and name[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


def _syllables(text: str) -> list[str]:
    out: list[str] = []
    for chunk in lazy_pinyin(text, style=Style.NORMAL):
        out.extend(latin_key(chunk).split())
    return out


@functools.lru_cache(maxsize=65536)
def name_pinyin(name: str) -> str:
    """Toneless pinyin syllables of a Han name, with surname readings fixed.

    >>> name_pinyin("曾国藩"), name_pinyin("单田芳"), name_pinyin("尉迟恭")
    ('zeng guo fan', 'shan tian fang', 'yu chi gong')
    """
    name = _standard_han(fold_width(name))
    surname, given = split_surname(name)
    if surname in COMPOUND_SURNAMES:
        head = COMPOUND_SURNAMES[surname].split()
    elif surname in SURNAME_READINGS:
        head = [SURNAME_READINGS[surname]]
    else:
        head = _syllables(surname)
    return " ".join(head + _syllables(given))


def homophone_key(name: str) -> str:
    """A key equal for names that sound alike: toneless pinyin without spaces or dots.

    >>> homophone_key("张伟") == homophone_key("张玮") == homophone_key("張 煒")
    True
    """
    script = detect_script(fold_width(name))
    if script == "latin":
        return latin_key(name).replace(" ", "")
    return name_pinyin(name).replace(" ", "")


@functools.lru_cache(maxsize=65536)
def standardise_name(raw: str | None) -> StandardName:
    """Standardise a name and compute its keys.

    >>> standardise_name(" 張 偉 ").name
    '张伟'
    >>> standardise_name("阿不都•热合曼").name
    '阿不都·热合曼'
    >>> standardise_name("SMITH, John").pinyin
    'john smith'
    """
    raw_text = raw or ""
    text = fold_width(raw_text)
    script = detect_script(text)
    if script == "empty":
        return StandardName(raw=raw_text, name=None, script="empty", pinyin=None, key=None, sorted_key=None)
    if script == "latin":
        name = _standard_latin(text)
        key = latin_key(name)
        return StandardName(
            raw=raw_text, name=name, script=script, pinyin=key,
            key=key.replace(" ", ""), sorted_key=" ".join(sorted(key.split())),
        )
    name = _standard_han(text)
    pinyin = name_pinyin(name)
    return StandardName(
        raw=raw_text, name=name, script=script, pinyin=pinyin,
        key=pinyin.replace(" ", ""), sorted_key=" ".join(sorted(pinyin.split())),
    )
