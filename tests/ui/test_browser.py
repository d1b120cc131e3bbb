"""The Dagster UI in a real browser (Debian's chromium, headless, driven by Playwright): the asset graph,
an asset's numeric metadata and check results, the run summary read through the UI's GraphQL, and the
new-uploads sensor switched on and off. Screenshots go to test-artifacts/ui/."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from chaffee_assets.settings import REPO_ROOT
from tests.ui.conftest import ARTIFACTS, CHAIN, browser_tab, playwright_or_skip, served

sync_api = playwright_or_skip()
expect = sync_api.expect

CORPUS_QUERY = """
query ($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) {
    ... on Asset {
      assetMaterializations(limit: 1) {
        runId partition
        metadataEntries {
          label __typename
          ... on FloatMetadataEntry { floatValue }
          ... on IntMetadataEntry { intValue }
        }
      }
    }
  }
  assetNodes(assetKeys: [{path: $path}]) {
    assetChecksOrError {
      ... on AssetChecks { checks { name executionForLatestMaterialization { status runId } } }
    }
  }
}
"""
SENSOR_QUERY = """
query { sensorOrError(sensorSelector: {repositoryLocationName: "chaffee_assets",
        repositoryName: "__repository__", sensorName: "new_uploads"}) {
  __typename ... on Sensor { sensorState { status } } } }
"""


@pytest.fixture(scope="module")
def webserver(ingested, tmp_path_factory):
    """dagster-webserver on a free 127.0.0.1 port against the test instance (no daemon needed)."""
    args = ["dagster_webserver", "-h", "127.0.0.1", "-p", "{port}", "-w", str(REPO_ROOT / "workspace.yaml")]
    with served(args, "/server_info", tmp_path_factory.mktemp("webserver") / "webserver.log") as url:
        yield url


@pytest.fixture(scope="module")
def page(webserver, tmp_path_factory):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with browser_tab(sync_api, tmp_path_factory.mktemp("chromium-profile"), 1600, 1100) as tab:
        yield tab


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    skip = page.get_by_role("button", name="Skip")  # the one-time "join the community" dialog
    if skip.count():
        skip.first.click()


def _graphql(page, query: str, variables: dict | None = None) -> dict:
    """POST to the webserver's /graphql from inside the page, as the UI itself does."""
    body = page.evaluate(
        """async ([query, variables]) => {
            const r = await fetch('/graphql', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                               body: JSON.stringify({query, variables})});
            return await r.text();
        }""", [query, variables or {}])
    doc = json.loads(body)
    assert "errors" not in doc, doc
    return doc["data"]


def _shot(page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    return path


def test_asset_graph_shows_the_five_assets(page, webserver):
    _open(page, f"{webserver}/locations/chaffee_assets/asset-groups/speech")
    for name in CHAIN:
        expect(page.get_by_text(name, exact=True).filter(visible=True).first).to_be_visible()
    expect(page.get_by_text("100% filled").first).to_be_visible()  # partition health drawn on the nodes
    _shot(page, "asset-graph")


def test_embeddings_metadata_and_checks_in_the_ui(page, webserver, ingested, dagster_env):
    import dagster as dg

    event = dagster_env.get_latest_materialization_event(dg.AssetKey("embeddings"))
    assert event.run_id == ingested.run_id
    stored = event.asset_materialization.metadata
    _open(page, f"{webserver}/assets/embeddings")
    shown = {}
    for key in ("x_realtime", "h_audio_per_h", "busy_fraction", "audio_s", "corpus_videos", "corpus_audio_hours",
                "corpus_elapsed_hours", "corpus_hours_per_hour"):
        row = page.locator("tr", has=page.get_by_text(key, exact=True)).first
        expect(row).to_be_visible()
        shown[key] = float(row.locator("td").last.inner_text().strip().replace(",", ""))
    for key, value in shown.items():
        assert value == pytest.approx(stored[key].value), key  # the UI shows what the run recorded
    page.locator("tr", has=page.get_by_text("corpus_hours_per_hour", exact=True)).first.scroll_into_view_if_needed()
    _shot(page, "embeddings-metadata")

    _open(page, f"{webserver}/assets/embeddings?view=checks")
    for check in ("stored_segments", "throughput"):
        expect(page.get_by_text(check, exact=True).first).to_be_visible()
    expect(page.get_by_text("Latest execution")).to_be_visible()
    expect(page.get_by_text("Passed").filter(visible=True).first).to_be_visible()  # stored_segments, selected first
    expect(page.get_by_text("videos_checked").first).to_be_visible()
    _shot(page, "embeddings-checks")


def test_run_summary_through_graphql_equals_chaffee_stats(page, webserver, ingested):
    _open(page, f"{webserver}/assets/embeddings")
    data = _graphql(page, CORPUS_QUERY, {"path": ["embeddings"]})
    (latest,) = data["assetOrError"]["assetMaterializations"]
    assert latest["runId"] == ingested.run_id
    entries = {e["label"]: e for e in latest["metadataEntries"]}
    for key, value in ingested.stats.items():
        entry = entries[f"corpus_{key}"]
        if value is None:
            assert entry["__typename"] == "NullMetadataEntry", key
        elif entry["__typename"] == "IntMetadataEntry":
            assert entry["intValue"] == value, key
        else:
            assert entry["__typename"] == "FloatMetadataEntry" and entry["floatValue"] == value, key
    checks = {c["name"]: c["executionForLatestMaterialization"]
              for c in data["assetNodes"][0]["assetChecksOrError"]["checks"]}
    assert checks["stored_segments"] == {"status": "SUCCEEDED", "runId": ingested.run_id}
    assert checks["throughput"]["runId"] == ingested.run_id and checks["throughput"]["status"] in {
        "SUCCEEDED", "FAILED"}  # WARN severity: evaluated either way, never blocking


def _sensor_status(page, wanted: str, timeout_s: float = 30) -> str:
    """The sensor's stored state as the webserver reports it, polled until it is `wanted` (bounded)."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = _graphql(page, SENSOR_QUERY)["sensorOrError"]["sensorState"]["status"]
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def test_new_uploads_sensor_can_be_turned_on_from_the_ui(page, webserver):
    _open(page, f"{webserver}/locations/chaffee_assets/sensors/new_uploads")
    assert _sensor_status(page, "STOPPED", timeout_s=0) == "STOPPED"  # off until an operator turns it on
    switch = page.locator("input[type=checkbox]").first
    toggle = page.locator("label", has=switch).first  # the drawn switch; its input has no size of its own
    expect(switch).not_to_be_checked()
    try:
        toggle.click()
        expect(switch).to_be_checked()
        assert _sensor_status(page, "RUNNING") == "RUNNING"
        _shot(page, "sensor-on")
    finally:
        if switch.is_checked():
            toggle.click()
    expect(switch).not_to_be_checked()
    assert _sensor_status(page, "STOPPED") == "STOPPED"
