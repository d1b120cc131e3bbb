import logging
import os

import pytest
from click.testing import CliRunner

from chaffee_assets.bench.evaluate import der, load_rttm
from chaffee_assets.cli import main
from chaffee_assets.settings import get_settings
from chaffee_assets.speech import audio, models
from chaffee_assets.speech.speakers import labels, pyannote_adapter
from chaffee_assets.speech.speakers.attribution import DIARIZED, find_turns
from chaffee_assets.speech.speakers.pyannote_adapter import PyannoteUnavailable
from chaffee_assets.speech.speakers.voice import Profile
from tests.conftest import DEMO_AUDIO, SAMPLE, VOICES


def _import_error() -> str | None:
    try:
        import pyannote.audio  # noqa: F401
    except Exception as exc:  # the CPU torch wheel here: ImportError; a torch ABI mismatch: OSError etc.
        return f"{type(exc).__name__}: {exc}"
    return None


IMPORT_ERROR = _import_error()


@pytest.fixture(scope="module")
def encoder():
    return models.voice_encoder(get_settings())


@pytest.fixture(scope="module")
def sample():
    return audio.load(SAMPLE / "sample.wav")


@pytest.mark.skipif(IMPORT_ERROR is not None, reason=f"pyannote.audio does not import here ({IMPORT_ERROR})")
def test_pyannote_diarizes_the_sample(encoder, sample):
    model = get_settings().pyannote_model
    if not model:
        pytest.skip("pyannote.audio imports but CHAFFEE_PYANNOTE_MODEL is not set (local directory or hub id)")
    d = pyannote_adapter.diarize(sample, encoder, model=model, device=get_settings().device)
    assert d.n_speakers == 2 and d.method == f"pyannote:{model}"
    assert {t.speaker for t in d.turns} <= set(d.centroids)
    assert der(load_rttm(SAMPLE / "sample.rttm"), d.turns, sample.size / audio.SAMPLE_RATE, 0.25) <= 0.12


def test_annotation_becomes_a_diarization_that_identification_can_name(encoder):
    """The adapter's conversion, fed the exact reference turns of the demo interview as pyannote's output."""
    ref = load_rttm(DEMO_AUDIO / "interview-01.rttm")
    samples = audio.load(DEMO_AUDIO / "interview-01.flac")
    d = pyannote_adapter.from_annotation(samples, ref, encoder)
    assert len(d.turns) == len(list(ref.itertracks())) and set(d.centroids) == {"SPK0", "SPK1"}
    assert der(ref, d.turns, samples.size / audio.SAMPLE_RATE) == 0.0
    host = Profile.load(VOICES / "host.json")
    names = {c: m.name for c, m in labels.identify(d.centroids, {"host": host}).items()}
    assert sorted(names.values()) == ["GUEST", "host"]
    assert names[f"SPK{sorted(ref.labels()).index('HOST')}"] == "host"


def test_overlapped_speech_gives_no_centroid_window(encoder, sample):
    ref = load_rttm(SAMPLE / "sample.rttm")  # 18.15-18.59: both speakers at once
    d = pyannote_adapter.from_annotation(sample, ref, encoder)
    assert len(d.turns) == 10 and d.n_speakers == 2 and len(d.windows) == len(d.labels) > 0
    overlap = ref.get_overlap()
    assert overlap and all(not (s < o.end and e > o.start) for s, e in d.windows.spans for o in overlap)


@pytest.mark.skipif(IMPORT_ERROR is None, reason="pyannote.audio imports here")
def test_pyannote_backend_unavailable_is_an_error_and_auto_falls_back(encoder, sample, restore_env, caplog):
    os.environ["CHAFFEE_DIARIZER"] = "pyannote"
    with pytest.raises(PyannoteUnavailable, match="pyannote.audio does not import.*CHAFFEE_DIARIZER=offline"):
        find_turns(sample, encoder, None)
    with caplog.at_level(logging.WARNING):
        found = find_turns(sample, encoder, None, backend="auto")
    assert found.path == DIARIZED and found.diarizer == "offline" and found.n_speakers == 2
    assert "pyannote unavailable, offline diarizer used" in found.reason
    assert "pyannote unavailable" in caplog.text
    result = CliRunner().invoke(main, ["diarize", str(SAMPLE / "sample.wav"), "--backend", "pyannote"])
    assert result.exit_code == 1 and "sample.wav: pyannote.audio does not import" in result.output
    with pytest.raises(ValueError, match="unknown diarizer 'kmeans'"):
        find_turns(sample, encoder, None, backend="kmeans")


def test_token_is_masked_in_messages(restore_env):
    os.environ["HF_TOKEN"] = "hf_not_a_real_token"
    assert "hf_not_a_real_token" not in pyannote_adapter._masked("401 for hf_not_a_real_token at the hub")
