"""One search request, checked once for the CLI and the HTTP API alike: what is wrong is named, with the field."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

MODES = ("hybrid", "vector", "lexical")
MAX_QUERY_CHARS = 500  # a question, not a document: MiniLM reads 256 word pieces at most anyway
MAX_K = 50
MAX_DEPTH = 500  # offset + k: how deep paging may go
MAX_CONTEXT = 5
WHITESPACE = "\t\n\r"


class BadRequest(ValueError):
    """A request the search refuses; `field` names the parameter, the message says what to send instead."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class SearchRequest:
    """Attributes:
        text: the question, NFC-normalised, whitespace collapsed.
        k: hits per page. offset: hits skipped (page - 1) * k.
        mode: hybrid (RRF of vector and lexical), vector (HNSW cosine) or lexical (full text).
        speaker / video: only that speaker (any case) / that video id.
        since / until: publication dates, both inclusive.
        context: neighbouring segments returned on each side of a hit.
    """

    text: str
    k: int = 10
    offset: int = 0
    mode: str = "hybrid"
    speaker: str | None = None
    video: str | None = None
    since: date | None = None
    until: date | None = None
    context: int = 1


def clean_text(raw: str | None) -> str:
    if raw is None or not raw.strip():
        raise BadRequest("q", "the query is empty; send a question or some words")
    if len(raw) > MAX_QUERY_CHARS:
        raise BadRequest("q", f"the query is {len(raw)} characters; the limit is {MAX_QUERY_CHARS}")
    for i, ch in enumerate(raw):
        if ch in WHITESPACE:
            continue
        if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn"):
            kind = {"Cc": "control character", "Cs": "lone surrogate", "Co": "private-use character",
                    "Cn": "unassigned code point"}[unicodedata.category(ch)]
            raise BadRequest("q", f"the query holds a {kind} U+{ord(ch):04X} at position {i}; send plain text")
    return " ".join(unicodedata.normalize("NFC", raw).split())


def parse_date(field: str, raw: str | date | None) -> date | None:
    if raw is None or isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(raw.strip()) if raw.strip() else None
    except ValueError:
        raise BadRequest(field, f"{raw[:40]!r} is not a date; use YYYY-MM-DD") from None


def checked(text: str | None, *, k: int = 10, page: int = 1, mode: str = "hybrid", speaker: str | None = None,
            video: str | None = None, since: str | date | None = None, until: str | date | None = None,
            context: int = 1) -> SearchRequest:
    """A SearchRequest from raw values, or BadRequest naming the first field that is wrong.

    Whether a speaker or video exists is the store's to say (Searcher checks it against the corpus)."""
    cleaned = clean_text(text)
    if mode not in MODES:
        raise BadRequest("mode", f"{str(mode)[:20]!r} is not one of {', '.join(MODES)}")
    if not 1 <= k <= MAX_K:
        raise BadRequest("k", f"{k} hits per page; ask for 1 to {MAX_K}")
    if page < 1:
        raise BadRequest("page", f"page {page}; pages start at 1")
    if page * k > MAX_DEPTH:
        raise BadRequest("page", f"page {page} of {k} reaches hit {page * k}; paging stops at {MAX_DEPTH}")
    if not 0 <= context <= MAX_CONTEXT:
        raise BadRequest("context", f"{context} neighbours; ask for 0 to {MAX_CONTEXT}")
    start, end = parse_date("since", since), parse_date("until", until)
    if start and end and start > end:
        raise BadRequest("since", f"{start} is after until {end}")
    for field, value in (("speaker", speaker), ("video", video)):
        if value is not None and (not value.strip() or len(value) > 200 or "\x00" in value):
            raise BadRequest(field, f"{value[:40]!r} cannot name a {field}")
    return SearchRequest(cleaned, k, (page - 1) * k, mode, (speaker or "").strip() or None,
                         (video or "").strip() or None, start, end, context)
