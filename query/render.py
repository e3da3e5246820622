"""Plain-text views of the API's answers for ``zjcredit query``. Pure: no I/O.

Columns line up in a terminal with Chinese text: a CJK character takes two cells
(``unicodedata.east_asian_width`` W or F), so padding counts display cells, not
characters (``str.ljust`` would count 杭州 as 2 and misalign every row after it).

Example::

    >>> pad("杭州", 6) + "|"
    '杭州  |'
    >>> display_width("杭州 Hangzhou")
    13
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["display_width", "lookup_lines", "pad", "profile_lines", "search_lines", "table"]

_GRADE_ZH = {"EXCELLENT": "优秀", "GOOD": "良好", "FAIR": "中等", "POOR": "较差"}
_NONE = "—"


def display_width(text: str) -> int:
    """Terminal cells ``text`` takes: 2 per wide or full-width character, 0 per combining mark."""
    cells = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        cells += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return cells


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` display cells."""
    return text + " " * max(0, width - display_width(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Columns padded by display width; the last column is not padded."""
    widths = [max(display_width(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    out = []
    for row in [headers, *rows]:
        cells = [pad(c, w) for c, w in zip(row[:-1], widths[:-1], strict=True)] + [row[-1]]
        out.append(indent + "  ".join(cells).rstrip())
    return out


def _money(value: str | None) -> str:
    if value is None:
        return _NONE
    whole, _, cents = value.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-')):,}.{cents or '00'}"


def _credit_line(p: Mapping[str, Any]) -> str:
    line = p.get("credit_line")
    if "credit_line" in p.get("hidden", []):
        return f"(不公开 not shown to the {p['role']} role)"
    if line is None:
        return _NONE
    if not line["eligible"]:
        return f"不予授信 not eligible: {line.get('reason') or _NONE}"
    extra = ", ".join(x for x in (
        f"{line['multiple']}x tax paid" if line.get("multiple") else "",
        f"tier {line['rate_tier']}" if line.get("rate_tier") else "",
    ) if x)  # fmt: skip
    return f"{_money(line.get('amount'))} 元" + (f" ({extra})" if extra else "")


_PATENT_STATUS_ZH = {"IN_FORCE": "有效", "LAPSED": "未缴年费终止", "EXPIRED": "期满终止",
                     "INVALIDATED": "宣告无效", "TRANSFERRED_OUT": "已转让"}  # fmt: skip


def _patent_counts(p: Mapping[str, Any]) -> str:
    n = p["patents"]
    return (f"发明 invention {n['invention']}, 实用新型 utility model {n['utility_model']}, "
            f"外观设计 design {n['design']}")  # fmt: skip


def _ip_lines(p: Mapping[str, Any]) -> list[str]:
    """知识产权: the patents and the IP-pledge summary, for the roles that see them."""
    if "ip_pledge" in p.get("hidden", []):
        return []
    held = p.get("patent_holdings") or []
    lines = ["", f"知识产权 Patents ({len(held)})"]
    if held:
        lines += table(
            ["专利号 Number", "类型 Kind", "状态 Status", "期满 Term ends", "质押 Pledged",
             "名称 Title"],
            [[x["patent_no"], x.get("patent_kind") or _NONE,
              f"{_PATENT_STATUS_ZH.get(x['status'], x['status'])} {x['status']}",
              x.get("term_ends_on") or _NONE,
              ", ".join(f"{q['pledge_no']} {q.get('pledgee') or ''}".rstrip()
                        for q in x["pledges"]) or _NONE,
              x.get("title") or _NONE] for x in held],
        )  # fmt: skip
    else:
        lines.append(f"  {_NONE}")
    ip = p.get("ip_pledge")
    if ip is not None:
        free = len(ip["pledgeable_trademarks"]) + len(ip["pledgeable_patents"])
        lines.append(f"  知识产权质押 IP pledges: {ip['active_pledge_count']} active, "
                     f"{_money(ip['secured_amount'])} 元 secured; {free} free to pledge "
                     f"({len(ip['pledgeable_trademarks'])} marks, "
                     f"{len(ip['pledgeable_patents'])} patents)")  # fmt: skip
    return lines


def profile_lines(p: Mapping[str, Any]) -> list[str]:
    """The profile of ``GET /v1/enterprises/{uscc}`` as labelled, aligned lines."""
    zjtx = p.get("zjtx")
    grades = " · ".join(f"{g['year']} {g['grade']}" for g in p["tax_grades"])
    marks = p["trademarks"]
    fields: list[tuple[str, str]] = [
        ("统一社会信用代码 Credit code", p["uscc"]),
        ("企业名称 Name", p.get("name") or _NONE),
        ("状态 Status", p["status"]),
        ("城市 City", f"{p.get('city') or _NONE} ({p.get('city_code') or _NONE}), "
                     f"区县 district {p.get('district_code') or _NONE}"),
        ("行业 Industry", f"{p.get('industry_section') or _NONE} {p.get('industry_code') or ''}"
         .rstrip()),
        ("规模 Size", p.get("size_class") or _NONE),
        ("成立日期 Established", p.get("established_on") or _NONE),
        ("专精特新 Specialised SME",
         f"{zjtx['level']} ({zjtx['year']})" if zjtx and zjtx["active"] else _NONE),
        ("信用评分 Score", f"{p['score']} / 1000" if p.get("score") is not None
         else f"{_NONE} (not public)"),
        ("信用等级 Grade", f"{p['grade_zh']} {p['grade']}"),
        ("纳税信用等级 Tax grade", f"{p.get('tax_grade') or _NONE}"
                                   + (f"   ({grades})" if grades else "")),
        ("商标 Trademarks", f"{marks['registered']} registered, {marks['well_known']} "
                           f"well-known, {marks['active_pledges']} pledged "
                           f"({_money(marks['pledged_amount'])} 元)"),
        ("专利 Patents in force", _patent_counts(p)),
        ("授信额度 Credit line", _credit_line(p)),
    ]  # fmt: skip
    if p.get("tax_paid") is not None:
        paid = " · ".join(f"{t['year']} {_money(t['amount'])}" for t in p["tax_paid"])
        fields.append(("纳税额 Tax paid (元)", paid or _NONE))
    if p.get("arrears") is not None:
        owed = p["arrears"]
        since = f" since {owed['overdue_since']}" if owed.get("overdue_since") else ""
        fields.append(("欠税 Arrears (元)", _money(owed["outstanding"]) + since))
    fields.append(("更新 Updated", f"{p['updated_at']} (as of {p['as_of']}, version "
                                   f"{p['version']})"))  # fmt: skip
    width = max(display_width(label) for label, _ in fields) + 2
    lines = ["信用浙江 Credit Zhejiang · 企业信用档案 Enterprise credit profile", ""]
    lines += [f"  {pad(label, width)}{value}" for label, value in fields]

    lines += ["", "评分因素 Score factors"]
    lines += table(
        ["因素 Factor", "分 Points", "依据 Facts"],
        [[f["label"], f"{f['points']:+d}", f.get("facts") or "(不公开 not shown)"]
         for f in p["factors"]],
    )  # fmt: skip
    lines += _ip_lines(p)

    listings = p["blacklist"]
    lines += ["", f"失信名单 Key-sector listings in force ({len(listings)})"]
    if listings:
        lines += table(
            ["领域 Sector", "决定书 Decision", "认定部门 Department", "列入 Listed"],
            [[x["sector_name"], x["decision_no"], x["department"], x["listed_on"]]
             for x in listings],
        )  # fmt: skip
    else:
        lines.append(f"  {_NONE}")
    measures = p["penalties"]
    lines += ["", f"联合惩戒措施 Joint-penalty measures in force ({len(measures)})"]
    if measures:
        lines += table(
            ["实施部门 Department", "措施 Measure"],
            [[f"{m['department']} {m['department_name']}", m["measure"]] for m in measures],
        )
    else:
        lines.append(f"  {_NONE}")
    return lines


def search_lines(page: Mapping[str, Any]) -> list[str]:
    """A page of ``GET /v1/enterprises`` as a table."""
    items = page["items"]
    first = (page["page"] - 1) * page["size"] + 1
    shown = f"{first}-{first + len(items) - 1}" if items else "0"
    total = f"{page['total']}{'' if page.get('total_exact', True) else '+'}"
    lines = [f"找到 {total} 家企业 found {total} enterprises (showing {shown})"]
    if items:
        lines += table(
            ["统一社会信用代码", "企业名称 Name", "城市 City", "等级 Grade", "评分", "纳税",
             "失信 Listed"],
            [[e["uscc"], e.get("name") or _NONE, e.get("city") or _NONE,
              _GRADE_ZH.get(e["grade"], e["grade"]),
              _NONE if e.get("score") is None else str(e["score"]), e.get("tax_grade") or _NONE,
              ", ".join(e["listed_sectors"]) or _NONE] for e in items],
        )  # fmt: skip
    return lines


def lookup_lines(answer: Mapping[str, Any]) -> list[str]:
    """A bulk lookup's answer: each profile as :func:`profile_lines` prints it, then the
    codes not found and the malformed ones (with the rule each broke)."""
    lines: list[str] = []
    for profile in answer["profiles"]:
        lines += [*profile_lines(profile), ""]
    missing, malformed = answer["not_found"], answer["malformed"]
    asked = len(answer["profiles"]) + len(missing) + len(malformed)
    lines.append(f"查到 found {len(answer['profiles'])} of {asked} · 未找到 not found "
                 f"{len(missing)} · 格式错误 malformed {len(malformed)}")  # fmt: skip
    if missing:
        lines += ["", f"未找到 Not found ({len(missing)})", *(f"  {c}" for c in missing)]
    if malformed:
        lines += ["", f"格式错误 Malformed ({len(malformed)})"]
        lines += table(["代码 Code", "规则 Rule", "原因 Reason"],
                       [[m["uscc"], m["rule"], m["message"]] for m in malformed])  # fmt: skip
    return lines
