"""`chaffee serve` as its own process on 127.0.0.1: the API's answers, its OpenAPI, and a clear 400 (or 413)
naming the field for each bad input."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest


def call(base: str, path: str, params: dict | None = None, body: dict | bytes | None = None) -> tuple[int, dict]:
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_search_answers_with_hits_context_and_links(server):
    from chaffee_assets.settings import get_settings

    status, page = call(server, "/api/search", {"q": "why do oxalates cause kidney stones", "k": 3, "context": 1})
    assert status == 200 and page["mode"] == get_settings().search_mode and len(page["hits"]) == 3
    hit = page["hits"][0]
    assert "kidney stones" in hit["text"].lower() and "t=" in hit["url"] and hit["highlights"]
    assert set(hit["context"]) == {"before", "after"}


def test_openapi_describes_the_search(server):
    status, spec = call(server, "/openapi.json")
    assert status == 200 and {"/api/search", "/api/speakers"} <= set(spec["paths"])
    params = {p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert {"q", "k", "page", "mode", "speaker", "video", "since", "until", "context"} <= params


def test_the_server_listens_on_loopback_only(server):
    assert server.startswith("http://127.0.0.1:")
    import psutil

    port = int(server.rsplit(":", 1)[1])
    listening = {c.laddr.ip for c in psutil.net_connections("inet") if c.status == "LISTEN" and c.laddr.port == port}
    assert listening == {"127.0.0.1"}


@pytest.mark.parametrize("params, field, words", [
    ({"q": ""}, "q", "empty"),
    ({"q": "   "}, "q", "empty"),
    ({}, "q", "empty"),
    ({"q": "a" * 10_240}, "q", "10240 characters"),
    ({"q": "keto\x00sis"}, "q", "U+0000"),
    ({"q": "bell\x07 ring"}, "q", "U+0007"),
    ({"q": "ketosis", "speaker": "nobody-here"}, "speaker", "known speakers"),
    ({"q": "ketosis", "video": "no-such-video"}, "video", "no video"),
    ({"q": "ketosis", "since": "2024-13-45"}, "since", "not a date"),
    ({"q": "ketosis", "until": "last week"}, "until", "not a date"),
    ({"q": "ketosis", "since": "2024-02-01", "until": "2024-01-01"}, "since", "after"),
    ({"q": "ketosis", "k": 0}, "k", "1 to 50"),
    ({"q": "ketosis", "k": 1000}, "k", "1 to 50"),
    ({"q": "ketosis", "k": "ten"}, "k", "integer"),
    ({"q": "ketosis", "page": 99}, "page", "paging stops"),
    ({"q": "ketosis", "mode": "magic"}, "mode", "not one of"),
])
def test_bad_input_is_a_400_naming_the_field(server, params, field, words):
    status, body = call(server, "/api/search", params)
    assert status == 400, body
    assert body["error"]["field"] == field and words in body["error"]["message"], body


@pytest.mark.parametrize("q", ["'; DROP TABLE segments; --", "1 OR 1=1", "\" unbalanced -", "ケトーシス café 🥩",
                               "Ketose und Insulin, bitte", "x\u0301\u200d"])
def test_sql_and_unicode_are_searched_as_text(server, conn, q):
    before = conn.execute("SELECT count(*) FROM segments").fetchone()[0]
    status, page = call(server, "/api/search", {"q": q, "k": 2})
    assert status == 200 and page["query"] and len(page["hits"]) <= 2
    assert conn.execute("SELECT count(*) FROM segments").fetchone()[0] == before


def test_pages_and_post_agree(server):
    query = {"q": "sleep and insulin", "k": 4}
    _, first = call(server, "/api/search", {**query, "page": 1})
    _, second = call(server, "/api/search", {**query, "page": 2})
    status, posted = call(server, "/api/search", body={**query, "page": 2})
    assert status == 200 and first["more"]
    ids = [h["segment_id"] for h in first["hits"] + second["hits"]]
    assert len(set(ids)) == 8 and [h["segment_id"] for h in posted["hits"]] == ids[4:]


def test_post_limits(server):
    status, body = call(server, "/api/search", body={"q": "a" * 10_240})
    assert status == 400 and body["error"]["field"] == "q"
    status, body = call(server, "/api/search", body=json.dumps({"q": "x" * 40_000}).encode())
    assert status == 413 and body["error"]["field"] == "body"
    status, body = call(server, "/api/search", body=b"{not json")
    assert status == 400


def test_speakers_lists_the_corpus_speakers(server):
    status, names = call(server, "/api/speakers")
    assert status == 200 and {"host", "GUEST"} <= set(names)
