import json

import numpy as np
import pytest

from chaffee_assets.settings import get_settings
from chaffee_assets.speech import audio, models
from chaffee_assets.speech.records import Segment, Word
from chaffee_assets.speech.speakers import labels
from chaffee_assets.speech.speakers.attribution import DIARIZED, MONOLOGUE, attribute, find_turns
from chaffee_assets.speech.speakers.diarize import Turn
from chaffee_assets.speech.speakers.voice import Profile, ProfileError, find_profile, load_profiles
from tests.conftest import DEMO_AUDIO, VOICES


@pytest.fixture(scope="module")
def encoder():
    return models.voice_encoder(get_settings())


@pytest.fixture(scope="module")
def host():
    return Profile.load(VOICES / "host.json")


def reference_turns(name: str) -> list[dict]:
    return json.loads((DEMO_AUDIO / f"{name}.json").read_text())["turns"]


def profile(name: str, vec, threshold=0.7) -> Profile:
    v = np.asarray(vec, dtype=np.float32)
    v = v / np.linalg.norm(v)
    return Profile(name, "resemblyzer-ge2e-256", 256, v.tolist(), threshold)


def test_identify_needs_threshold_and_margin():
    a, b = np.eye(256)[0], np.eye(256)[1]
    both = profile("a", a), profile("b", 0.9 * a + 0.1 * b)  # two profiles nearly alike
    near_a = (a * 0.99 + b * 0.01) / np.linalg.norm(a * 0.99 + b * 0.01)
    matches = labels.identify({"SPK0": near_a}, {"a": both[0]})
    assert matches["SPK0"].name == "a"
    ambiguous = labels.identify({"SPK0": near_a}, {"a": both[0], "b": both[1]}, margin=0.05)
    assert ambiguous["SPK0"].name == "GUEST"  # above threshold for both, but no margin
    far = labels.identify({"SPK0": b.astype(np.float32), "SPK1": b.astype(np.float32)}, {"a": both[0]})
    assert {m.name for m in far.values()} == {"GUEST_1", "GUEST_2"}


def test_a_profile_names_one_cluster_the_closest():
    a, b = np.eye(256)[0], np.eye(256)[1]
    host = profile("HOST", a, threshold=0.7)
    host_like = (a * 0.9 + b * 0.3) / np.linalg.norm(a * 0.9 + b * 0.3)  # 0.95 to the host: above threshold
    matches = labels.identify({"SPK0": host_like, "SPK1": a.astype(np.float32)}, {"HOST": host})
    assert (matches["SPK0"].name, matches["SPK1"].name) == ("GUEST", "HOST")


def test_profile_names_match_ignoring_case():
    host = profile("HOST", np.ones(256))
    assert find_profile({"HOST": host}, "host") is host
    assert find_profile({"HOST": host}, "Host") is host
    assert find_profile({"HOST": host}, "guest") is None


def test_profile_from_another_encoder_is_refused(tmp_path):
    p = profile("x", np.ones(256))
    p.encoder, p.dim, p.centroid = "ecapa-192", 192, [0.1] * 192
    p.save(tmp_path / "x.json")
    (tmp_path / "broken.json").write_text("{not json")
    profiles, problems = load_profiles(tmp_path)
    assert profiles == {}
    assert any("ecapa-192" in m and "re-enroll" in m for m in problems)
    assert any("broken.json" in m for m in problems)
    with pytest.raises(ProfileError):
        p.check_encoder("resemblyzer-ge2e-256", 256)


@pytest.mark.parametrize("name", ["monologue-01", "monologue-02"])
def test_monologues_take_the_fast_path(name, encoder, host):
    found = find_turns(audio.load(DEMO_AUDIO / f"{name}.flac"), encoder, host)
    assert found.path == MONOLOGUE, found.reason
    assert found.similarity >= host.threshold
    assert {t.speaker for t in found.turns} == {"host"}


def test_a_batch_of_monologue_checks_is_one_encoder_pass(encoder, host, monkeypatch):
    from chaffee_assets.speech.vad import speech_regions

    names = ["monologue-01", "interview-01", "monologue-02"]
    videos = [(n, a, speech_regions(a)) for n in names for a in [audio.load(DEMO_AUDIO / f"{n}.flac")]]
    alone = {n: labels.monologue_check(a, r, encoder, host) for n, a, r in videos}
    passes = []
    real = encoder.embed_mels
    monkeypatch.setattr(encoder, "embed_mels", lambda mels: passes.append(len(mels)) or real(mels))
    batch = labels.monologue_checks(iter(videos), encoder, host)
    assert len(passes) == 1 and passes[0] == sum(c.windows for c in alone.values())
    assert {n: (c.taken, c.windows) for n, c in batch.items()} == {n: (c.taken, c.windows) for n, c in alone.items()}
    assert [batch[n].taken for n in names] == [True, False, True]
    for n in names:
        assert batch[n].similarity == pytest.approx(alone[n].similarity, abs=1e-4)
    assert all(c.compute_s > 0 for c in batch.values())
    # the batch's verdict is what find_turns then acts on, without a check of its own
    monkeypatch.setattr(labels, "monologue_check", lambda *a, **k: pytest.fail("checked again"))
    assert find_turns(videos[0][1], encoder, host, check=batch["monologue-01"]).path == MONOLOGUE
    assert labels.monologue_checks(iter(videos), encoder, None) == {}


def test_interview_is_diarized_and_attributed(encoder, host):
    samples = audio.load(DEMO_AUDIO / "interview-01.flac")
    found = find_turns(samples, encoder, host)
    assert found.path == DIARIZED and "not the host" in found.reason
    transcript = models.transcriber(get_settings()).transcribe(samples)
    labelled = attribute(transcript.segments, found, {"host": host})
    assert all(s.speaker and s.speaker_conf is not None for s in labelled)
    assert all(w.speaker == s.speaker for s in labelled for w in s.words)
    # attribution accuracy by speech time against the exact reference turns
    correct = total = 0.0
    for turn in reference_turns("interview-01"):
        want = "host" if turn["speaker"] == "HOST" else "GUEST"
        for w in (w for s in labelled for w in s.words):
            overlap = min(w.end, turn["end"]) - max(w.start, turn["start"])
            if overlap > 0:
                total += overlap
                correct += overlap * (w.speaker == want)
    assert total > 60
    assert correct / total >= 0.97


def test_missing_or_corrupt_profile_means_full_diarization(encoder, tmp_path):
    samples = audio.load(DEMO_AUDIO / "monologue-01.flac")
    found = find_turns(samples, encoder, None)
    assert found.path == DIARIZED and found.reason.startswith("no host voice profile; ")
    assert found.n_speakers == 1 and "one speaker" in found.reason  # the diarizer's count, and why
    (tmp_path / "host.json").write_text('{"name": "host"}')
    profiles, problems = load_profiles(tmp_path)
    assert "host" not in profiles and problems
    assert find_turns(samples, encoder, profiles.get("host")).path == DIARIZED


def test_words_follow_the_turn_they_overlap_most():
    seg = Segment(0.0, 4.0, "a b c d", -0.1, 0.0, 1.0,
                  words=[Word(0.0, 0.9, "a", 0.9), Word(1.0, 1.9, "b", 0.9), Word(2.1, 2.9, "c", 0.9),
                         Word(3.0, 3.9, "d", 0.9)])
    turns = [Turn(0.0, 2.0, "SPK0"), Turn(2.0, 4.0, "SPK1")]
    matches = {"SPK0": labels.Match("host", 0.9, 0.9), "SPK1": labels.Match("GUEST", 0.6, 0.4)}
    out = labels.label([seg], turns, matches)
    assert [(s.speaker, s.text, s.start, s.end) for s in out] == [("host", "a b", 0.0, 1.9), ("GUEST", "c d", 2.1, 3.9)]
