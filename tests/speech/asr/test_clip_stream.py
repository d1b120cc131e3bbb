"""One ASR stream per run (clip_stream.ClipStream): the real prep (thread or worker processes), audio decoding,
windows, silero VAD and scheduling, with the model replaced by a spy that answers each clip with one word
naming it. Files from 4 s to 21 min, a corrupt one, and one whose clips make the model fail."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from chaffee_assets.speech import audio
from chaffee_assets.speech.asr.windowed import WindowedTranscriber, clips
from chaffee_assets.speech.asr.windows import window_parts
from chaffee_assets.speech.audio import SAMPLE_RATE
from tests.conftest import DEMO_AUDIO

BATCH = 8


def _off_grid(piece: np.ndarray) -> bool:
    """The poisoned file is float WAV off the 16-bit grid every other file is on."""
    return bool(np.any(np.abs(piece * 32768 - np.round(piece * 32768)) > 1e-3))


class Spy(WindowedTranscriber):
    """Answers clip n with one 20 ms word "c<n>" at the clip's centre; fails a batch holding a poisoned clip."""

    backend = "spy"

    def __init__(self, **options) -> None:
        super().__init__(batch_size=BATCH, window_s=600.0, lookahead_batches=2, **options)
        self.batches: list[list[int]] = []
        self.sizes: list[int] = []

    def decode_clips(self, pieces):
        if any(_off_grid(p) for p in pieces):
            self.batches.append([])
            raise RuntimeError("poisoned clip")
        ids = list(range(len(self.sizes), len(self.sizes) + len(pieces)))
        self.batches.append(ids)
        self.sizes += [p.size for p in pieces]
        out = []
        for n, p in zip(ids, pieces):
            mid = p.size / SAMPLE_RATE / 2
            word = SimpleNamespace(start=mid - 0.01, end=mid + 0.01, word=f" c{n}", probability=0.9)
            out.append(([SimpleNamespace(start=mid - 0.01, end=mid + 0.01, text=f"c{n}", avg_logprob=-0.1,
                                         no_speech_prob=0.01, compression_ratio=1.0, words=[word])], 0.0))
        return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    demo = [audio.load(DEMO_AUDIO / f"{name}.flac") for name in ("interview-01", "monologue-01", "monologue-02")]
    tiled = np.concatenate(demo * 6)[: 21 * 60 * SAMPLE_RATE + 12345]  # 21 min: three 10-min windows
    files = {"long": (tiled, "PCM_16"), "short": (demo[1][int(26.5 * SAMPLE_RATE) : int(30.5 * SAMPLE_RATE)], "PCM_16"),
             "medium": (demo[2], "PCM_16"), "poisoned": (demo[0][: 40 * SAMPLE_RATE] * 0.9 + 0.3 / 32768, "FLOAT")}
    paths = {}
    for key, (samples, subtype) in files.items():
        paths[key] = folder / f"{key}.{'wav' if subtype == 'FLOAT' else 'flac'}"
        sf.write(paths[key], samples, SAMPLE_RATE, subtype=subtype)
    paths["corrupt"] = folder / "corrupt.flac"
    paths["corrupt"].write_bytes(b"fLaC" + bytes(range(256)) * 40)
    order = ["short", "long", "corrupt", "poisoned", "medium"]
    return {k: paths[k] for k in order}


def expected_clips(model: WindowedTranscriber, path) -> list[float]:
    """Centres (file seconds) of every clip the file must send: first-pass clips of each window, then its
    speech regions the first pass left without a word (the spy's only word sits at a clip's centre)."""
    centres = []
    for first, window, probs in window_parts(audio.blocks(path), model.window_s):
        offset, speech = first / SAMPLE_RATE, model.speech(probs, window.size / SAMPLE_RATE)
        first_pass = [(c["start"] + c["end"]) / 2 for c in clips(speech, model.chunk_length, model.max_gap_s)]
        second = [(r.start + r.end) / 2 for r in speech if r.duration >= model.min_missed_s
                  and not any(r.start <= m <= r.end for m in first_pass)]
        centres += [offset + c for c in first_pass + second]
    return sorted(centres)


@pytest.mark.parametrize("workers", [0, 2], ids=["thread", "processes"])
def test_every_clip_comes_back_once_to_its_own_video(corpus, workers):
    model = Spy()
    finished = list(model.transcribe_many(corpus.items(), workers=workers, depth=2))
    results = {f.key: f.result for f in finished}
    assert sorted(f.key for f in finished) == sorted(corpus)  # every video exactly once
    assert isinstance(results["corrupt"], audio.AudioError) and "corrupt.flac" in str(results["corrupt"])
    assert isinstance(results["poisoned"], RuntimeError) and "poisoned clip" in str(results["poisoned"])

    returned: list[int] = []
    for key in ("short", "medium", "long"):
        t = results[key]
        words = [w for s in t.segments for w in s.words] + [w for s, _why in t.dropped for w in s.words]
        assert not t.dropped, t.dropped
        starts = [s.start for s in t.segments]
        assert starts == sorted(starts)  # in order
        want = expected_clips(model, corpus[key])
        got = sorted((w.start + w.end) / 2 for w in words)
        assert len(got) == len(want), key  # each of its clips, no other video's
        assert np.allclose(got, want, atol=2e-3), key  # each at its own place
        assert t.duration_s == pytest.approx(sf.info(corpus[key]).duration, abs=1e-3)
        returned += [int(w.word[1:]) for w in words]
    # every decoded clip of a good video came back once; the poisoned video's clips left with it
    assert len(returned) == len(set(returned))
    poisoned_decoded = [n for n in range(len(model.sizes)) if n not in set(returned)]
    assert poisoned_decoded == []

    # batches are whole but for the retry of the failed mixed batch (each video's clips alone) and the
    # last ones of the run (the rest of the first pass, then the re-decode of what it missed)
    sizes = [len(b) for b in model.batches]
    retry = sizes.index(0)
    partial = [i for i, n in enumerate(sizes) if 0 < n < BATCH and not retry < i <= retry + 4]  # 4 videos
    assert len(partial) <= 2, str(sizes)
    full = [b for b in model.batches if b]
    owner = {int(w.word[1:]): key for key in ("short", "medium", "long")
             for s in results[key].segments for w in s.words}
    assert any(len({owner[n] for n in b}) > 1 for b in full)  # batches span videos
    assert sum(len(b) for b in full) > 60  # the 21-min file alone sends dozens of clips


def test_a_failed_batch_is_decoded_again_without_the_failing_video(corpus):
    """The poisoned video's clips share a batch with others' clips: that batch fails once, then each video's
    clips are decoded alone and only the poisoned video fails."""
    model = Spy()
    keys = ("poisoned", "medium")
    finished = {f.key: f.result for f in model.transcribe_many([(k, corpus[k]) for k in keys], workers=0)}
    assert isinstance(finished["poisoned"], RuntimeError)
    assert len(model.batches[0]) == 0  # the first (mixed) batch failed
    words = [w for s in finished["medium"].segments for w in s.words]
    assert len(words) == len(expected_clips(model, corpus["medium"]))


def test_a_single_recording_goes_through_the_same_stream():
    model = Spy()
    samples = audio.load(DEMO_AUDIO / "monologue-02.flac")
    t = model.transcribe(samples)
    assert len([w for s in t.segments for w in s.words]) == len(expected_clips(model, DEMO_AUDIO / "monologue-02.flac"))


def test_a_videos_transcript_does_not_depend_on_its_batch_mates():
    """The real faster-whisper model: interview-01 alone, and sharing batches with other files in another
    order, gives the same segments and words to the bit (re-runs over other ranges store the same rows)."""
    from chaffee_assets.settings import get_settings
    from chaffee_assets.speech import models

    model = models.transcriber(get_settings())

    def interview(keys: list[str]):
        done = {f.key: f.result for f in model.transcribe_many([(k, DEMO_AUDIO / f"{k}.flac") for k in keys])}
        return [(s.start, s.end, s.text, [(w.start, w.end, w.word) for w in s.words])
                for s in done["interview-01"].segments]

    alone = interview(["interview-01"])
    assert alone and interview(["monologue-02", "interview-01", "monologue-01"]) == alone
