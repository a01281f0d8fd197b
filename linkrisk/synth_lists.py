"""Fixed tables for the synthetic population (:mod:`linkrisk.synth`).

Word lists (common surnames and given-name characters, generic street names, made-up
company names), the tables derived from them and from python-stdnum's division codes,
and the column kinds and scenarios of the generated study file. Everything here is
invented or generic. Changing a table changes every generated file, so treat these as
part of the sample data's definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

DIVISION_COUNT = 300  # county codes drawn from python-stdnum's division table

# The 60 most common Chinese surnames with rough shares in percent (order of the
# 2020 household-register ranking; the numbers only shape the distribution).
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.25), ("李", 7.19), ("张", 6.83), ("刘", 5.38), ("陈", 4.53),
    ("杨", 3.08), ("黄", 2.23), ("赵", 2.29), ("吴", 2.05), ("周", 2.10),
    ("徐", 1.67), ("孙", 1.54), ("马", 1.45), ("朱", 1.26), ("胡", 1.31),
    ("郭", 1.15), ("何", 1.18), ("高", 1.07), ("林", 1.13), ("罗", 0.95),
    ("郑", 0.96), ("梁", 0.89), ("谢", 0.81), ("宋", 0.73), ("唐", 0.70),
    ("许", 0.66), ("韩", 0.61), ("冯", 0.61), ("邓", 0.61), ("曹", 0.58),
    ("彭", 0.56), ("曾", 0.56), ("肖", 0.55), ("田", 0.51), ("董", 0.50),
    ("袁", 0.48), ("潘", 0.46), ("于", 0.46), ("蒋", 0.46), ("蔡", 0.45),
    ("余", 0.44), ("杜", 0.43), ("叶", 0.42), ("程", 0.41), ("苏", 0.40),
    ("魏", 0.39), ("吕", 0.38), ("丁", 0.37), ("任", 0.36), ("沈", 0.35),
    ("姚", 0.34), ("卢", 0.33), ("姜", 0.32), ("崔", 0.31), ("钟", 0.30),
    ("谭", 0.29), ("陆", 0.28), ("汪", 0.27), ("范", 0.26), ("金", 0.25),
)

# Surnames whose reading differs from pypinyin's default reading of the character.
SURNAME_READINGS: dict[str, str] = {"曾": "zeng"}

# 159 characters common in given names, all with an unambiguous default reading.
GIVEN_CHARACTERS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂华建国文辉玲红鹏飞鑫波斌宇浩凯健俊"
    "帆帅旭宁龙林欣佳雪梅琳晶颖倩婷慧莉萍燕兰凤洁琴云玉丹蕾璐雯怡欢悦瑶琪晨阳亮成峰辰"
    "博昊然睿轩泽子梓涵思雨彤诗可嘉一小晓志海春永新立东金光德荣福生祥正庆振家少天世万"
    "仁义智信忠安康清源宏远达胜利民兴旺贵富卫晴月星秋冬菊莲芬翠珍淑惠巧美爱妮娇婉琦"
)

# Share of given names with two characters (the rest have one).
TWO_CHARACTER_GIVEN_SHARE = 0.7

STREETS = (
    "中山路", "人民路", "解放路", "建设路", "和平路", "胜利路", "新华路", "文化路",
    "光明路", "幸福路", "长江路", "黄河路", "朝阳路", "团结路", "友谊路", "育才路",
    "工农路", "建国路", "民主路", "东风路",
)

# 8 x 5 = 40 made-up employers.
_COMPANY_STEMS = ("恒远", "华信", "鼎盛", "宏达", "瑞丰", "天成", "金鹏", "新元")
_COMPANY_TYPES = ("科技有限公司", "物流有限公司", "建设集团", "食品有限公司", "电子有限公司")
EMPLOYERS = tuple(stem + kind for kind in _COMPANY_TYPES for stem in _COMPANY_STEMS)

HOME_NATIONALITY = "中国"
HOME_NATIONALITY_SHARE = 0.98
OTHER_NATIONALITIES = ("哈萨克斯坦", "巴基斯坦", "俄罗斯", "韩国", "越南", "美国", "日本")

# Mobile prefixes of the three networks (and their virtual operators).
PHONE_PREFIXES: tuple[int, ...] = (
    *range(130, 140), 147, *range(150, 154), *range(155, 160), 166,
    *range(170, 179), *range(180, 190), 198, 199,
)

EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("qq.com", 0.40), ("163.com", 0.20), ("126.com", 0.10),
    ("gmail.com", 0.10), ("outlook.com", 0.10), ("sina.com", 0.10),
)

PURCHASE_CATEGORIES = (
    "electronics", "clothing", "groceries", "books", "cosmetics",
    "home appliances", "baby products", "sports", "toys", "health supplements",
)

DIAGNOSES = (
    "高血压", "2型糖尿病", "上呼吸道感染", "慢性胃炎", "腰椎间盘突出", "过敏性鼻炎",
    "抑郁症", "焦虑症", "乙型肝炎", "支气管哮喘", "骨折", "健康体检",
)


# --- Tables derived from python-stdnum and pypinyin -----------------------------------

def _objects(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=object)


def _current_name(value: str) -> str | None:
    """The name in force today from a loc.dat value such as ``[-1991]东郊区,[1992-]东丽区``."""
    last = value.split(",")[-1]
    if last.startswith("["):
        span, last = last[1:].split("]")
        if not span.endswith("-"):
            return None
    return last


@dataclass(frozen=True)
class Places:
    codes: np.ndarray  # 6-digit county codes, int
    address_prefix: np.ndarray  # province + prefecture + county, object
    postcode: np.ndarray  # object


@lru_cache(maxsize=1)
def places() -> Places:
    """Counties from python-stdnum's division table whose code is valid in every year.

    A county qualifies when its name carries no ``[start-end]`` year range (the code
    was never reassigned) and its code does not end in ``00`` (a prefecture). A fixed,
    evenly spread subset of ``DIVISION_COUNT`` of them is used.
    """
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text("utf-8")
    provinces: dict[str, str] = {}
    names: dict[str, str] = {}
    province = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        code, _, prop = line.strip().partition(" ")
        value = prop.split("=", 1)[1].strip('"')
        if line.startswith(" "):
            names[province + code] = value
        else:
            province = code
            provinces[code] = value
    usable = sorted(c for c, v in names.items()
                    if c[4:] != "00" and "[" not in v and "," not in v)
    pick = np.unique(np.linspace(0, len(usable) - 1, min(DIVISION_COUNT, len(usable)))
                     .round().astype(int))
    chosen = [usable[i] for i in pick]
    prefixes, postcodes = [], []
    for code in chosen:
        prefecture = _current_name(names.get(code[:4] + "00", "")) or ""
        if not prefecture.endswith(("市", "州", "盟", "地区")) or prefecture == "市辖区":
            prefecture = ""
        prefixes.append(provinces[code[:2]] + prefecture + names[code])
        # Postcodes are not division codes; derive a stable, code-like number from one.
        postcodes.append(f"{code[:2]}{int(code[2:4]) * 37 % 100:02d}{int(code[4:]) * 7 % 100:02d}")
    return Places(np.array([int(c) for c in chosen], dtype=np.int64),
                  _objects(prefixes), _objects(postcodes))


@dataclass(frozen=True)
class NameTables:
    """Surname and given-name characters with their pinyin; index -1 of a given-name
    table is the empty string (a one-character given name has no second character)."""

    surname_weights: np.ndarray
    surname_han: np.ndarray
    surname: dict[str, np.ndarray]  # "low", "cap", "up" -> pinyin
    given_han: np.ndarray
    given: dict[str, np.ndarray]
    given_codes: np.ndarray  # code points, for typos


@lru_cache(maxsize=1)
def name_tables() -> NameTables:
    """Pinyin of every surname and given-name character, computed once with pypinyin."""
    from pypinyin import lazy_pinyin

    sur_han, weights = zip(*SURNAMES)
    sur_py = [SURNAME_READINGS.get(c) or lazy_pinyin(c)[0] for c in sur_han]
    giv_han = list(GIVEN_CHARACTERS)
    giv_py = [lazy_pinyin(c)[0] for c in giv_han] + [""]

    def cases(syllables: list[str]) -> dict[str, np.ndarray]:
        return {"low": _objects(syllables), "cap": _objects([s.capitalize() for s in syllables]),
                "up": _objects([s.upper() for s in syllables])}

    w = np.array(weights)
    return NameTables(w / w.sum(), _objects(sur_han), cases(sur_py), _objects(giv_han + [""]),
                      cases(giv_py), np.array([ord(c) for c in giv_han], dtype=np.uint32))


# --- The generated study file ----------------------------------------------------------

STUDY_DATASETS = {
    "surveillance": ("facial-recognition tracking database", {
        "resident_id": "national_id", "name": "full_name", "sex": "sex",
        "nationality": "nationality", "birth_date": "date_of_birth", "address": "address",
        "employer": "employer", "photo": "photo", "sightings": "location_trace"}),
    "telecom": ("telecom subscriber registry", {
        "phone": "phone", "resident_id": "national_id", "name": "full_name",
        "address": "address"}),
    "ecommerce": ("e-commerce customer table", {
        "email": "email", "phone": "phone", "name": "full_name",
        "shipping_address": "address", "postcode": "postcode",
        "purchases": "purchase_history"}),
    "clinic": ("clinic register", {
        "name": "full_name", "birth_date": "date_of_birth", "sex": "sex", "phone": "phone",
        "diagnosis": "health"}),
}

STUDY_SCENARIOS = """\
[[scenarios]]
name = "keyed-hash-per-holder"
description = "HMAC-SHA256 of resident ID, phone and email, a separate key for each data holder"
[scenarios.policy]
national_id = { technique = "keyed_hash", key_scope = "dataset" }
phone = { technique = "keyed_hash", key_scope = "dataset" }
email = { technique = "keyed_hash", key_scope = "dataset" }

[[scenarios]]
name = "keyed-hash-shared-key"
description = "the same HMAC key at every holder"
[scenarios.policy]
national_id = { technique = "keyed_hash", key_scope = "global" }
phone = { technique = "keyed_hash", key_scope = "global" }
email = { technique = "keyed_hash", key_scope = "global" }

[[scenarios]]
name = "sha256-resident-id"
description = "unkeyed SHA-256 of the resident ID"
[scenarios.policy]
national_id = { technique = "hash" }

[[scenarios]]
name = "generalise-dob-postcode"
description = "date of birth to year, postcode to its first 3 digits"
[scenarios.policy]
date_of_birth = { technique = "generalise", level = "year" }
postcode = { technique = "generalise", level = 3 }
"""

# the face scenarios of a sample written with face templates (linkrisk.synth --faces; docs/faces.md)
FACE_SCENARIOS = """
[[scenarios]]
name = "drop-face-templates"
description = "identifiers keyed per holder, and no face template released"
[scenarios.policy]
national_id = { technique = "keyed_hash", key_scope = "dataset" }
phone = { technique = "keyed_hash", key_scope = "dataset" }
email = { technique = "keyed_hash", key_scope = "dataset" }
face_template = { technique = "drop" }

[[scenarios]]
name = "low-quality-templates"
description = "identifiers keyed per holder, templates released with noise of length 0.5 added (a capture holds about 0.42)"
[scenarios.policy]
national_id = { technique = "keyed_hash", key_scope = "dataset" }
phone = { technique = "keyed_hash", key_scope = "dataset" }
email = { technique = "keyed_hash", key_scope = "dataset" }
face_template = { technique = "degrade_template", level = 0.5 }

[[scenarios]]
name = "protected-templates-per-holder"
description = "identifiers keyed per holder, templates under a keyed random rotation per holder"
[scenarios.policy]
national_id = { technique = "keyed_hash", key_scope = "dataset" }
phone = { technique = "keyed_hash", key_scope = "dataset" }
email = { technique = "keyed_hash", key_scope = "dataset" }
face_template = { technique = "protect_template", key_scope = "dataset" }
"""
