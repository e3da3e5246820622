"""Lookup tables for the synthetic province: places, industries, name parts, banks, lists.

Data only, used by :mod:`producers.generator`. Division codes are real GB/T 2260 county-level
codes as they stood in 2014-2017 (merged districts such as 330103 下城 keep their codes on
issued credit codes, domain.md §1). Industry codes are GB/T 4754-2017 classes. Weights are
our estimates where domain.md gives no figure, and say so.

Example::

    >>> DISTRICTS["330700"][5].name, CITY_ABBREVIATIONS["330200"]
    ('义乌市', '甬')
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "BANKS",
    "BRAND_SYLLABLES",
    "CITY_ABBREVIATIONS",
    "CITY_WEIGHTS",
    "COOP_PRODUCTS",
    "DECISION_PREFIXES",
    "DISTRICTS",
    "INDIVIDUAL_SECTIONS",
    "INDUSTRIES",
    "LISTING_REASONS",
    "SECTOR_AFFINITY",
    "WELL_KNOWN_BODIES",
    "District",
    "Industry",
]


class District(NamedTuple):
    """A county-level division: its GB/T 2260 code, full name and share within its city."""

    code: str
    name: str
    weight: float


class Industry(NamedTuple):
    """A GB/T 4754 class: code (section letter + 4 digits), name words, typical Nice classes."""

    code: str
    words: tuple[str, ...]
    nice_classes: tuple[int, ...]


# Firm counts follow economic size (domain.md gives no per-city figures): roughly each
# city's share of provincial GDP around 2017 [from memory, approximate]; Hangzhou and
# Ningbo largest, Zhoushan and Lishui smallest. Keys are the §1 city codes.
CITY_WEIGHTS: dict[str, float] = {
    "330100": 25.0, "330200": 19.0, "330300": 11.0, "330400": 8.5, "330500": 5.0,
    "330600": 10.0, "330700": 9.0, "330800": 2.8, "330900": 2.0, "331000": 9.0,
    "331100": 2.2,
}  # fmt: skip

# One-character abbreviations used on local decision documents (杭税稽罚〔2016〕123号).
CITY_ABBREVIATIONS: dict[str, str] = {
    "330100": "杭", "330200": "甬", "330300": "温", "330400": "嘉", "330500": "湖",
    "330600": "绍", "330700": "金", "330800": "衢", "330900": "舟", "331000": "台",
    "331100": "丽",
}  # fmt: skip


def _districts(text: str) -> tuple[District, ...]:
    """``"330102 上城区 1.0, ..."`` -> Districts (code, name, weight)."""
    return tuple(District(c, n, float(w)) for c, n, w in (i.split() for i in text.split(",")))


def _classes(text: str) -> tuple[Industry, ...]:
    """``"C1713 印染/纺织 24/23; ..."`` -> Industries (code, name words, Nice classes)."""
    return tuple(
        Industry(code, tuple(words.split("/")), tuple(int(n) for n in nice.split("/")))
        for code, words, nice in (item.split() for item in text.split(";"))
    )


DISTRICTS: dict[str, tuple[District, ...]] = {
    "330100": _districts(
        "330102 上城区 1.0, 330103 下城区 1.0, 330104 江干区 1.2, 330105 拱墅区 1.0, "
        "330106 西湖区 1.6, 330108 滨江区 1.4, 330109 萧山区 2.0, 330110 余杭区 2.0"
    ),
    "330200": _districts(
        "330203 海曙区 1.2, 330205 江北区 0.8, 330206 北仑区 1.2, 330211 镇海区 0.8, "
        "330212 鄞州区 2.0, 330226 宁海县 0.8, 330281 余姚市 1.2, 330282 慈溪市 1.5"
    ),
    "330300": _districts(
        "330302 鹿城区 1.5, 330303 龙湾区 1.0, 330304 瓯海区 1.0, 330324 永嘉县 0.7, "
        "330326 平阳县 0.6, 330327 苍南县 0.6, 330381 瑞安市 1.3, 330382 乐清市 1.3"
    ),
    "330400": _districts(
        "330402 南湖区 1.0, 330411 秀洲区 0.9, 330421 嘉善县 0.8, 330424 海盐县 0.6, "
        "330481 海宁市 1.0, 330482 平湖市 0.8, 330483 桐乡市 1.0"
    ),
    "330500": _districts(
        "330502 吴兴区 1.0, 330503 南浔区 0.8, 330521 德清县 0.8, 330522 长兴县 1.0, "
        "330523 安吉县 0.7"
    ),
    "330600": _districts(
        "330602 越城区 1.0, 330603 柯桥区 1.5, 330604 上虞区 1.0, 330624 新昌县 0.5, "
        "330681 诸暨市 1.3, 330683 嵊州市 0.6"
    ),
    "330700": _districts(
        "330702 婺城区 0.8, 330703 金东区 0.5, 330723 武义县 0.4, 330726 浦江县 0.4, "
        "330781 兰溪市 0.4, 330782 义乌市 2.5, 330783 东阳市 0.7, 330784 永康市 0.8"
    ),
    "330800": _districts(
        "330802 柯城区 1.0, 330803 衢江区 0.6, 330822 常山县 0.4, 330824 开化县 0.3, "
        "330825 龙游县 0.5, 330881 江山市 0.6"
    ),
    "330900": _districts(
        "330902 定海区 1.2, 330903 普陀区 1.0, 330921 岱山县 0.4, 330922 嵊泗县 0.2"
    ),
    "331000": _districts(
        "331002 椒江区 1.0, 331003 黄岩区 0.9, 331004 路桥区 0.9, 331021 玉环县 0.7, "
        "331023 天台县 0.4, 331081 温岭市 1.3, 331082 临海市 1.0"
    ),
    "331100": _districts(
        "331102 莲都区 1.0, 331121 青田县 0.6, 331122 缙云县 0.5, 331123 遂昌县 0.3, "
        "331181 龙泉市 0.4"
    ),
}

# Section -> (share of firms in %, classes). Our estimate for Zhejiang's private economy
# (domain.md §7 gives counts, not a breakdown): manufacturing (C) and wholesale/retail (F)
# dominate. GB/T 4754: E is construction, F wholesale and retail, G transport and logistics.
INDUSTRIES: dict[str, tuple[float, tuple[Industry, ...]]] = {
    "A": (2.0, _classes("A0141 农业开发/生态农业 31/29; A0313 畜牧/养殖 31/29;"
                        "A0411 水产/渔业 31/29")),
    "B": (0.2, _classes("B1011 矿业/石料 19")),
    "C": (30.0, _classes(
        "C1411 食品 30/29; C1711 纺织/纱线 23/24; C1713 印染/纺织 24/23; C1819 服饰/制衣 25;"
        "C1952 鞋业 25; C2110 家具 20; C2231 包装/纸业 16; C2411 文具 16; C2439 工艺品/礼品 28/21;"
        "C2710 药业/制药 5; C2929 塑业/塑料制品 17/21; C3311 钢结构/金属制品 6;"
        "C3443 阀门/流体设备 7/6; C3484 机械/机械制造 7; C3489 制造/精密制造 7/6;"
        "C3670 汽车部件/汽配 12; C3831 线缆/电缆 9; C3851 电器/家电 11/7; C3911 电子/科技 9;"
        "C3982 电子/电路 9")),
    "D": (0.3, _classes("D4411 能源/热电 4/40; D4610 水务 11/40")),
    "E": (6.0, _classes(
        "E4710 建设/建筑 37; E4812 路桥建设/交通工程 37; E4910 机电安装/电力安装 37;"
        "E5011 装饰工程/建设 37/19; E5012 家居装饰/装饰设计 37/42")),
    "F": (28.0, _classes(
        "F5131 纺织品/贸易 24/35; F5132 服饰/贸易 25/35; F5137 电器/贸易 9/11/35;"
        "F5174 五金/贸易 6/8/35; F5191 电子商务/贸易 35; F5199 进出口/商贸/贸易 35/21;"
        "F5211 百货/商贸 35; F5212 超市 35; F5292 电子商务/网络科技 35/25/9")),
    "G": (4.0, _classes("G5431 物流/运输 39; G5821 货运代理/物流 39; G5920 仓储/物流 39")),
    "H": (3.0, _classes("H6110 酒店管理/酒店 43; H6210 餐饮/餐饮管理 43/30;"
                        "H6220 餐饮/快餐 43/30")),
    "I": (6.0, _classes(
        "I6513 科技/软件/信息技术 9/42; I6520 微电子/集成电路 9/42; I6432 网络科技/科技 35/38/42")),
    "K": (3.0, _classes("K7010 房地产开发/置业 36/37; K7020 物业管理/物业服务 36/37")),
    "L": (9.0, _classes(
        "L7212 投资管理/资产管理 36/35; L7243 企业管理咨询/商务咨询 35;"
        "L7259 广告/文化传媒 35/41; L7289 会展服务/展览 35/41")),
    "M": (5.0, _classes(
        "M7320 科技/技术开发 42; M7452 检测技术/检测 42; M7513 新材料科技/新材料 1/17/42;"
        "M7514 节能科技/新能源科技 42/11")),
    "N": (1.0, _classes("N7721 环保/环境工程 40/42; N7723 环保/再生资源 40")),
    "O": (2.0, _classes("O8010 家政服务 45/37; O8111 汽车服务/汽车维修 37")),
    "P": (0.5, _classes("P8391 教育咨询/职业培训 41")),
}  # fmt: skip

# Individual businesses (92) are shops, eateries and services; co-operatives (93) farm (§1).
INDIVIDUAL_SECTIONS = ("F", "H", "O")
COOP_PRODUCTS = ("果蔬", "茶叶", "水产", "粮油", "花木", "畜禽", "葡萄", "杨梅")

# Auspicious characters Chinese firms put in their trade names (字号).
BRAND_SYLLABLES = (
    "恒泰华鑫盛隆达源丰利兴宏信诚德瑞祥嘉昌安康新永金宝汇通正中天明光海润森博创锐尚品优捷"
    "佳美晨阳辉耀旺顺和合云峰凯远航腾越群力邦诺亿万赛飞龙凤宇星辰欣益久富贵鼎盈"
)

BANKS = (
    "中国工商银行", "中国农业银行", "中国银行", "中国建设银行", "交通银行", "招商银行",
    "浙商银行", "杭州银行", "宁波银行", "浙江泰隆商业银行", "浙江稠州商业银行",
)  # fmt: skip

# Deciding bodies for a well-known mark before the 2018 reorganisation (§5: office,
# review board or designated courts); the court is the firm's city intermediate court.
WELL_KNOWN_BODIES = (
    "国家工商行政管理总局商标局",
    "国家工商行政管理总局商标评审委员会",
    "{city}市中级人民法院",
)

# Middle part of a non-court listing decision number: <city abbr><prefix>〔<year>〕<n>号.
DECISION_PREFIXES: dict[str, str] = {
    "major_tax_violation": "税稽罚", "market_serious_illegal": "市监严",
    "abnormal_operation": "市监异", "wage_arrears": "人社欠", "production_safety": "安监罚",
    "food_drug": "食药监罚", "environment": "环罚", "product_quality": "质监罚",
    "government_procurement": "财采罚", "public_resource_trading": "公管罚",
}  # fmt: skip

# Main facts of a listing, per sector (domain.md §2 and §4 name the grounds).
LISTING_REASONS: dict[str, tuple[str, ...]] = {
    "court_defaulter": ("有履行能力而拒不履行生效法律文书确定的义务", "违反财产报告制度",
                        "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行"),
    "major_tax_violation": ("偷税{amount}万元，占应纳税额{pct}%", "虚开增值税专用发票",
                            "逃避追缴欠税{amount}万元"),
    "market_serious_illegal": ("被列入经营异常名录届满3年仍未履行相关义务",
                               "提交虚假材料取得公司登记"),
    "abnormal_operation": ("未按规定期限公示年度报告", "通过登记的住所或者经营场所无法联系",
                           "公示企业信息隐瞒真实情况、弄虚作假"),
    "wage_arrears": ("拖欠农民工工资{amount}万元",),
    "production_safety": ("发生生产安全责任事故", "未按规定整改重大事故隐患"),
    "food_drug": ("生产经营不符合食品安全标准的食品", "使用非食品原料生产食品"),
    "environment": ("超标排放污染物", "通过暗管逃避监管排放污染物"),
    "product_quality": ("生产销售不合格产品", "在产品中掺杂、掺假"),
    "government_procurement": ("提供虚假材料谋取中标", "与其他供应商恶意串通"),
    "public_resource_trading": ("串通投标", "以他人名义投标"),
}  # fmt: skip

# How likely each sector is for a firm of a given GB/T section, relative to its base
# weight: construction owes wages, restaurants and food makers meet food law, ...
SECTOR_AFFINITY: dict[str, dict[str, float]] = {
    "wage_arrears": {"E": 10.0, "C": 1.0},
    "production_safety": {"B": 8.0, "C": 2.0, "E": 3.0, "G": 1.5},
    "food_drug": {"H": 8.0, "A": 3.0, "F": 1.0},
    "environment": {"B": 6.0, "C": 2.5, "N": 4.0, "D": 3.0},
    "product_quality": {"C": 3.0, "F": 0.5},
    "government_procurement": {"E": 2.0, "I": 2.0, "F": 1.0, "L": 1.0},
    "public_resource_trading": {"E": 5.0, "N": 1.0},
}
"""Sectors not named here apply to every section alike; a named sector applies to its
listed sections with these multipliers and to other sections at 0.1."""
