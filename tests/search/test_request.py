"""The checks every search request passes, for the CLI and the API alike."""

from datetime import date

import pytest

from chaffee_assets.search.request import MAX_QUERY_CHARS, BadRequest, checked


def field_of(**kwargs) -> tuple[str, str]:
    with pytest.raises(BadRequest) as caught:
        checked(**kwargs)
    return caught.value.field, caught.value.message


@pytest.mark.parametrize("text", [None, "", "   ", "\t\n"])
def test_an_empty_query_is_refused(text):
    assert field_of(text=text) == ("q", "the query is empty; send a question or some words")


def test_a_long_text_is_refused_with_its_length():
    field, message = field_of(text="a" * 10_240)
    assert field == "q" and "10240 characters" in message and str(MAX_QUERY_CHARS) in message


@pytest.mark.parametrize("text, code", [("keto\x00sis", "U+0000"), ("bell\x07", "U+0007"), ("esc\x1b[0m", "U+001B"),
                                        ("half \ud800 pair", "U+D800"), ("del\x7f", "U+007F")])
def test_control_characters_are_named(text, code):
    field, message = field_of(text=text)
    assert field == "q" and code in message


def test_unicode_and_whitespace_are_kept_as_text():
    req = checked("  cafe\u0301   ケトーシス\t🥩\n")
    assert req.text == "café ケトーシス 🥩"  # NFC, whitespace collapsed


def test_sql_is_just_text():
    assert checked("'; DROP TABLE segments; --").text == "'; DROP TABLE segments; --"


@pytest.mark.parametrize("kwargs, field", [
    ({"since": "2024-13-01"}, "since"), ({"until": "yesterday"}, "until"),
    ({"since": "2024-02-01", "until": "2024-01-01"}, "since"), ({"k": 0}, "k"), ({"k": 51}, "k"),
    ({"page": 0}, "page"), ({"page": 60, "k": 10}, "page"), ({"mode": "fuzzy"}, "mode"),
    ({"context": 9}, "context"), ({"speaker": "  "}, "speaker"), ({"video": "x" * 300}, "video"),
])
def test_bad_parameters_name_their_field(kwargs, field):
    assert field_of(text="ketosis", **kwargs)[0] == field


def test_a_good_request_is_parsed():
    req = checked("ketosis", k=5, page=3, mode="lexical", speaker=" host ", since="2020-01-02", until="2020-02-03")
    assert (req.offset, req.speaker, req.since, req.until) == (10, "host", date(2020, 1, 2), date(2020, 2, 3))
