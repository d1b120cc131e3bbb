"""The diarizer's speech regions (speech/speakers/regions.py) on crafted regions and audio: what only the
sensitive pass finds is added beside the default regions, and near-digital silence is trimmed."""

import numpy as np

from chaffee_assets.speech.audio import SAMPLE_RATE
from chaffee_assets.speech.speakers.regions import SpeakerVad, audible, outside
from chaffee_assets.speech.vad import Region


def spans(regions):
    return [(round(r.start, 2), round(r.end, 2)) for r in regions]


def test_outside_keeps_what_the_default_regions_do_not_cover():
    sensitive = [Region(0.0, 5.0), Region(8.0, 8.1), Region(10.0, 12.0)]
    default = [Region(1.0, 2.0), Region(3.0, 4.9)]
    assert spans(outside(sensitive, default, 0.15)) == [(0.0, 1.0), (2.0, 3.0), (10.0, 12.0)]  # 4.9-5.0 and 8.0-8.1 too short


def test_audible_trims_digital_silence_and_splits_at_silent_gaps():
    rng = np.random.default_rng(0)
    audio = np.zeros(6 * SAMPLE_RATE, np.float32)
    loud = 0.1 * rng.standard_normal(SAMPLE_RATE).astype(np.float32)
    quiet = 0.01 * rng.standard_normal(SAMPLE_RATE).astype(np.float32)  # 20 dB down: a far speaker stays
    audio[SAMPLE_RATE : 2 * SAMPLE_RATE] = loud
    audio[3 * SAMPLE_RATE : 4 * SAMPLE_RATE] = quiet
    found = audible(audio, [Region(0.5, 4.5)], [Region(1.0, 2.0)], SpeakerVad())
    assert [(round(a), round(b)) for a, b in spans(found)] == [(1, 2), (3, 4)]
    assert all(abs(a - round(a)) <= 0.04 and abs(b - round(b)) <= 0.04 for a, b in spans(found))


def test_audible_keeps_short_silent_gaps_inside_a_region():
    rng = np.random.default_rng(1)
    audio = (0.1 * rng.standard_normal(3 * SAMPLE_RATE)).astype(np.float32)
    audio[SAMPLE_RATE : SAMPLE_RATE + SAMPLE_RATE // 10] = 0.0  # 0.1 s of silence < bridge_s
    assert len(audible(audio, [Region(0.0, 3.0)], [Region(0.0, 3.0)], SpeakerVad())) == 1
