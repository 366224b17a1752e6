"""The redactor (core.privacy) against ID numbers and phone numbers in every spelling people type,
fed through every output path: the redactor itself (audit purposes), exception messages, a dead
letter as the steward sees it, log lines (text and JSON), API and console error answers, and the
cells of a planner workbook. None may show a number in clear (issue 14, item 1).

"In clear" means: after taking out the separators people type between digits (and folding
full-width digits), no 8 consecutive digits of an ID number, or 7 of a phone number, are left. The
masks keep at most 6 (an ID number's division code) and 4 digits in a row.
"""

from __future__ import annotations

import json
import logging
import re
import sys

from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from api import errors
from core.privacy import mask_phone, redact, redact_purpose, redact_row
from core.standardise.errors import CannotStandardise, StandardiseError
from schemas.source_record import DeadLetter
from services.dead_letters import letter_view
from services.plan_workbook import shown
from services.queries import BadQuery, NotFound

DIVISIONS = ["110105", "320102", "440305", "510104", "650102"]
SEPARATORS = ["", "", "", " ", "-", "－", "  ", " - ", "\u3000", "—", "."]
FULL_WIDTH = str.maketrans({str(i): chr(0xFF10 + i) for i in range(10)})
FOLD = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)})
BETWEEN_DIGITS = re.compile(r"(?<=\d)[\s\-－—._·/()（）]+(?=\d)")


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    """Valid 18-digit numbers, legacy 15-digit ones, and each with one digit wrong, dropped or doubled."""
    division = draw(st.sampled_from(DIVISIONS))
    year = draw(st.integers(1930, 2015))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    seq = draw(st.integers(0, 999))
    if draw(st.booleans()):
        body = f"{division}{year}{month:02d}{day:02d}{seq:03d}"
        number = body + ric.calc_check_digit(body + "0")
    else:
        number = f"{division}{year % 100:02d}{month:02d}{day:02d}{seq:03d}"
    typo = draw(st.sampled_from(["none", "none", "wrong", "dropped", "doubled"]))
    at = draw(st.integers(0, len(number) - 2))
    if typo == "wrong":
        number = number[:at] + str((int(number[at]) + 1) % 10) + number[at + 1:]
    elif typo == "dropped":
        number = number[:at] + number[at + 1:]
    elif typo == "doubled":
        number = number[:at] + number[at] + number[at:]
    return number


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    """Mobiles and landlines with an area code, as digits only."""
    if draw(st.booleans()):
        return draw(st.sampled_from("3456789").map(lambda d: "1" + d)) + draw(st.text("0123456789", min_size=9, max_size=9))
    area = draw(st.sampled_from(["010", "021", "025", "0755", "0512"]))
    return area + draw(st.sampled_from("2345678")) + draw(st.text("0123456789", min_size=7, max_size=7))


@st.composite
def spelled(draw: st.DrawFn, digits: str, *, phone: bool) -> str:
    """``digits`` as someone typed them: grouped with separators, some digits full-width, a lower-case
    or full-width X, a +86 prefix or brackets around an area code."""
    cuts = sorted(draw(st.sets(st.integers(1, len(digits) - 1), max_size=4)))
    separator = draw(st.sampled_from(SEPARATORS))
    parts = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    text = separator.join(parts)
    if draw(st.booleans()):
        text = "".join(c.translate(FULL_WIDTH) if draw(st.booleans()) else c for c in text)
    if text.endswith("X"):
        text = text[:-1] + draw(st.sampled_from(["X", "x", "Ｘ", "ｘ"]))
    if phone:
        if digits.startswith("1") and draw(st.booleans()):
            text = draw(st.sampled_from(["+86", "+86 ", "0086-", "+86-", "86 "])) + text
        elif digits.startswith("0") and not cuts and draw(st.booleans()):
            area = 3 if digits[1] in "12" else 4
            text = f"({digits[:area]}){digits[area:]}"
    return text


# Text around the numbers, without digits: Chinese, Latin words, punctuation, labels.
context = st.text(alphabet=st.sampled_from(list("居民张三李四住中华路号幢单元电话身份证备注，。：:；;、 ()（）abcXyz_='\"")),
                  max_size=12)


@st.composite
def leaky_texts(draw: st.DrawFn) -> tuple[str, list[str], list[str]]:
    """A text holding some ID numbers and phones, with the numbers it holds."""
    ids = draw(st.lists(id_numbers(), min_size=0, max_size=2))
    phones = draw(st.lists(phone_numbers(), min_size=0 if ids else 1, max_size=2))
    pieces = [draw(spelled(n + ("X" if len(n) == 18 and draw(st.booleans()) else ""), phone=False)) for n in ids]
    pieces += [draw(spelled(p, phone=True)) for p in phones]
    order = draw(st.permutations(pieces))
    text = draw(context) + "".join(piece + draw(context) for piece in order)
    return text, ids, phones


def leaks(output: str, ids: list[str], phones: list[str]) -> list[str]:
    """The numbers whose digits still show in ``output`` (8 in a row of an ID, 7 of a phone)."""
    compact = BETWEEN_DIGITS.sub("", output.translate(FOLD))
    found = []
    for number, window in [*((n, 8) for n in ids), *((p, 7) for p in phones)]:
        digits = re.sub(r"\D", "", number)
        if any(digits[i:i + window] in compact for i in range(len(digits) - window + 1)):
            found.append(number)
    return found


def error_app() -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.get("/api/v1/boom/{kind}")
    @app.get("/console/boom/{kind}")
    def boom(kind: str) -> None:
        raise (BadQuery if kind == "bad" else NotFound)(BOOM.text)

    return TestClient(app)


class _Boom:
    text = ""


BOOM = _Boom()
CLIENT = error_app()
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@EXAMPLES
@given(leaky_texts())
def test_the_redactor_leaves_no_id_number_or_phone_in_clear(case: tuple[str, list[str], list[str]]) -> None:
    text, ids, phones = case
    assert leaks(redact(text), ids, phones) == [], redact(text)
    assert leaks(redact_purpose(text), ids, phones) == [], redact_purpose(text)  # what an audit entry keeps


@EXAMPLES
@given(leaky_texts())
def test_exception_messages_show_no_id_number_or_phone(case: tuple[str, list[str], list[str]]) -> None:
    text, ids, phones = case
    for exc in (StandardiseError(text), CannotStandardise(text, source="civil_affairs", record_id=text)):
        assert leaks(str(exc), ids, phones) == []


@EXAMPLES
@given(leaky_texts(), id_numbers(), phone_numbers())
def test_a_dead_letter_as_the_steward_sees_it_shows_no_id_number_or_phone(
        case: tuple[str, list[str], list[str]], id_number: str, phone: str) -> None:
    text, ids, phones = case
    letter = DeadLetter(source="civil_affairs", location=text, reason=text, record_id=text, raw_excerpt=text,
                        raw_row={"身份证号": id_number, "联系电话": phone, "备注": text, "不认识的列": text})
    seen = json.dumps(letter_view(letter), ensure_ascii=False)
    assert leaks(seen, [*ids, id_number], [*phones, phone]) == [], seen


@EXAMPLES
@given(leaky_texts())
def test_log_lines_show_no_id_number_or_phone(case: tuple[str, list[str], list[str]]) -> None:
    from onceonly import logs

    text, ids, phones = case
    try:
        raise ValueError(text)
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "reading %s failed", (text,), sys.exc_info())
    for formatter in (logs.RedactingFormatter(), logs.JsonFormatter()):
        line = formatter.format(record)
        assert leaks(json.loads(line).__repr__() if line.startswith("{") else line, ids, phones) == [], line


@settings(max_examples=60, deadline=None)
@given(leaky_texts())
def test_api_and_console_error_answers_show_no_id_number_or_phone(case: tuple[str, list[str], list[str]]) -> None:
    text, ids, phones = case
    BOOM.text = text
    for path in ("/api/v1/boom/bad", "/api/v1/boom/missing", "/console/boom/bad"):
        answer = CLIENT.get(path)
        assert answer.status_code in (400, 404)
        assert leaks(json.dumps(answer.json(), ensure_ascii=False) if path.startswith("/api") else answer.text,
                     ids, phones) == []


@EXAMPLES
@given(leaky_texts(), id_numbers(), phone_numbers())
def test_planner_workbook_cells_show_no_id_number_or_phone(case: tuple[str, list[str], list[str]],
                                                           id_number: str, phone: str) -> None:
    text, ids, phones = case
    cells = [shown("attributes.remarks", text), shown("residential_address", text), shown("id_number", id_number),
             shown("phones", f"+86{phone}" if phone.startswith("1") else phone)]
    assert leaks(" | ".join(cells), [*ids, id_number], [*phones, phone]) == [], cells


def test_a_dead_letter_row_masks_the_columns_that_map_to_sensitive_fields() -> None:
    # civil_affairs.yaml: 救助类别 → attributes.assistance, 发放金额 → attributes.monthly_amount (sensitive),
    # 姓名 → name; 备注 is free text, with a health note in it.
    row = redact_row({"姓名": "张三丰", "救助类别": "城市低保", "发放金额": "1200", "备注": "患有糖尿病，独居",
                      "所属社区": "秦虹社区"}, "civil_affairs")
    assert row == {"姓名": "张**", "救助类别": "***", "发放金额": "***", "备注": "***，独居", "所属社区": "秦虹社区"}


def test_labelled_sensitive_values_amounts_and_terms_are_hidden_in_free_text() -> None:
    text = "{'救助类别': '城市低保', 'monthly_amount': 800, 备注: 残疾人两项补贴} 领取1200元 ¥300.5"
    assert redact(text) == "{'救助类别': '***', 'monthly_amount': ***, 备注: ***} 领取*** ***"


def test_dates_codes_and_hashes_are_not_taken_for_phones() -> None:
    text = "出生日期 1985-03-07，写作 19221620；event a1234567f row_7654321 at 2026-12-07 00:49:58"
    assert redact(text) == text


def test_the_redactor_catches_what_the_digit_run_filter_missed() -> None:
    # The spellings issue 14 names: spaces, hyphens, one digit wrong, phones (before: shown in clear).
    assert redact("110105 1985 0307 002X") == "110105********002X"
    assert redact("110105-19850307-0021") == "110105********0021"  # check digit wrong
    assert redact("1101051985030700") == "110105******0700"  # two digits short
    assert redact("电话 138-0013-8000") == "电话 138****8000"
    assert mask_phone("+86 138 0013 8000") == "138****8000"
