"""Tests of the normalisers (linkrisk.normalise), through the real engine code path.

Every value goes through ``tests/helpers.normalise_frame``: a one-column dataset is
loaded and normalised by the same stage functions ``Study.run`` calls. Expected values
are worked out by hand in the comments; the property tests at the end check that
normalising is idempotent and that one value written in several formats normalises to
one text.
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

import linkrisk as lr
from helpers import normalise_frame, normalise_values
from linkrisk.normalise import ric_divisions

CN = {"national_id_scheme": "cn_ric"}
PROPERTY = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
# cn_ric has a fixed cost per engine call (the division-code table): fewer, larger batches.
RIC_PROPERTY = settings(PROPERTY, max_examples=15)


# --- cn_ric: Chinese resident ID numbers (GB 11643-1999) -------------------------------------
#
# The check character of the first 17 digits d1..d17 is (12 - S mod 11) mod 11, written X
# for 10, where S = sum(d_i * w_i) with weights w = 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2.

def test_a_valid_18_digit_id_is_kept_and_a_lower_case_x_upper_cased() -> None:
    # 11010519491231002X is the usual worked example of GB 11643-1999 (Beijing, Chaoyang
    # district, born 1949-12-31); the check character is computed in the next test.
    out = normalise_frame("national_id", ["11010519491231002X", "11010519491231002x",
                                          " 110105 19491231 002X "], **CN)
    assert out.value.tolist() == ["11010519491231002X"] * 3
    assert not out.invalid.any() and not out.masked.any()


def test_a_15_digit_legacy_id_becomes_its_18_character_form() -> None:
    # 110105491231002: county 110105, born (19)49-12-31, sequence 002. Insert "19":
    #   first 17 = 1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2
    #   S = 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2; (12-2) mod 11 = 10 -> X
    # 360426910101007: county 360426, born (19)91-01-01, sequence 007 (the 18-digit form is
    # python-stdnum's own example).
    #   first 17 = 3 6 0 4 2 6 1 9 9 1 0 1 0 1 0 0 7
    #   S = 21+54+0+20+16+24+2+9+54+3+0+9+0+5+0+0+14 = 231; 231 mod 11 = 0; (12-0) mod 11 = 1
    assert ric.calc_check_digit("11010519491231002" + "?") == "X"
    assert ric.calc_check_digit("36042619910101007" + "?") == "1"
    out = normalise_frame("national_id", ["110105491231002", "360426910101007"], **CN)
    assert out.value.tolist() == ["11010519491231002X", "360426199101010071"]
    assert not out.invalid.any()
    assert all(ric.is_valid(v) for v in out.value)


def test_invalid_ids_are_kept_and_counted() -> None:
    # 110105194912310021: the check character should be X (see above).
    # 110105199002301231: 1990-02-30 is no date. First 17 = 1 1 0 1 0 5 1 9 9 0 0 2 3 0 1 2 3,
    #   S = 7+9+0+5+0+20+2+9+54+0+0+18+30+0+8+8+6 = 176 = 16 * 11, check (12-0) mod 11 = 1,
    #   so only the date is wrong.
    # 12345: too short. 1101051949123100AX: letters among the digits.
    raw = ["110105194912310021", "110105199002301231", "12345", "1101051949123100AX"]
    assert ric.calc_check_digit("11010519900230123?") == "1"
    assert not any(ric.is_valid(v) for v in raw)
    out = normalise_frame("national_id", raw, **CN)
    assert out.value.tolist() == raw
    assert out.invalid.all()
    assert out.attrs["quality"] == {"dataset": "d", "column": "v", "kind": "national_id",
                                    "rows": 4, "null": 0, "invalid": 4, "masked": 0}


def test_a_masked_id_has_no_value_and_counts_as_masked_not_invalid() -> None:
    out = normalise_frame("national_id", ["110101********1234", "110105########002X", None, ""],
                          **CN)
    assert out.value.tolist() == [None, None, None, None]
    assert out.masked.tolist() == [True, True, False, False]
    assert out.present.tolist() == [True, True, False, False]
    assert not out.invalid.any()
    q = out.attrs["quality"]
    assert (q["rows"], q["null"], q["invalid"], q["masked"]) == (4, 2, 0, 2)


def test_division_codes_follow_python_stdnum() -> None:
    # 990101199001011230: province 99 does not exist. First 17 = 9 9 0 1 0 1 1 9 9 0 0 1 0 1 1 2 3,
    #   S = 63+81+0+5+0+4+2+9+54+0+0+9+0+5+8+8+6 = 254; 254 mod 11 = 1; (12-1) mod 11 = 0.
    # 110103 (Chongwen district) existed until 2010 in python-stdnum's table:
    #   110103200501011231 (born 2005): S = 88, check 1 -> valid
    #   110103201501011236 (born 2015): S = 94, 94 mod 11 = 6, check 6 -> invalid place
    raw = ["990101199001011230", "110103200501011231", "110103201501011236"]
    assert [ric.calc_check_digit(v) for v in raw] == [v[-1] for v in raw]
    assert [ric.is_valid(v) for v in raw] == [False, True, False]
    out = normalise_frame("national_id", raw, **CN)
    assert out.value.tolist() == raw
    assert out.invalid.tolist() == [True, False, True]


def test_the_generic_scheme_only_tidies_the_code() -> None:
    # Without cn_ric nothing is checked: separators go, letters are upper-cased.
    out = normalise_frame("national_id", ["ab-12 34", "110105491231002"])
    assert out.value.tolist() == ["AB1234", "110105491231002"]
    assert not out.invalid.any()


# --- Phones -----------------------------------------------------------------------------------

def test_chinese_mobile_numbers_in_every_format_become_e164() -> None:
    raw = ["+86 138 1234 5678", "0086-138-1234-5678", "13812345678", "138-1234-5678",
           "+8613812345678", "(0086) 138.1234.5678"]
    out = normalise_frame("phone", raw)
    assert out.value.tolist() == ["+8613812345678"] * len(raw)
    assert not out.invalid.any()


def test_other_numbers_go_through_phonenumbers_with_the_default_region() -> None:
    # 020 7946 0958 is a London number: +44 20 7946 0958. 07400 123456 is a UK mobile.
    gb = normalise_frame("phone", ["020 7946 0958", "07400 123456", "+44 20 7946 0958"],
                         phone_region="GB")
    assert gb.value.tolist() == ["+442079460958", "+447400123456", "+442079460958"]
    assert not gb.invalid.any()
    # With the default region CN, "020 7946 0958" is read as a Guangzhou number (area code
    # 020); an explicit +44 still wins.
    cn = normalise_frame("phone", ["020 7946 0958", "+44 20 7946 0958"])
    assert cn.value.tolist() == ["+862079460958", "+442079460958"]


def test_unusable_phones_are_kept_invalid_and_masked_phones_have_no_value() -> None:
    out = normalise_frame("phone", ["not a phone", "12345", "138****5678", " "])
    assert out.value.tolist()[2:] == [None, None]
    assert out.invalid.tolist() == [True, True, False, False]
    assert out.masked.tolist() == [False, False, True, False]
    assert out.value[0] is not None and out.value[1] is not None


# --- E-mail, names, dates, sex, postcodes, addresses ------------------------------------------

def test_email_is_trimmed_and_lower_cased() -> None:
    raw = ["  Zhang.Wei88@QQ.com ", "\tzhang.wei88@qq.com\n", "zhang.wei88@qq.com\u00a0",
           "not-an-email"]
    out = normalise_frame("email", raw)
    assert out.value.tolist() == ["zhang.wei88@qq.com"] * 3 + ["not-an-email"]
    assert out.invalid.tolist() == [False, False, False, True]


def test_names_are_case_folded_with_single_spaces() -> None:
    raw = ["  Zhang   Wei ", "ZHANG wei", "zhang\u00a0wei", "Zhang, Wei", "ÉMILE  Zola", "张伟"]
    assert normalise_values("full_name", raw) == [
        "zhang wei", "zhang wei", "zhang wei", "zhang wei", "émile zola", "张伟"]


def test_transliteration_makes_han_and_pinyin_names_equal() -> None:
    raw = ["张小明", "Zhang Xiaoming", "zhang  XIAOMING", "张 小明", "ZHANG, Xiaoming"]
    assert normalise_values("full_name", raw, transliterate_names=True) == ["zhang xiaoming"] * 5
    # Without transliteration the Han name stays as it is.
    assert normalise_values("full_name", raw[:2]) == ["张小明", "zhang xiaoming"]


def test_transliteration_reads_surnames_as_surnames() -> None:
    # 曾 is "ceng" in everyday words but "zeng" as a surname; 欧阳 is one (two-character)
    # surname; in 买买提·艾力 (a Uyghur name) the dot separates the two parts.
    raw = ["曾小贤", "Zeng Xiaoxian", "欧阳娜娜", "Ouyang Nana", "买买提·艾力", "Maimaiti Aili"]
    out = normalise_values("full_name", raw, transliterate_names=True)
    assert out == ["zeng xiaoxian"] * 2 + ["ouyang nana"] * 2 + ["maimaiti aili"] * 2


def test_dates_in_several_formats_become_iso() -> None:
    raw = ["1990-02-01", "1990/02/01", "19900201", "01.02.1990", "1990年02月01日", "1990-2-1"]
    out = normalise_frame("date_of_birth", raw)
    assert out.value.tolist() == ["1990-02-01"] * len(raw)
    assert not out.invalid.any()


def test_dates_that_do_not_parse_are_kept_and_invalid() -> None:
    raw = ["garbage", "1990-02-30", "31/13/1990"]  # no such day; no month 13 (nor 31) either way round
    out = normalise_frame("date_of_birth", raw)
    assert out.value.tolist() == raw
    assert out.invalid.all()


def test_sex_codes() -> None:
    raw = ["M", "F", "male", "Female", "男", "女", " m ", "x"]
    out = normalise_frame("sex", raw)
    assert out.value.tolist() == ["M", "F", "M", "F", "M", "F", "M", "X"]
    assert out.invalid.tolist() == [False] * 7 + [True]


def test_postcodes_lose_spaces_and_are_upper_cased() -> None:
    assert normalise_values("postcode", ["sw1a 1aa", " SW1A1AA ", "100 000"]) == [
        "SW1A1AA", "SW1A1AA", "100000"]


def test_addresses_fold_case_white_space_punctuation_and_abbreviations() -> None:
    raw = ["12 Main Street,  Apt 4", "12 main st apt 4", "12 MAIN ST. APT. 4",
           "12 Main Street\u3000Apartment 4", "北京市海淀区中关村大街1号，2层"]
    assert normalise_values("address", raw) == ["12 main st apt 4"] * 4 + ["北京市海淀区中关村大街1号 2层"]


def test_empty_and_blank_values_are_null_and_not_present() -> None:
    out = normalise_frame("email", [None, "", "   ", "\u3000", "a@b.cn"])
    assert out.value.tolist() == [None, None, None, None, "a@b.cn"]
    assert out.present.tolist() == [False, False, False, False, True]
    assert out.attrs["quality"]["null"] == 4


# --- Through Study.run: normalised values decide the links -----------------------------------

def test_only_equal_normalised_phones_link_and_separators_alone_link_nothing() -> None:
    # a1 and b1 hold one number in two formats: one link. "-", "()" and "--" hold no digits:
    # they normalise to nothing (present but invalid) and must not link a2, a3 and b2.
    # 3 + 2 records, one link: 4 entities.
    a = pd.DataFrame({"id": ["a1", "a2", "a3"], "phone": ["+86 138 1234 5678", "-", "()"]})
    b = pd.DataFrame({"id": ["b1", "b2"], "phone": ["13812345678", "--"]})
    study = lr.Study([lr.Dataset("a", a, {"phone": "phone"}, record_id="id"),
                      lr.Dataset("b", b, {"phone": "phone"}, record_id="id")])
    result = study.run()
    try:
        baseline = result.summary().set_index("scenario").loc["baseline"]
        assert (baseline.links, baseline.entities) == (1, 4)
        quality = result.quality.set_index("dataset")
        assert quality.loc["a", ["rows", "null", "invalid", "masked"]].tolist() == [3, 0, 2, 0]
        values = result.engine.df("SELECT _rec, c0, h0, i0 FROM norm0 ORDER BY _rid")
        assert values.c0.tolist()[0] == "+8613812345678"
        assert values.c0.isna().tolist() == [False, True, True]
    finally:
        result.close()


# --- Properties -------------------------------------------------------------------------------

def _idempotent(kind: str, values: list[str], **settings) -> None:
    once = normalise_values(kind, values, **settings)
    again_in = [v for v in once if v is not None]
    if not again_in:
        return
    again = normalise_values(kind, again_in, **settings)
    assert again == again_in


_digits = st.text("0123456789", min_size=1, max_size=14)
_phone_text = st.text("0123456789+-() .x*", min_size=1, max_size=20)
_name_text = st.text(st.sampled_from(list("abcXYZ é.,·-_") + list("张小明曾欧阳娜艾力")),
                     min_size=1, max_size=12)
_email_text = st.one_of(st.emails(), st.text(min_size=1, max_size=20))
_ric_text = st.text("0123456789Xx* -", min_size=1, max_size=20)


@st.composite
def cn_mobile(draw) -> str:
    """A Chinese mobile number: 1, a digit 3-9, nine more digits."""
    return "1" + draw(st.sampled_from("3456789")) + draw(st.text("0123456789", min_size=9, max_size=9))


def _phone_formats(n: str) -> list[str]:
    return [n, f"+86 {n[:3]} {n[3:7]} {n[7:]}", f"0086-{n[:3]}-{n[3:7]}-{n[7:]}",
            f"{n[:3]}-{n[3:7]}-{n[7:]}", f"+86{n}"]


@PROPERTY
@given(st.lists(st.one_of(_phone_text, _digits, cn_mobile().map(lambda n: _phone_formats(n)[1])),
                min_size=1, max_size=10))
# found by this property in a fresh-clone run: an invalid number whose E.164 form reads as
# another number (+86110000000000 -> +860000000)
@example(values=["0110000000000"])
def test_phone_normalisation_is_idempotent(values) -> None:
    _idempotent("phone", values)


@PROPERTY
@given(st.lists(_email_text, min_size=1, max_size=10))
def test_email_normalisation_is_idempotent(values) -> None:
    _idempotent("email", values)


@PROPERTY
@given(st.lists(_name_text, min_size=1, max_size=10), st.booleans())
def test_name_normalisation_is_idempotent(values, transliterate) -> None:
    _idempotent("full_name", values, transliterate_names=transliterate)


@PROPERTY
@given(st.lists(st.one_of(st.dates().map(str), st.text("0123456789-/.", min_size=1, max_size=12)),
                min_size=1, max_size=10))
def test_date_normalisation_is_idempotent(values) -> None:
    _idempotent("date_of_birth", values)


@RIC_PROPERTY
@given(st.lists(_ric_text, min_size=1, max_size=60))
def test_cn_ric_normalisation_is_idempotent(values) -> None:
    _idempotent("national_id", values, **CN)


@PROPERTY
@given(st.lists(cn_mobile(), min_size=1, max_size=10))
def test_one_mobile_number_in_five_formats_normalises_to_one_value(numbers) -> None:
    raw = [f for n in numbers for f in _phone_formats(n)]
    out = normalise_frame("phone", raw)
    assert out.value.tolist() == [f"+86{n}" for n in numbers for _ in range(5)]
    assert not out.invalid.any()


@PROPERTY
@given(st.lists(st.dates(min_value=date(1000, 1, 1)), min_size=1, max_size=10))
def test_one_date_in_four_formats_normalises_to_one_value(dates) -> None:
    raw = [d.strftime(f) for d in dates for f in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%d.%m.%Y")]
    out = normalise_frame("date_of_birth", raw)
    assert out.value.tolist() == [d.isoformat() for d in dates for _ in range(4)]
    assert not out.invalid.any()


# Division codes of python-stdnum's table that were in use in some year of the 1900s (a
# few rows of the table have empty ranges such as [1983-1982]: never valid).
_DIVISIONS = ric_divisions().query("first_year <= 1999 and last_year >= 1900 "
                                   "and first_year <= last_year")
_DIVISION_ROWS = list(_DIVISIONS[["code", "first_year", "last_year"]].itertuples(index=False))


@st.composite
def cn_ric_born_19xx(draw) -> str:
    """A valid 18-digit resident ID of someone born 1900-1999 in a real division."""
    code, first, last = draw(st.sampled_from(_DIVISION_ROWS))
    born = draw(st.dates(min_value=date(max(first, 1900), 1, 1),
                         max_value=date(min(last, 1999), 12, 31)))
    first17 = f"{code}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return first17 + ric.calc_check_digit(first17 + "?")


@RIC_PROPERTY
@given(st.lists(cn_ric_born_19xx(), min_size=1, max_size=60))
def test_a_legacy_15_digit_id_normalises_to_its_18_digit_form(ids) -> None:
    assert all(ric.is_valid(i) for i in ids)
    legacy = [i[:6] + i[8:17] for i in ids]  # drop the century and the check character
    out = normalise_frame("national_id", ids + legacy, **CN)
    assert out.value.tolist() == ids + ids
    assert not out.invalid.any()


def _stdnum_valid(number: str) -> bool:
    try:
        return ric.is_valid(number)
    except KeyError:  # python-stdnum 1.x: a known province with an unknown county
        return False


@RIC_PROPERTY
@given(st.lists(st.tuples(cn_ric_born_19xx(), st.integers(0, 17), st.sampled_from("0123456789X")),
                min_size=1, max_size=60))
def test_cn_ric_validity_agrees_with_python_stdnum(changes) -> None:
    # Change one character of a valid ID: some stay valid (the same character, or a new
    # date and place that still exist), most become invalid.
    ids = [i[:p] + c + i[p + 1:] for i, p, c in changes]
    out = normalise_frame("national_id", ids, **CN)
    assert out.invalid.tolist() == [not _stdnum_valid(i) for i in ids]


# The rules of the name, address and text normalisers, written out plainly: the engine's
# SQL only rewrites values that hold something to rewrite, and must agree with these on
# every value (white space of every sort, separators, Latin words to abbreviate).
_SPACE = re.compile(r"[\t\n\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")  # RE2's [\s\p{Z}]
_ABBREVIATIONS = [("street", "st"), ("road", "rd"), ("avenue", "ave"), ("apartment", "apt"),
                  ("building", "bldg"), ("number", "no"), ("district", "dist"), ("floor", "fl")]


def _plain_text(v: str, separators: str = "") -> str | None:
    v = v.lower()
    if separators:
        v = re.sub(f"[{re.escape(separators)}]", " ", v)
    return _SPACE.sub(" ", v).strip(" ") or None


def _plain_address(v: str) -> str | None:
    v = re.sub("[,.;#·，。]", " ", v.lower())
    if re.search("[a-z]", v):
        for long, short in _ABBREVIATIONS:
            v = re.sub(rf"\b{long}\b", short, v, flags=re.ASCII)  # RE2: ASCII word boundaries
    return _SPACE.sub(" ", v).strip(" ") or None


_messy_text = st.lists(st.sampled_from(list("abZ é1,.;:#·•_，。-") + [" ", "\t", "\u00a0", "\u3000", "\u2003"]
                                       + ["street", "Road", "北京", "张"]), min_size=1, max_size=10).map("".join)


@PROPERTY
@given(st.lists(_messy_text, min_size=1, max_size=12))
def test_names_addresses_and_text_follow_their_rules_on_any_white_space(values) -> None:
    cleaned = [v.strip(" \t\n\r\v\f\u00a0\u3000\ufeff") for v in values]  # every value is trimmed first
    names = normalise_frame("full_name", values, transliterate_names=False).value.tolist()
    assert names == [_plain_text(v, ".,;:·•_") if v else None for v in cleaned]
    addresses = normalise_frame("address", values).value.tolist()
    assert addresses == [_plain_address(v) if v else None for v in cleaned]
    text = normalise_frame("employer", values).value.tolist()
    assert text == [_plain_text(v) if v else None for v in cleaned]
