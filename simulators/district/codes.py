"""National code tables the simulator writes: ethnicity, family relation, marital status, sex.

The truth model stores codes; departments render either the code or its name, as their own
systems do (public security prints "汉族" and "长子", social security sends "01" and "1").
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = [
    "ETHNICITY",
    "MARITAL_STATUS",
    "NATIONALITY",
    "RELATION",
    "SEX",
]

SEX: Final = MappingProxyType({"1": "男", "2": "女"})
"""GB/T 2261.1-2003 (only the two codes a person is ever given here)."""

MARITAL_STATUS: Final = MappingProxyType(
    {"10": "未婚", "20": "已婚", "21": "初婚", "22": "再婚", "23": "复婚", "30": "丧偶", "40": "离婚", "90": "未说明的婚姻状况"}
)
"""GB/T 2261.2-2003."""

ETHNICITY: Final = MappingProxyType(
    {
        "01": "汉族", "02": "蒙古族", "03": "回族", "04": "藏族", "05": "维吾尔族", "06": "苗族",
        "07": "彝族", "08": "壮族", "09": "布依族", "10": "朝鲜族", "11": "满族", "12": "侗族",
        "13": "瑶族", "14": "白族", "15": "土家族", "16": "哈尼族", "17": "哈萨克族", "18": "傣族",
        "19": "黎族", "20": "傈僳族", "21": "佤族", "22": "畲族", "23": "高山族", "24": "拉祜族",
        "25": "水族", "26": "东乡族", "27": "纳西族", "28": "景颇族", "29": "柯尔克孜族", "30": "土族",
        "31": "达斡尔族", "32": "仫佬族", "33": "羌族", "34": "布朗族", "35": "撒拉族", "36": "毛南族",
        "37": "仡佬族", "38": "锡伯族", "39": "阿昌族", "40": "普米族", "41": "塔吉克族", "42": "怒族",
        "43": "乌孜别克族", "44": "俄罗斯族", "45": "鄂温克族", "46": "德昂族", "47": "保安族",
        "48": "裕固族", "49": "京族", "50": "塔塔尔族", "51": "独龙族", "52": "鄂伦春族", "53": "赫哲族",
        "54": "门巴族", "55": "珞巴族", "56": "基诺族",
    }
)  # fmt: skip
"""GB 3304-1991 ethnicity codes."""

RELATION: Final = MappingProxyType(
    {
        "01": "本人", "02": "户主", "10": "配偶", "11": "夫", "12": "妻",
        "20": "子", "21": "独生子", "22": "长子", "23": "次子", "24": "三子", "28": "女婿",
        "30": "女", "31": "独生女", "32": "长女", "33": "次女", "34": "三女", "38": "儿媳",
        "41": "孙子", "42": "孙女", "43": "外孙子", "44": "外孙女",
        "51": "父亲", "52": "母亲", "53": "公公", "54": "婆婆", "55": "岳父", "56": "岳母",
        "61": "祖父", "62": "祖母", "71": "兄", "72": "嫂", "73": "弟", "74": "弟媳",
        "75": "姐姐", "76": "姐夫", "77": "妹妹", "78": "妹夫", "97": "其他亲属", "99": "非亲属",
    }
)  # fmt: skip
"""GB/T 4761-2008 family relation codes (the subset this district uses)."""

NATIONALITY: Final = MappingProxyType(
    {
        "CHN": "中国", "USA": "美国", "GBR": "英国", "KOR": "韩国", "JPN": "日本", "VNM": "越南",
        "ESP": "西班牙", "MEX": "墨西哥", "DEU": "德国", "FRA": "法国", "RUS": "俄罗斯",
        "IND": "印度", "PAK": "巴基斯坦",
    }
)  # fmt: skip
"""GB/T 2659 / ISO 3166-1 alpha-3 codes of the nationalities that occur, with Chinese names."""

SON_ORDER: Final = ("22", "23", "24")
DAUGHTER_ORDER: Final = ("32", "33", "34")
