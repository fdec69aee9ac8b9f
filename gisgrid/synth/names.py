"""Name pools and the names drawn from them: streets, communities, complexes, companies, roads, people.

Every name is drawn with the generator's ``rng``, so the same seed gives the same names.
"""

from __future__ import annotations

import numpy as np

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂华建国玉兰志红梅文斌海燕鹏辉宇浩凯欣怡婷雪晨阳博雷飞鑫亮成"
)
STREET_A = list("东西南北新兴永和安康德泰福瑞长光")
STREET_B = list("城华阳平宁丰盛园湖山")
COMMUNITY_A = list("翠锦金银桃杏梧桐松柏枫荷兰梅竹菊春秋海林泉溪月星云")
COMMUNITY_B = list("苑园庭里坊湾府居景轩港")
COMPLEX_A = [
    "阳光", "锦绣", "金色", "幸福", "和谐", "书香", "碧水", "御景", "翡翠", "紫薇", "银河", "世纪",
    "东方", "盛世", "滨湖", "凤凰", "丽景", "怡和", "康乐", "嘉禾", "铁道", "电厂", "矿务", "纺织",
    "奚仲", "临山", "龙潭", "运河", "荷花", "樱花", "泰和", "天衢", "兴业", "常青", "明珠", "青檀",
    "润园", "祥和", "富源", "文昌",
]
COMPLEX_B = ["花园", "小区", "家园", "新村", "嘉园", "名邸", "华府", "雅居", "公寓", "苑", "山庄", "佳苑"]
COMPANY_CITY = ["枣庄", "薛城", "鲁南", "山东", "齐鲁", "滕州"]
COMPANY_WORD = [
    "恒安", "诚信", "佳和", "宏达", "瑞祥", "安居", "润泽", "金盾", "绿城", "正和", "鑫源", "华润",
    "万和", "德信", "泰丰", "康居", "众诚", "永安", "鸿福", "嘉诚",
]
COMPANY_FORM = ["物业服务有限公司", "物业管理有限公司"]
ROAD_EW = list("长黄泰珠淮嵩昆天华衡峨庐太燕秦岱沂汶洛湘")
ROAD_EW_B = ["江", "河", "山", "海", "原", "岭"]
ROAD_NS = [
    "人民", "建设", "解放", "光明", "民生", "和平", "复兴", "振兴", "幸福", "新华", "文化", "育才",
    "科技", "府前", "永福", "兴仁", "德仁", "临城", "常庄", "巨山", "沙沟", "周营", "邹坞", "陶庄",
]
CN_DIGITS = "一二三四五六七八九十"


def combo_names(rng: np.random.Generator, a: list[str], b: list[str], n: int, suffix: str = "") -> list[str]:
    """``n`` distinct names a+b(+suffix) in a seeded order; ordinals (二期…) once the pool runs out."""
    pool = [x + y for x in a for y in b]
    order = rng.permutation(len(pool))
    out = []
    for k in range(n):
        base = pool[order[k % len(pool)]]
        rnd = k // len(pool)
        out.append(base + suffix if rnd == 0 else f"{base}{cn_number(rnd + 1)}期{suffix}")
    return out


def cn_number(k: int) -> str:
    """1–99 in Chinese numerals (二, 十二, 二十三), for ordinals such as 二期."""
    if k <= 10:
        return CN_DIGITS[k - 1]
    if k < 20:
        return "十" + CN_DIGITS[k - 11]
    tens, ones = divmod(k, 10)
    return CN_DIGITS[tens - 1] + "十" + (CN_DIGITS[ones - 1] if ones else "")


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` Chinese personal names: a surname and one given character, or two (70 %)."""
    sur = np.asarray(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    g1 = np.asarray(GIVEN)[rng.integers(0, len(GIVEN), n)]
    g2 = np.asarray(GIVEN)[rng.integers(0, len(GIVEN), n)]
    two = rng.random(n) < 0.7
    return np.where(two, np.char.add(np.char.add(sur, g1), g2), np.char.add(sur, g1)).astype(object)

