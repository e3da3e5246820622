"""The column names departments use in their exports, mapped to the schema's field names.

A department's system names its columns in Chinese (统一社会信用代码, 企业名称,
纳税信用级别, 决定文书号, ...). A file may use these or the field names of the source's
Avro schema (``schemas/avro/*.avsc``), or mix them. Names are matched after Unicode NFKC
normalisation (full-width brackets and letters become ASCII ones) with spaces removed, so
``注册资本（元）`` and ``注册资本(元)`` are one name. An alias names a field of the
source's latest schema; tests/unit/schemas/test_headers.py checks that every one does.

To add a department's spelling, add it to ``COMMON`` (every source) or to its source's
table below; the README's "Columns" section points here. :data:`VALUE_ALIASES` holds the
Chinese values of an enum field (专利类型 ``发明`` is ``INVENTION``).

Example::

    field_for("tax", "纳税信用级别")    # "grade"
    field_for("tax", "grade")          # None: a field name is not an alias
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

__all__ = ["ALIASES", "COMMON", "VALUE_ALIASES", "field_for", "header_key"]

# Every source: the envelope fields.
COMMON: Mapping[str, str] = {
    "统一社会信用代码": "uscc",
    "社会信用代码": "uscc",
    "信用代码": "uscc",
    "统一代码": "uscc",
    "报送部门": "department",
    "报送单位": "department",
    "部门": "department",
    "部门代码": "department",
    "发生时间": "occurred_at",
    "生效时间": "occurred_at",
    "事件时间": "occurred_at",
    "报送时间": "reported_at",
    "上报时间": "reported_at",
    "事件类型": "event_type",
    "事件编号": "event_id",
}

_ENTERPRISE = {
    "企业名称": "name",
    "名称": "name",
    "单位名称": "name",
    "市代码": "city_code",
    "地市代码": "city_code",
    "所属地市代码": "city_code",
    "区县代码": "district_code",
    "县区代码": "district_code",
    "行业门类": "industry_section",
    "行业代码": "industry_code",
    "企业规模": "size_class",
    "规模": "size_class",
    "成立日期": "established_on",
    "注册资本": "registered_capital",
    "注册资本(元)": "registered_capital",
    "专精特新级别": "zjtx_level",
    "专精特新年度": "zjtx_year",
    "认定年度": "zjtx_year",
}

_TAX = {
    "纳税信用级别": "grade",
    "纳税信用等级": "grade",
    "信用级别": "grade",
    "评价年度": "tax_year",
    "纳税年度": "tax_year",
    "所属年度": "tax_year",
    "原信用级别": "previous_grade",
    "修复前级别": "previous_grade",
    "评价得分": "score",
    "得分": "score",
    "直接判级": "direct_judgement",
    "金额": "amount",
    "金额(元)": "amount",
    "税款金额": "amount",
    "入库税款": "amount",
    "欠税金额": "amount",
    "欠税起始日期": "overdue_since",
    "欠缴起始日期": "overdue_since",
    "评价税务机关": "evaluating_office",
    "主管税务机关": "evaluating_office",
}

_TRADEMARK = {
    "注册号": "registration_no",
    "商标注册号": "registration_no",
    "商标名称": "mark_name",
    "国际分类": "nice_class",
    "尼斯分类": "nice_class",
    "类别": "nice_class",
    "专用权起始日期": "valid_from",
    "注册日期": "valid_from",
    "专用权截止日期": "valid_until",
    "专用权期限至": "valid_until",
    "认定机关": "recognised_by",
    "质押登记号": "pledge_no",
    "质权人": "pledgee",
    "担保金额": "secured_amount",
    "质押金额": "secured_amount",
    "质押期限至": "pledge_until",
    "质押截止日期": "pledge_until",
    "决定文书号": "decision_no",
    "处罚决定书文号": "decision_no",
    "行政处罚决定书文号": "decision_no",
    "罚款金额": "penalty_amount",
    "处罚金额": "penalty_amount",
    "处罚机关": "authority",
    "作出决定机关": "authority",
}

_BLACKLIST = {
    "领域": "sector",
    "重点领域": "sector",
    "失信领域": "sector",
    "决定文书号": "decision_no",
    "认定文书号": "decision_no",
    "列入决定文书号": "decision_no",
    "认定部门": "listing_department",
    "列入部门": "listing_department",
    "列入日期": "listed_on",
    "认定日期": "listed_on",
    "计划移出日期": "planned_end_on",
    "失信事实": "reason",
    "主要失信事实": "reason",
    "列入原因": "reason",
    "移出原因": "removal_ground",
    "移出依据": "removal_ground",
    "移出日期": "removed_on",
}


# 专利号 is ZL + the application number; either is accepted (schemas/patent_no.py).
_PATENT = {
    "专利号": "patent_no",
    "专利申请号": "patent_no",
    "申请号": "patent_no",
    "专利名称": "title",
    "发明名称": "title",
    "名称": "title",
    "专利类型": "patent_kind",
    "专利种类": "patent_kind",
    "申请日": "application_date",
    "申请日期": "application_date",
    "授权公告日": "grant_date",
    "授权日": "grant_date",
    "授权日期": "grant_date",
    "转让人": "transferor_uscc",
    "转让方统一社会信用代码": "transferor_uscc",
    "受让人": "transferee_uscc",
    "受让方统一社会信用代码": "transferee_uscc",
    "质押登记号": "pledge_no",
    "质权人": "pledgee",
    "担保金额": "secured_amount",
    "质押金额": "secured_amount",
    "被担保债权数额": "secured_amount",
    "质押期限起": "pledge_from",
    "质押起始日期": "pledge_from",
    "质押期限至": "pledge_until",
    "质押截止日期": "pledge_until",
    "无效宣告决定号": "decision_no",
    "决定文书号": "decision_no",
    "部分无效": "partial",
}

# Values departments write for an enum field, per source and field: value -> symbol.
VALUE_ALIASES: Mapping[str, Mapping[str, Mapping[str, str]]] = {
    "patent": {
        "patent_kind": {
            "发明": "INVENTION",
            "发明专利": "INVENTION",
            "实用新型": "UTILITY_MODEL",
            "实用新型专利": "UTILITY_MODEL",
            "外观设计": "DESIGN",
            "外观设计专利": "DESIGN",
        },
    },
}


def header_key(name: str) -> str:
    """A column name as it is matched: NFKC, without spaces."""
    return "".join(unicodedata.normalize("NFKC", name).split())


# Per source: normalised alias -> field name.
ALIASES: Mapping[str, Mapping[str, str]] = {
    source: {header_key(alias): field for alias, field in {**COMMON, **table}.items()}
    for source, table in {
        "enterprise": _ENTERPRISE,
        "tax": _TAX,
        "trademark": _TRADEMARK,
        "blacklist": _BLACKLIST,
        "patent": _PATENT,
    }.items()
}


def field_for(source: str, name: str) -> str | None:
    """The field a column named ``name`` fills, when ``name`` is one of the aliases."""
    return ALIASES.get(source, {}).get(header_key(name))
