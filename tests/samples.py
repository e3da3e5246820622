"""Fixed sample records, one per registered schema, shared by golden-byte and round-trip tests."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

UTC = dt.UTC
T0 = dt.datetime(2017, 4, 20, 1, 30, tzinfo=UTC)
T1 = dt.datetime(2017, 4, 20, 9, 0, tzinfo=UTC)
D = decimal.Decimal

SAMPLES: dict[str, dict[str, Any]] = {
    "enterprise": {
        "event_id": "0b7c4a52-5d1e-5f4a-8a6b-3f1c2d9e7a10", "uscc": "91330000733796106P",
        "department": "SAMR", "occurred_at": dt.datetime(2001, 11, 30, tzinfo=UTC),
        "reported_at": T1, "event_type": "REGISTERED", "name": "杭州海康威视数字技术股份有限公司",
        "city_code": "330100", "district_code": "330108", "industry_section": "C",
        "industry_code": "C3971", "size_class": "LARGE", "established_on": dt.date(2001, 11, 30),
        "registered_capital": D("9330250000.00"), "zjtx_level": None, "zjtx_year": None,
    },
    "tax": {
        "event_id": "2c1d7e3f-9a4b-5c6d-8e7f-0a1b2c3d4e5f", "uscc": "91330100716105852F",
        "department": "SAT", "occurred_at": T0, "reported_at": T1, "event_type": "GRADE_ASSESSED",
        "tax_year": 2016, "grade": "A", "previous_grade": None, "score": D("95.50"),
        "direct_judgement": False, "amount": None, "overdue_since": None,
        "evaluating_office": "国家税务总局杭州市税务局",
    },
    "trademark": {
        "event_id": "3d2e8f40-ab5c-5d7e-9f80-1b2c3d4e5f60", "uscc": "91330000727215176K",
        "department": "SAMR", "occurred_at": T0, "reported_at": T1,
        "event_type": "PLEDGE_REGISTERED", "registration_no": "10205176", "mark_name": "大华",
        "nice_class": 9, "valid_from": None, "valid_until": None, "recognised_by": None,
        "pledge_no": "ZC2017-0042", "pledgee": "中国工商银行杭州分行",
        "secured_amount": D("5000000.00"), "pledge_until": dt.date(2019, 4, 19),
        "decision_no": None, "penalty_amount": None, "authority": None,
    },
    # The number is a worked example of the check rule (schemas/patent_no.py), not Dahua's.
    "patent": {
        "event_id": "5f40a162-cd7e-5f90-b1a2-3d4e5f607182", "uscc": "91330000727215176K",
        "department": "CNIPA", "occurred_at": T0, "reported_at": T1,
        "event_type": "PLEDGE_REGISTERED", "patent_no": "201310699744.2",
        "patent_kind": "INVENTION", "title": "一种视频图像的编码方法",
        "application_date": dt.date(2013, 12, 18), "grant_date": dt.date(2016, 8, 17),
        "transferor_uscc": None, "transferee_uscc": None, "pledge_no": "Y2019330000042",
        "pledgee": "中国工商银行杭州分行", "secured_amount": D("3000000.00"),
        "pledge_from": dt.date(2017, 4, 19), "pledge_until": dt.date(2019, 4, 18),
        "decision_no": None, "partial": None,
    },
    "blacklist": {
        "event_id": "4e3f9051-bc6d-5e8f-a091-2c3d4e5f6071", "uscc": "913301067046373179",
        "department": "SPC", "occurred_at": T0, "reported_at": T1, "event_type": "LISTED",
        "sector": "court_defaulter", "decision_no": "(2017)浙0106执1234号",
        "listing_department": "SPC", "listed_on": dt.date(2017, 4, 20),
        "planned_end_on": dt.date(2019, 4, 20), "reason": "有履行能力而拒不履行生效法律文书确定义务",
        "removal_ground": None, "removed_on": None,
    },
    "profiles": {
        "uscc": "91330100716105852F", "name": "阿里巴巴（中国）网络技术有限公司",
        "status": "ACTIVE", "city_code": "330100", "district_code": "330108",
        "industry_section": "I", "industry_code": "I6432", "size_class": "LARGE",
        "established_on": dt.date(1999, 9, 9), "zjtx": None,
        "tax_grades": [{"year": 2016, "grade": "A", "score": D("95.50"),
                        "direct_judgement": False, "repaired": False}],
        "tax_grade": "A", "tax_paid": [{"year": 2016, "amount": D("1200000.00")}],
        "arrears_outstanding": D("0.00"), "arrears_overdue_since": None,
        "trademarks": [{"registration_no": "10205176", "mark_name": "淘宝", "nice_class": 35,
                        "status": "REGISTERED", "valid_until": dt.date(2027, 1, 6),
                        "well_known": True, "pledges": []}],
        "trademark_count": 1, "well_known_count": 1, "active_pledge_count": 0,
        "pledged_amount": D("0.00"), "infringement_penalty_count": 0,
        "patents": [{"patent_no": "201710601862.3", "patent_kind": "INVENTION",
                     "title": "一种数据处理方法", "application_date": dt.date(2017, 8, 1),
                     "grant_date": dt.date(2020, 3, 10), "term_ends_on": dt.date(2037, 7, 31),
                     "status": "IN_FORCE", "transferred_from": None, "transferred_to": None,
                     "invalidation_decision_no": None, "partially_invalidated": False,
                     "pledges": []}],
        "invention_patent_count": 1, "utility_model_patent_count": 0, "design_patent_count": 0,
        "active_patent_pledge_count": 0, "patent_pledged_amount": D("0.00"),
        "ip_pledge": {"active_pledge_count": 0, "secured_amount": D("0.00"),
                      "pledgeable_trademarks": ["10205176"],
                      "pledgeable_patents": ["201710601862.3"]},
        "blacklist": [], "blacklist_history": [], "penalties": [], "score": 905,
        "grade": "EXCELLENT", "rules_version": "scorecard-1",
        "factors": [{"code": "tax_grade", "label": "纳税信用等级", "points": 200, "facts": "2016: A"}],
        "credit_line": {"eligible": True, "amount": D("6000000.00"), "multiple": D("5.00"),
                        "rate_tier": "A", "reason": None},
        "version": 7, "as_of": dt.date(2017, 6, 1), "updated_at": T1, "last_reported_at": T1,
        "last_events": [{"source": "tax", "event_id": "2c1d7e3f-9a4b-5c6d-8e7f-0a1b2c3d4e5f",
                         "occurred_at": T0}],
    },
    "penalties": {
        "notice_id": "imposed:913301067046373179:court_defaulter:(2017)浙0106执1234号",
        "kind": "IMPOSED", "uscc": "913301067046373179", "name": "蚂蚁科技集团股份有限公司",
        "sector": "court_defaulter", "decision_no": "(2017)浙0106执1234号",
        "listing_department": "SPC", "listed_on": dt.date(2017, 3, 1),
        "measures": [{"code": "excluded_from_bidding", "text_zh": "限制参与招标投标",
                      "text_en": "Excluded from bidding", "department": "NDRC"}],
        "sectors": [], "reason": "listed", "effective_at": T0,
        "source_event_id": "4e3f9051-bc6d-5e8f-a091-2c3d4e5f6071", "reported_at": T1,
    },
    "ticks": {"as_of": dt.date(2018, 6, 30), "sent_at": T1},
    "deadletters": {
        "reason": "bad_magic_byte", "message": "byte 0 is 0x7b, expected 0x00",
        "stage": "worker", "source_topic": "zjcredit.tax", "partition": 2, "offset": 41,
        "key": b"91330100716105852F", "value": b'{"not": "avro"}', "failed_at": T1,
    },
}  # fmt: skip
