"""The word-time repair on real ASR output (bench/timing_repairs): two stress-corpus files decoded by the
bundled model with the repair held back, then repaired: sound segments, the same words, repairs counted."""

import shutil

import pytest

from chaffee_assets.bench.timing_repairs import measure
from tests.conftest import stress_corpus


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng generates the files")
def test_real_decoder_output_is_repaired_without_losing_a_word(tmp_path):
    for seed in (5004, 5011):  # 38 s and 40 s; their decodes needed 6 and 10 repairs on 2026-12-02
        folder = stress_corpus(tmp_path, 1, seed)
    doc = measure(folder)
    assert doc["totals"]["files"] == 2 and doc["totals"]["errors"] == 0
    for row in doc["files"]:
        assert row["problems_after"] == [] and row["dropped_after"] == 0 and row["refused_after"] is None, row
        assert row["same_words"], row["file"]
    assert sum(doc["totals"]["repairs"].values()) > 0  # the decoder's times needed mending
