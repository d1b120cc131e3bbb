import numpy as np
import pytest
from faster_whisper.vad import VadOptions, get_speech_timestamps

from chaffee_assets.speech import audio
from chaffee_assets.speech.asr.windowed import DEFAULT_VAD, clips
from chaffee_assets.speech.vad import FRAME, Region, regions, speech_probs, speech_regions
from tests.conftest import DEMO_AUDIO

SR = audio.SAMPLE_RATE


@pytest.fixture(scope="module")
def interview():
    return audio.load(DEMO_AUDIO / "interview-01.flac")


@pytest.mark.parametrize("ours,theirs", [
    ({}, dict(min_silence_duration_ms=300, min_speech_duration_ms=250, speech_pad_ms=30)),  # diarization
    ({k: v for k, v in DEFAULT_VAD.items()} | {"max_speech_s": 30},  # ASR clips
     dict(min_silence_duration_ms=160, speech_pad_ms=400, max_speech_duration_s=30)),
])
def test_regions_from_one_pass_equal_faster_whispers_own_vad(interview, ours, theirs):
    """One silero pass, many settings: the regions are faster-whisper's, to the sample."""
    reference = [(s["start"], s["end"]) for s in get_speech_timestamps(interview, VadOptions(**theirs))]
    got = [(int(r.start * SR), int(r.end * SR)) for r in regions(speech_probs(interview), interview.size / SR, **ours)]
    assert len(reference) > 10 and got == reference


def test_probabilities_line_up_with_frames_across_blocks(interview):
    whole = speech_probs(interview)
    blocked = speech_probs(interview, block_s=20.0)  # 20 s = 625 whole frames per block
    assert whole.shape == blocked.shape == (-(-interview.size // FRAME),)
    # silero's state restarts at each block; away from the joins the probabilities agree
    assert np.corrcoef(whole, blocked)[0, 1] > 0.98


def test_given_probabilities_are_used_only_when_they_fit(interview):
    probs = speech_probs(interview)
    assert speech_regions(interview, probs) == speech_regions(interview)
    silent = np.zeros_like(probs)
    assert speech_regions(interview, silent) == []  # used: it says nothing is speech
    assert speech_regions(interview, silent[:-5]) == speech_regions(interview)  # wrong length: recomputed


def test_long_speech_is_split_at_its_least_speechlike_frame():
    probs = np.full(2000, 0.9, dtype=np.float32)  # 64 s of uninterrupted speech
    probs[700] = 0.55  # a dip at 22.4 s that is still speech
    found = regions(probs, 64.0, max_speech_s=30, pad_ms=0)
    assert found[0].end == pytest.approx(700 * FRAME / SR)
    assert all(r.duration <= 30 for r in found) and len(found) == 3
    assert found[0].start == 0 and found[-1].end == pytest.approx(64.0)
    assert all(a.end == b.start for a, b in zip(found, found[1:]))


def test_clips_merge_regions_up_to_the_chunk_and_break_at_long_pauses():
    rs = [Region(0, 10), Region(10.5, 20), Region(21, 29), Region(29.5, 35), Region(40, 45)]
    assert clips(rs, 30.0, 3.0) == [{"start": 0, "end": 29}, {"start": 29.5, "end": 35}, {"start": 40, "end": 45}]


def test_diarization_reuses_the_probabilities_asr_kept(interview, monkeypatch):
    from chaffee_assets.settings import get_settings
    from chaffee_assets.speech import models, vad
    from chaffee_assets.speech.speakers.attribution import find_turns

    encoder = models.voice_encoder(get_settings())
    probs = speech_probs(interview)
    expected = find_turns(interview, encoder, None)

    def no_second_pass(*_a, **_k):
        raise AssertionError("silero ran again")

    monkeypatch.setattr(vad, "speech_probs", no_second_pass)
    reused = find_turns(interview, encoder, None, speech_probs=probs)
    assert reused.turns == expected.turns and reused.n_speakers == expected.n_speakers == 2
