"""Names: Han surnames by frequency, given names by era and sex, minority and foreign names.

Frequencies approximate the national surname ranking (王 李 张 刘 陈 ... each a few percent),
with Jiangsu's 徐 朱 陆 顾 沈 钱 slightly raised, plus surnames that pinyin gets wrong (曾 zeng,
单 shan, 区 ou, 仇 qiu, 解 xie, 查 zha, 缪 miao) and compound surnames (欧阳, 司马). Given-name
characters include homophone groups (伟/玮/炜) so that different people legitimately share a
pronunciation; ``HOMOPHONES`` is also what the noise functions swap within.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from types import MappingProxyType
from typing import Final

from simulators.district.model import Sex

__all__ = [
    "COMMON_FULL_NAMES",
    "HOMOPHONES",
    "SURNAME_VARIANTS",
    "SIMILAR_SHAPES",
    "ForeignName",
    "NamePicker",
]

_SURNAMES: Final[tuple[tuple[str, float], ...]] = (
    ("王", 7.1), ("李", 7.0), ("张", 6.6), ("刘", 5.4), ("陈", 4.8), ("杨", 3.1), ("黄", 2.4),
    ("赵", 2.2), ("吴", 2.1), ("周", 1.9), ("徐", 1.9), ("孙", 1.5), ("马", 1.5), ("朱", 1.5),
    ("胡", 1.3), ("郭", 1.1), ("何", 1.1), ("林", 1.0), ("高", 1.0), ("罗", 0.9), ("郑", 0.8),
    ("梁", 0.8), ("谢", 0.6), ("宋", 0.6), ("唐", 0.6), ("许", 0.6), ("韩", 0.55), ("冯", 0.55),
    ("邓", 0.55), ("曹", 0.5), ("彭", 0.5), ("曾", 0.5), ("肖", 0.5), ("田", 0.45), ("董", 0.45),
    ("袁", 0.4), ("潘", 0.4), ("于", 0.4), ("蒋", 0.45), ("蔡", 0.4), ("余", 0.4), ("杜", 0.35),
    ("叶", 0.35), ("程", 0.35), ("苏", 0.35), ("魏", 0.33), ("吕", 0.33), ("丁", 0.35), ("任", 0.3),
    ("沈", 0.4), ("姚", 0.3), ("卢", 0.3), ("姜", 0.28), ("崔", 0.28), ("钟", 0.28), ("谭", 0.27),
    ("陆", 0.4), ("汪", 0.3), ("范", 0.25), ("金", 0.25), ("石", 0.25), ("廖", 0.24), ("贾", 0.24),
    ("夏", 0.25), ("韦", 0.23), ("付", 0.22), ("方", 0.22), ("白", 0.21), ("邹", 0.21), ("孟", 0.2),
    ("熊", 0.2), ("秦", 0.2), ("邱", 0.2), ("江", 0.2), ("尹", 0.19), ("薛", 0.19), ("闫", 0.18),
    ("段", 0.18), ("雷", 0.18), ("侯", 0.17), ("龙", 0.17), ("史", 0.17), ("陶", 0.17), ("黎", 0.16),
    ("贺", 0.16), ("顾", 0.25), ("毛", 0.15), ("郝", 0.15), ("龚", 0.15), ("邵", 0.15), ("万", 0.14),
    ("钱", 0.18), ("严", 0.14), ("覃", 0.13), ("武", 0.13), ("戴", 0.15), ("莫", 0.12), ("孔", 0.12),
    ("向", 0.12), ("汤", 0.13), ("傅", 0.12), ("萧", 0.05), ("阎", 0.04), ("单", 0.05), ("区", 0.01),
    ("仇", 0.03), ("解", 0.03), ("查", 0.02), ("缪", 0.05), ("乐", 0.02), ("盖", 0.01), ("葛", 0.1),
    ("欧阳", 0.04), ("司马", 0.005), ("诸葛", 0.005), ("上官", 0.005),
)  # fmt: skip

# Given-name characters by (sex, era). Eras: born before 1965, 1965-1984, 1985-2004, 2005 on.
_GIVEN: Final[dict[tuple[str, int], str]] = {
    ("1", 0): "建国华明平林文德福荣强兵志忠伟海勇春金宝生祥根才庆光正中红卫东新民永成玉山",
    ("1", 1): "伟玮炜磊强军勇杰涛斌超鹏辉晖峰锋波刚健亮明铭俊峻飞鑫浩宇凯华龙晨洋军君斌彬",
    ("1", 2): "浩皓昊宇禹杰鑫磊鹏晨辰凯恺博文轩阳帅涛宁俊翔琪天睿瑞昊泽一",
    ("1", 3): "梓子轩宣浩皓宇睿瑞泽辰宸一诺铭奕嘉俊逸煜晨博彦皓然航沐",
    ("2", 0): "秀英桂兰岚玉钰珍贞凤芳华梅玫淑琴芹云芸萍红虹霞美素菊莲",
    ("2", 1): "丽莉静婧敏燕艳娟霞玲琳芳萍红琳婷雪晶颖慧蕙莉洁婕倩茜",
    ("2", 2): "婷雪琳佳嘉欣昕怡颖倩璐蕾瑶晨思梦雨丹悦月妍萱",
    ("2", 3): "梓涵晗欣馨怡雨语萱诗琪可思妍若彤桐汐曦依伊一诺悦",
}

HOMOPHONES: Final = MappingProxyType(
    {
        c: group
        for group in (
            "伟玮炜韦", "静婧靖", "丽莉俐", "燕艳雁", "敏闽", "明铭鸣", "杰洁婕", "婷庭", "辉晖",
            "华骅桦", "琳霖淋", "玲铃苓", "佳嘉家", "欣昕馨新", "宇雨语羽禹", "涵晗含", "轩萱宣", "怡仪宜",
            "浩皓昊", "晨辰宸", "峰锋丰", "涛韬", "军君钧", "刚钢", "磊蕾", "娟鹃", "红虹鸿宏",
            "梅玫", "兰岚蓝", "芳方", "萍平", "倩茜", "瑶遥", "琪琦祺", "睿瑞", "彤桐", "鹏朋",
            "斌彬", "凯恺", "俊峻骏", "健建剑", "飞菲", "龙珑", "洋阳扬", "慧惠蕙", "颖莹",
            "晶菁", "英瑛", "珍贞", "云芸", "玉钰", "文雯", "思斯", "悦月", "汐曦希", "梓子紫",
            "琴芹", "诗师", "博波", "翔祥", "泽择", "逸奕",
        )
        for c in group
    }
)
"""Each character → its homophone group (same pinyin, ignoring tone)."""

SIMILAR_SHAPES: Final = MappingProxyType(
    {
        "王": "玉", "玉": "王", "未": "末", "末": "未", "己": "已", "已": "己", "候": "侯", "侯": "候",
        "斌": "武", "刘": "浏", "杨": "扬", "陈": "阵", "赵": "越", "徐": "涂", "胡": "湖", "郭": "廓",
        "林": "材", "晴": "睛", "睛": "晴", "丽": "两", "娟": "绢", "辉": "挥", "勇": "甬", "琳": "淋",
        "强": "弘", "军": "车", "华": "毕", "梅": "海", "海": "梅", "明": "朋", "建": "健", "英": "瑛",
    }
)  # fmt: skip
"""Look-alike characters that a typist or an OCR step swaps (形近字)."""

SURNAME_VARIANTS: Final = MappingProxyType(
    {"肖": "萧", "萧": "肖", "闫": "阎", "阎": "闫", "付": "傅", "傅": "付"}
)
"""Surnames that are legally distinct yet routinely written for one another."""

COMMON_FULL_NAMES: Final[dict[Sex, tuple[str, ...]]] = {
    "1": ("张伟", "王伟", "李伟", "刘伟", "李强", "王磊", "刘洋", "王勇", "李军", "张勇", "李杰", "张杰",
          "张磊", "王强", "王军", "张涛", "王涛", "李明", "王超", "刘杰"),
    "2": ("王芳", "李娜", "张敏", "李静", "张丽", "王静", "王丽", "张静", "李敏", "王敏", "王艳", "李娟",
          "张艳", "王秀英", "李秀英", "张秀英", "刘敏", "李霞", "张燕", "王娟"),
}  # fmt: skip
"""The most frequent full names in China; pairs of namesakes are drawn from these."""

_UYGHUR_MALE: Final = ("阿不都", "买买提", "艾力", "艾克拜尔", "努尔", "吐尔逊", "热合曼", "阿卜杜拉",
                       "伊力哈木", "阿迪力", "艾尔肯", "库尔班", "麦麦提", "玉素甫", "帕尔哈提")  # fmt: skip
_UYGHUR_FEMALE: Final = ("阿依古丽", "古丽娜尔", "热依拉", "迪丽娜尔", "帕提古丽", "米日古丽", "再努尔",
                         "布合力其", "古丽米拉", "阿依努尔")  # fmt: skip
_TIBETAN: Final[dict[str, tuple[str, ...]]] = {
    "1": ("扎西", "次仁", "格桑", "旦增", "多吉", "顿珠", "平措", "尼玛", "索朗", "洛桑"),
    "2": ("卓玛", "央金", "拉姆", "德吉", "次仁", "格桑", "曲珍", "白玛", "措姆", "尼玛"),
}
_MONGOLIAN: Final[dict[str, tuple[str, ...]]] = {
    "1": ("巴特尔", "苏和", "额尔敦", "阿拉坦", "巴图", "朝鲁", "孟和"),
    "2": ("其木格", "乌云", "斯琴", "萨仁", "图雅", "高娃", "娜仁"),
}
_KOREAN_CHINESE_SURNAMES: Final = (("金", 4.0), ("李", 3.0), ("朴", 3.0), ("崔", 1.5), ("郑", 1.0), ("姜", 0.5))


@dataclass(frozen=True, slots=True)
class ForeignName:
    surname: str
    given_name: str
    display: str
    """The name in the order the person uses: "John Smith", "Kim Min-jun", "Nguyen Van An"."""
    chinese_name: str | None


_FOREIGN: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool]]] = {
    # nationality: (surnames, male given, female given, family name first)
    "USA": (("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor"),
            ("John", "Michael", "David", "James", "Robert", "William"),
            ("Emily", "Sarah", "Jessica", "Jennifer", "Elizabeth", "Maria"), False),
    "GBR": (("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas"),
            ("Oliver", "George", "Harry", "Jack", "James"), ("Amelia", "Olivia", "Emily", "Isla", "Sophie"), False),
    "KOR": (("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon"),
            ("Min-jun", "Seo-jun", "Ji-ho", "Do-yun", "Hyun-woo"), ("Ha-eun", "Seo-yeon", "Ji-eun", "Min-seo", "Soo-ah"),
            True),
    "JPN": (("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito"),
            ("Haruto", "Sota", "Ren", "Takumi"), ("Yui", "Hina", "Yuna", "Sakura"), True),
    "VNM": (("Nguyen", "Tran", "Le", "Pham", "Hoang", "Vu"),
            ("Van An", "Van Binh", "Duc Hung", "Minh Tuan", "Van Long"), ("Thi Mai", "Thi Lan", "Thi Hoa", "Thi Linh"),
            True),
    "ESP": (("Garcia", "Fernandez", "Gonzalez", "Rodriguez", "Lopez"), ("Jose", "Carlos", "Javier", "Antonio"),
            ("Maria", "Carmen", "Lucia", "Ana"), False),
    "MEX": (("Hernandez", "Garcia", "Martinez", "Lopez", "Gonzalez"), ("Jose", "Juan", "Luis", "Carlos"),
            ("Maria", "Guadalupe", "Ana", "Sofia"), False),
    "DEU": (("Müller", "Schmidt", "Schneider", "Fischer", "Weber"), ("Lukas", "Maximilian", "Felix", "Jonas"),
            ("Anna", "Lena", "Laura", "Julia"), False),
    "FRA": (("Martin", "Bernard", "Dubois", "Thomas", "Robert"), ("Lucas", "Hugo", "Louis", "Nicolas"),
            ("Camille", "Chloe", "Manon", "Lea"), False),
    "RUS": (("Ivanov", "Petrov", "Smirnov", "Kuznetsov", "Popov"), ("Ivan", "Dmitry", "Sergey", "Alexei"),
            ("Anna", "Olga", "Elena", "Natalia"), False),
    "IND": (("Sharma", "Patel", "Singh", "Kumar", "Gupta"), ("Rahul", "Amit", "Arjun", "Vikram"),
            ("Priya", "Ananya", "Pooja", "Neha"), False),
    "PAK": (("Khan", "Ali", "Ahmed", "Hussain", "Malik"), ("Muhammad", "Ahmad", "Bilal", "Usman"),
            ("Ayesha", "Fatima", "Sana", "Zainab"), False),
}  # fmt: skip

_FOREIGN_WEIGHTS: Final = (("KOR", 20.0), ("USA", 14.0), ("JPN", 10.0), ("VNM", 8.0), ("GBR", 7.0),
                           ("DEU", 6.0), ("FRA", 5.0), ("RUS", 6.0), ("IND", 6.0), ("PAK", 6.0),
                           ("ESP", 4.0), ("MEX", 3.0))  # fmt: skip

# Chinese renderings community workers write: hanja/kanji/Hán tự for East Asian names, standard
# transliterations (with a middle dot) for the others.
_HAN_FORMS: Final[dict[str, str]] = {
    "Kim": "金", "Lee": "李", "Park": "朴", "Choi": "崔", "Jung": "郑", "Kang": "姜", "Cho": "赵", "Yoon": "尹",
    "Min-jun": "敏俊", "Seo-jun": "瑞俊", "Ji-ho": "智浩", "Do-yun": "道允", "Hyun-woo": "贤宇",
    "Ha-eun": "夏恩", "Seo-yeon": "瑞妍", "Ji-eun": "智恩", "Min-seo": "敏序", "Soo-ah": "秀雅",
    "Sato": "佐藤", "Suzuki": "铃木", "Takahashi": "高桥", "Tanaka": "田中", "Watanabe": "渡边", "Ito": "伊藤",
    "Haruto": "阳翔", "Sota": "苍太", "Ren": "莲", "Takumi": "拓海", "Yui": "结衣", "Hina": "阳菜",
    "Yuna": "结菜", "Sakura": "樱",
    "Nguyen": "阮", "Tran": "陈", "Le": "黎", "Pham": "范", "Hoang": "黄", "Vu": "武",
    "Van An": "文安", "Van Binh": "文平", "Duc Hung": "德雄", "Minh Tuan": "明俊", "Van Long": "文龙",
    "Thi Mai": "氏梅", "Thi Lan": "氏兰", "Thi Hoa": "氏花", "Thi Linh": "氏玲",
}  # fmt: skip
_TRANSLITERATIONS: Final[dict[str, str]] = {
    "John": "约翰", "Michael": "迈克尔", "David": "戴维", "James": "詹姆斯", "Robert": "罗伯特",
    "William": "威廉", "Emily": "埃米莉", "Sarah": "萨拉", "Jessica": "杰西卡", "Jennifer": "珍妮弗",
    "Elizabeth": "伊丽莎白", "Maria": "玛丽亚", "Smith": "史密斯", "Johnson": "约翰逊", "Williams": "威廉斯",
    "Brown": "布朗", "Jones": "琼斯", "Miller": "米勒", "Davis": "戴维斯", "Wilson": "威尔逊",
    "Taylor": "泰勒", "Oliver": "奥利弗", "George": "乔治", "Harry": "哈里", "Jack": "杰克",
    "Amelia": "阿米莉亚", "Olivia": "奥利维亚", "Isla": "艾拉", "Sophie": "索菲", "Evans": "埃文斯",
    "Thomas": "托马斯", "Garcia": "加西亚", "Fernandez": "费尔南德斯", "Gonzalez": "冈萨雷斯",
    "Rodriguez": "罗德里格斯", "Lopez": "洛佩斯", "Hernandez": "埃尔南德斯", "Martinez": "马丁内斯",
    "Jose": "何塞", "Carlos": "卡洛斯", "Javier": "哈维尔", "Antonio": "安东尼奥", "Juan": "胡安",
    "Luis": "路易斯", "Carmen": "卡门", "Lucia": "露西亚", "Ana": "安娜", "Guadalupe": "瓜达卢佩",
    "Sofia": "索菲娅", "Müller": "米勒", "Schmidt": "施密特", "Schneider": "施奈德", "Fischer": "菲舍尔",
    "Weber": "韦伯", "Lukas": "卢卡斯", "Maximilian": "马克西米利安", "Felix": "费利克斯", "Jonas": "约纳斯",
    "Anna": "安娜", "Lena": "莉娜", "Laura": "劳拉", "Julia": "朱莉娅", "Martin": "马丁", "Bernard": "贝尔纳",
    "Dubois": "杜布瓦", "Lucas": "卢卡", "Hugo": "雨果", "Louis": "路易", "Nicolas": "尼古拉",
    "Camille": "卡米耶", "Chloe": "克洛伊", "Manon": "玛农", "Lea": "莱娅", "Ivanov": "伊万诺夫",
    "Petrov": "彼得罗夫", "Smirnov": "斯米尔诺夫", "Kuznetsov": "库兹涅佐夫", "Popov": "波波夫",
    "Ivan": "伊万", "Dmitry": "德米特里", "Sergey": "谢尔盖", "Alexei": "阿列克谢", "Olga": "奥尔加",
    "Elena": "叶连娜", "Natalia": "娜塔莉亚", "Sharma": "夏尔马", "Patel": "帕特尔", "Singh": "辛格",
    "Kumar": "库马尔", "Gupta": "古普塔", "Rahul": "拉胡尔", "Amit": "阿米特", "Arjun": "阿琼",
    "Vikram": "维克拉姆", "Priya": "普丽娅", "Ananya": "阿南娅", "Pooja": "普佳", "Neha": "妮哈",
    "Khan": "汗", "Ali": "阿里", "Ahmed": "艾哈迈德", "Hussain": "侯赛因", "Malik": "马利克",
    "Muhammad": "穆罕默德", "Ahmad": "艾哈迈德", "Bilal": "比拉勒", "Usman": "奥斯曼", "Ayesha": "阿伊莎",
    "Fatima": "法蒂玛", "Sana": "萨娜", "Zainab": "宰娜卜",
}  # fmt: skip


def _russian_feminine(surname: str) -> str:
    """Russian women carry the feminine form of the family name (Ivanov → Ivanova)."""
    return surname + "a"


def _cumulative(pairs: tuple[tuple[str, float], ...]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    return tuple(p[0] for p in pairs), tuple(accumulate(p[1] for p in pairs))


def era_of(year: int) -> int:
    if year < 1965:
        return 0
    if year < 1985:
        return 1
    if year < 2005:
        return 2
    return 3


class NamePicker:
    """Draws names with a caller's ``random.Random``; holds only immutable lookup tables."""

    __slots__ = ("_foreign", "_korean", "_surnames")

    def __init__(self) -> None:
        self._surnames = _cumulative(_SURNAMES)
        self._korean = _cumulative(_KOREAN_CHINESE_SURNAMES)
        self._foreign = _cumulative(_FOREIGN_WEIGHTS)

    def surname(self, rng: random.Random, ethnicity: str = "01") -> str:
        values, weights = self._korean if ethnicity == "10" else self._surnames
        return values[bisect_right(weights, rng.random() * weights[-1])]

    def given_name(self, rng: random.Random, sex: Sex, birth_year: int) -> str:
        """One or two characters; single-character names are commoner among the old."""
        era = era_of(birth_year)
        pool = _GIVEN[(sex, era)]
        single = (0.3, 0.25, 0.12, 0.1)[era]
        if rng.random() < single:
            return rng.choice(pool)
        first = rng.choice(pool)
        second = rng.choice(pool)
        while second == first:
            second = rng.choice(pool)
        return first + second

    def twin_given_names(self, rng: random.Random, sexes: tuple[Sex, Sex], birth_year: int) -> tuple[str, str]:
        """Twins' names, half the time sharing their first character (子涵 / 子轩)."""
        first = self.given_name(rng, sexes[0], birth_year)
        second = self.given_name(rng, sexes[1], birth_year)
        if len(first) == 2 and rng.random() < 0.5:
            pool = _GIVEN[(sexes[1], era_of(birth_year))]
            tail = rng.choice(pool)
            while tail in first:
                tail = rng.choice(pool)
            second = first[0] + tail
        while second == first:
            second = self.given_name(rng, sexes[1], birth_year)
        return first, second

    def minority_name(self, rng: random.Random, ethnicity: str, sex: Sex, father: str | None) -> tuple[str, str, str]:
        """(full name, surname, given name) in a minority's own naming style.

        Uyghur and Kazakh names join the person's name and the father's name with a middle dot
        (阿不都·热合曼); Tibetan names have no surname; other minorities use Han-style names.
        """
        if ethnicity in {"05", "17"}:
            given = rng.choice(_UYGHUR_MALE if sex == "1" else _UYGHUR_FEMALE)
            father_name = father or rng.choice(_UYGHUR_MALE)
            return f"{given}·{father_name}", "", f"{given}·{father_name}"
        if ethnicity == "04":
            pool = _TIBETAN[sex]
            first = rng.choice(pool)
            second = rng.choice(pool)
            while second == first:
                second = rng.choice(pool)
            return first + second, "", first + second
        if ethnicity == "02" and rng.random() < 0.5:
            given = rng.choice(_MONGOLIAN[sex])
            return given, "", given
        raise LookupError("Han-style name")

    def foreign_nationality(self, rng: random.Random) -> str:
        values, weights = self._foreign
        return rng.choices(values, cum_weights=weights)[0]

    def foreign_name(self, rng: random.Random, nationality: str, sex: Sex, surname: str | None = None) -> ForeignName:
        surnames, male, female, family_first = _FOREIGN[nationality]
        family = surname or rng.choice(surnames)
        given = rng.choice(male if sex == "1" else female)
        if nationality == "RUS" and sex == "2" and not family.endswith("a"):
            family = _russian_feminine(family)
        display = f"{family} {given}" if family_first else f"{given} {family}"
        chinese: str | None
        if family_first:
            chinese = _HAN_FORMS.get(family, "") + _HAN_FORMS.get(given, "") or None
        else:
            feminine = nationality == "RUS" and sex == "2"
            han_given = _TRANSLITERATIONS.get(given)
            han_family = _TRANSLITERATIONS.get(family[:-1] if feminine else family)
            if han_family is not None and feminine and han_family.endswith("夫"):
                han_family = han_family[:-1] + "娃"
            chinese = f"{han_given}·{han_family}" if han_given and han_family else None
        return ForeignName(surname=family, given_name=given, display=display, chinese_name=chinese)
