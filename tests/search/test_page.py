"""The search page in a real browser (Debian's chromium, headless, driven by Playwright) against `chaffee
serve`: a question answered with highlighted words and a deep link, paging, and a bad input explained."""

from __future__ import annotations


import pytest

from chaffee_assets.settings import REPO_ROOT
from tests.ui.conftest import browser_tab, playwright_or_skip

ARTIFACTS = REPO_ROOT / "test-artifacts" / "search"
sync_api = playwright_or_skip()
expect = sync_api.expect


@pytest.fixture(scope="module")
def tab(server, tmp_path_factory):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with browser_tab(sync_api, tmp_path_factory.mktemp("chromium-search"), 1200, 900) as page:
        page.goto(server + "/")
        yield page


def ask(tab, question: str, speaker: str = "", mode: str = "hybrid") -> None:
    tab.select_option("#mode", mode)
    tab.fill("#q", question)
    tab.fill("#speaker", speaker)
    tab.click("button[type=submit]")


def test_a_question_gets_highlighted_hits_with_deep_links(tab):
    ask(tab, "can spinach give me kidney stones")
    first = tab.locator(".hit").first
    expect(first).to_be_visible()
    marks = {m.lower() for m in first.locator("mark").all_inner_texts()}
    assert {"spinach", "kidney", "stones"} & marks
    href = first.locator("a").first.get_attribute("href")
    assert href.startswith("https://www.youtube.com/watch?v=") and "&t=" in href
    assert tab.locator(".hit").count() == 10
    tab.screenshot(path=str(ARTIFACTS / "search-page.png"))


def test_more_appends_the_next_page(tab):
    ask(tab, "insulin")
    expect(tab.locator(".hit")).to_have_count(10)
    tab.click("#more")
    expect(tab.locator(".hit")).to_have_count(20)


def test_a_bad_input_is_explained_on_the_page(tab):
    ask(tab, "ketosis", speaker="nobody-at-all", mode="")  # the server's default mode
    expect(tab.locator("#error")).to_contain_text("speaker: no segments by 'nobody-at-all'")
    expect(tab.locator(".hit")).to_have_count(0)
    ask(tab, "")
    expect(tab.locator("#error")).to_contain_text("q: the query is empty")
    tab.screenshot(path=str(ARTIFACTS / "search-page-error.png"))


def test_transcript_text_is_never_markup(tab, conn, embedder):
    """A stored segment holding HTML is shown as its text: no element is made from it."""
    from chaffee_assets.sources.base import Video
    from chaffee_assets.speech.text.chunks import Chunk
    from chaffee_assets.store import catalog, segments

    text = "<img src=x onerror=alert(1)> zzmarkupzz says <b>bold</b> things"
    catalog.register(conn, [Video("page-markup-1", "youtube", "https://www.youtube.com/watch?v=page-markup-1")])
    segments.replace(conn, "page-markup-1", [Chunk(1.0, 4.0, "GUEST", 0.9, text)], embedder.embed([text]), embedder.model_name)
    ask(tab, "zzmarkupzz")
    first = tab.locator(".hit").first
    expect(first.locator(".text")).to_have_text(text)
    assert first.locator("img, b").count() == 0 and first.locator("mark").all_inner_texts() == ["zzmarkupzz"]
