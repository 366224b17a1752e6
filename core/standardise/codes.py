"""Small national code tables (GB) with lenient lookup of codes and names.

- GB/T 2261.1 sex (性别), GB/T 2261.2 marital status (婚姻状况), GB 3304 ethnicity (民族),
  GB/T 4761 relation to the household head (家庭关系), and the common rows of
  GB/T 2659 / ISO 3166 nationality (国籍, alpha-3).

``TABLE.code_of(value)`` accepts a code with or without leading zeros ("01", "1"), the standard
name ("汉族"), the name without its suffix ("汉"), traditional characters ("漢族") and common
aliases ("妻子"); anything else raises :class:`UnknownCodeValue`.

A table may also know *group values*: a word departments write for a pair of codes told apart
only by sex (子女 is 子 20 for a son, 女 30 for a daughter in GB/T 4761).
``TABLE.code_of(value, sex="female")`` picks the code by sex; without a known sex it raises
:class:`GroupCodeValue`, since GB/T 4761 has no code for "a child" and the hub does not invent one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from core.standardise._text import as_text, to_simplified
from core.standardise.errors import UnknownCodeValue

__all__ = ["CodeTable", "GroupCodeValue", "ETHNICITY", "MARITAL_STATUS", "NATIONALITY", "RELATION_TO_HEAD", "SEX"]


class GroupCodeValue(UnknownCodeValue):
    """A group value (子女: a son or a daughter) whose code depends on a sex that is not known."""

    def __init__(self, table: str, value: object, group: str) -> None:
        super().__init__(table, value)
        self.group = group


@dataclass(frozen=True)
class CodeTable:
    """A code table: code → standard name, plus extra spellings that mean a code."""

    title: str
    names: Mapping[str, str]
    aliases: Mapping[str, str] = field(default_factory=dict)
    width: int = 2  # numeric codes are zero-padded to this width ("1" → "01"); 0: not numeric
    suffix: str = ""  # a suffix that may be left off a name (族 in 汉族)
    # group value → (code for a man, code for a woman): 子女 → ("20", "30")
    groups: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    @cached_property
    def _index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for code, name in self.names.items():
            index[code.casefold()] = code
            index[name.casefold()] = code
            if self.suffix and name.endswith(self.suffix) and len(name) > len(self.suffix):
                index[name[: -len(self.suffix)].casefold()] = code
        for alias, code in self.aliases.items():
            if code not in self.names:
                raise ValueError(f"{self.title}: alias {alias!r} points at unknown code {code!r}")
            index[alias.casefold()] = code
        for group, codes in self.groups.items():
            if any(code not in self.names for code in codes):
                raise ValueError(f"{self.title}: group {group!r} points at unknown codes {codes!r}")
            if group.casefold() in index:
                raise ValueError(f"{self.title}: group {group!r} is already a code, name or alias")
        return index

    def code_of(self, value: object, *, sex: str | None = None) -> str:
        """The code for a code, name or alias; for a group value, the code of ``sex``
        (``"male"`` or ``"female"``).

        >>> ETHNICITY.code_of("汉"), ETHNICITY.code_of("1"), RELATION_TO_HEAD.code_of("妻子")
        ('01', '01', '12')
        >>> RELATION_TO_HEAD.code_of("子女", sex="female")
        '30'

        Raises :class:`GroupCodeValue` for a group value when ``sex`` is not known, and
        :class:`UnknownCodeValue` for anything else outside the table.
        """
        text = as_text(value)
        if text is None:
            raise UnknownCodeValue(self.title, value)
        text = "".join(text.split())
        if self.width and text.isdigit() and len(text) <= self.width:
            text = text.zfill(self.width)
        code = self._index.get(text.casefold())
        if code is None:  # only then traditional characters (漢族): OpenCC is the costly part
            code = self._index.get(to_simplified(text).casefold())
        if code is not None:
            return code
        if self.groups:
            return self._group_code(text, value, sex)
        raise UnknownCodeValue(self.title, value)

    @cached_property
    def _group_index(self) -> dict[str, tuple[str, tuple[str, str]]]:
        self._index  # noqa: B018 - checks the groups against the codes
        return {group.casefold(): (group, codes) for group, codes in self.groups.items()}

    def _group_code(self, text: str, value: object, sex: str | None) -> str:
        found = self._group_index.get(text.casefold()) or self._group_index.get(to_simplified(text).casefold())
        if found is None:
            raise UnknownCodeValue(self.title, value)
        group, (male, female) = found
        if sex == "male":
            return male
        if sex == "female":
            return female
        raise GroupCodeValue(self.title, value, group)

    def name_of(self, code: str) -> str:
        """The standard name of a code (``UnknownCodeValue`` if it is not a code)."""
        try:
            return self.names[code]
        except KeyError:
            raise UnknownCodeValue(self.title, code) from None

    def __contains__(self, value: object) -> bool:
        try:
            self.code_of(value)
        except UnknownCodeValue:
            return False
        return True


SEX = CodeTable(
    title="GB/T 2261.1 sex",
    names={"0": "未知的性别", "1": "男性", "2": "女性", "9": "未说明的性别"},
    aliases={
        "男": "1", "m": "1", "male": "1", "man": "1",
        "女": "2", "f": "2", "female": "2", "woman": "2",
        "未知": "0", "不详": "0", "unknown": "0", "u": "0",
        "未说明": "9", "未说明性别": "9",
    },
    width=1,
)

MARITAL_STATUS = CodeTable(
    title="GB/T 2261.2 marital status",
    names={
        "10": "未婚", "20": "已婚", "21": "初婚", "22": "再婚", "23": "复婚",
        "30": "丧偶", "40": "离婚", "90": "未说明的婚姻状况",
    },
    aliases={"离异": "40", "未说明": "90", "不详": "90", "有配偶": "20"},
)

ETHNICITY = CodeTable(
    title="GB 3304 ethnicity",
    names={
        "01": "汉族", "02": "蒙古族", "03": "回族", "04": "藏族", "05": "维吾尔族",
        "06": "苗族", "07": "彝族", "08": "壮族", "09": "布依族", "10": "朝鲜族",
        "11": "满族", "12": "侗族", "13": "瑶族", "14": "白族", "15": "土家族",
        "16": "哈尼族", "17": "哈萨克族", "18": "傣族", "19": "黎族", "20": "傈僳族",
        "21": "佤族", "22": "畲族", "23": "高山族", "24": "拉祜族", "25": "水族",
        "26": "东乡族", "27": "纳西族", "28": "景颇族", "29": "柯尔克孜族", "30": "土族",
        "31": "达斡尔族", "32": "仫佬族", "33": "羌族", "34": "布朗族", "35": "撒拉族",
        "36": "毛南族", "37": "仡佬族", "38": "锡伯族", "39": "阿昌族", "40": "普米族",
        "41": "塔吉克族", "42": "怒族", "43": "乌孜别克族", "44": "俄罗斯族", "45": "鄂温克族",
        "46": "德昂族", "47": "保安族", "48": "裕固族", "49": "京族", "50": "塔塔尔族",
        "51": "独龙族", "52": "鄂伦春族", "53": "赫哲族", "54": "门巴族", "55": "珞巴族",
        "56": "基诺族", "97": "其他", "98": "外国血统中国籍人士",
    },
    aliases={"han": "01", "维族": "05", "蒙族": "02", "穿青人": "97"},
    suffix="族",
)

RELATION_TO_HEAD = CodeTable(
    title="GB/T 4761 relation to household head",
    names={
        "01": "本人", "02": "户主",
        "10": "配偶", "11": "夫", "12": "妻",
        "20": "子", "21": "独生子", "22": "长子", "23": "次子", "24": "三子", "25": "四子",
        "26": "五子", "27": "养子或继子", "28": "女婿", "29": "其他儿子",
        "30": "女", "31": "独生女", "32": "长女", "33": "次女", "34": "三女", "35": "四女",
        "36": "五女", "37": "养女或继女", "38": "儿媳", "39": "其他女儿",
        "40": "孙子、孙女或外孙子、外孙女", "41": "孙子", "42": "孙女", "43": "外孙子",
        "44": "外孙女", "45": "孙媳妇或外孙媳妇", "46": "孙女婿或外孙女婿",
        "47": "曾孙子或外曾孙子", "48": "曾孙女或外曾孙女", "49": "其他孙子、孙女或外孙子、外孙女",
        "50": "父母", "51": "父亲", "52": "母亲", "53": "公公", "54": "婆婆", "55": "岳父",
        "56": "岳母", "57": "继父或养父", "58": "继母或养母", "59": "其他父母关系",
        "60": "祖父母或外祖父母", "61": "祖父", "62": "祖母", "63": "外祖父", "64": "外祖母",
        "65": "配偶的祖父母或外祖父母", "66": "曾祖父", "67": "曾祖母",
        "68": "配偶的曾祖父母或外曾祖父母", "69": "其他祖父母或外祖父母关系",
        "70": "兄弟姐妹", "71": "兄", "72": "嫂", "73": "弟", "74": "弟媳", "75": "姐姐",
        "76": "姐夫", "77": "妹妹", "78": "妹夫", "79": "其他兄弟姐妹",
        "80": "其他", "81": "伯父", "82": "伯母", "83": "叔父", "84": "婶母", "85": "舅父",
        "86": "舅母", "87": "姨父", "88": "姨母", "89": "姑父", "90": "姑母",
        "91": "堂兄弟、堂姐妹", "92": "表兄弟、表姐妹", "93": "侄子", "94": "侄女",
        "95": "外甥", "96": "外甥女", "97": "其他亲属", "99": "非亲属",
    },
    aliases={
        "丈夫": "11", "妻子": "12", "之夫": "11", "之妻": "12",
        "儿子": "20", "之子": "20", "女儿": "30", "之女": "30",
        "父": "51", "爸爸": "51", "母": "52", "妈妈": "52",
        "外孙": "43", "外孙女儿": "44",
        "哥哥": "71", "兄长": "71", "嫂子": "72", "弟弟": "73", "弟妹": "74",
        "姐": "75", "妹": "77", "儿媳妇": "38", "媳妇": "38",
        "继子": "27", "养子": "27", "继女": "37", "养女": "37", "继父": "57", "养父": "57",
        "继母": "58", "养母": "58", "叔叔": "83", "婶婶": "84", "舅舅": "85", "阿姨": "88",
        "姑姑": "90", "侄儿": "93", "外甥女儿": "96", "其他亲属关系": "97",
        "保姆": "99", "租户": "99", "借住": "99", "寄住": "99", "非亲属关系": "99",
        # group words that have a code of their own
        "夫妻": "10", "孙子女": "40", "孙辈": "40", "祖父母": "60", "外祖父母": "60", "兄妹": "70",
        "姐弟": "70", "兄弟": "70", "姐妹": "70",
    },
    groups={  # told apart only by sex: (a man's code, a woman's code)
        "子女": ("20", "30"), "儿女": ("20", "30"), "孩子": ("20", "30"), "小孩": ("20", "30"),
        "养子女": ("27", "37"), "继子女": ("27", "37"),
        "外孙子女": ("43", "44"), "岳父母": ("55", "56"), "公婆": ("53", "54"),
        "父亲或母亲": ("51", "52"), "养父母": ("57", "58"), "继父母": ("57", "58"),
    },
)

NATIONALITY = CodeTable(
    title="GB/T 2659 nationality",
    names={
        "CHN": "中国", "USA": "美国", "GBR": "英国", "FRA": "法国", "DEU": "德国",
        "ITA": "意大利", "ESP": "西班牙", "RUS": "俄罗斯", "JPN": "日本", "KOR": "韩国",
        "PRK": "朝鲜", "MNG": "蒙古", "VNM": "越南", "LAO": "老挝", "MMR": "缅甸",
        "THA": "泰国", "KHM": "柬埔寨", "MYS": "马来西亚", "SGP": "新加坡", "IDN": "印度尼西亚",
        "PHL": "菲律宾", "IND": "印度", "PAK": "巴基斯坦", "NPL": "尼泊尔", "BGD": "孟加拉国",
        "KAZ": "哈萨克斯坦", "UZB": "乌兹别克斯坦", "KGZ": "吉尔吉斯斯坦", "CAN": "加拿大",
        "MEX": "墨西哥", "BRA": "巴西", "ARG": "阿根廷", "AUS": "澳大利亚", "NZL": "新西兰",
        "NLD": "荷兰", "BEL": "比利时", "CHE": "瑞士", "SWE": "瑞典", "NOR": "挪威",
        "FIN": "芬兰", "DNK": "丹麦", "POL": "波兰", "UKR": "乌克兰", "TUR": "土耳其",
        "EGY": "埃及", "NGA": "尼日利亚", "ZAF": "南非", "ETH": "埃塞俄比亚", "KEN": "肯尼亚",
        "SAU": "沙特阿拉伯", "ARE": "阿拉伯联合酋长国", "IRN": "伊朗", "ISR": "以色列",
    },
    aliases={
        "CN": "CHN", "中华人民共和国": "CHN", "china": "CHN",
        "US": "USA", "美利坚合众国": "USA", "united states": "USA",
        "GB": "GBR", "UK": "GBR", "united kingdom": "GBR", "FR": "FRA", "france": "FRA",
        "DE": "DEU", "germany": "DEU", "IT": "ITA", "ES": "ESP", "RU": "RUS", "俄罗斯联邦": "RUS",
        "JP": "JPN", "japan": "JPN", "KR": "KOR", "大韩民国": "KOR", "south korea": "KOR",
        "KP": "PRK", "MN": "MNG", "VN": "VNM", "LA": "LAO", "MM": "MMR", "TH": "THA",
        "KH": "KHM", "MY": "MYS", "SG": "SGP", "ID": "IDN", "印尼": "IDN", "PH": "PHL",
        "IN": "IND", "PK": "PAK", "NP": "NPL", "BD": "BGD", "KZ": "KAZ", "UZ": "UZB",
        "KG": "KGZ", "CA": "CAN", "canada": "CAN", "MX": "MEX", "BR": "BRA", "AR": "ARG",
        "AU": "AUS", "澳洲": "AUS", "australia": "AUS", "NZ": "NZL", "NL": "NLD",
        "BE": "BEL", "CH": "CHE", "SE": "SWE", "NO": "NOR", "FI": "FIN", "DK": "DNK",
        "PL": "POL", "UA": "UKR", "TR": "TUR", "EG": "EGY", "NG": "NGA", "ZA": "ZAF",
        "ET": "ETH", "KE": "KEN", "SA": "SAU", "沙特": "SAU", "AE": "ARE", "阿联酋": "ARE",
        "IR": "IRN", "IL": "ISR",
    },
    width=0,
)
