"""The host rule (speakers/host.py, issue #22) on short generated files, with the real voice encoder:
a 24 s interview with 2-4 s host turns and 1-3 s guest turns keeps its host whatever the clustering
does, and a stranger alone, run against the demo host profile, stays one speaker and is never the host."""

import random
import shutil
import sys

import numpy as np
import pytest

from chaffee_assets.bench.evaluate import host_attribution, turns_annotation
from chaffee_assets.settings import REPO_ROOT
from chaffee_assets.speech.speakers.attribution import find_turns, names_of
from chaffee_assets.speech.speakers.count import fixed_k
from chaffee_assets.speech.speakers.diarize import HOP_S, Turn
from chaffee_assets.speech.speakers.host import host_windows
from chaffee_assets.speech.speakers.voice import Profile, VoiceEncoder, enroll, window_spans
from chaffee_assets.speech.vad import speech_regions

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng (make setup) generates the voices")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """(encoder, synth module, Synth, host profile) with voices from the development pool only."""
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    import speaker_sets

    synth = speaker_sets.Synth(tmp_path_factory.mktemp("voices"), speaker_sets.voices("dev"))
    encoder = VoiceEncoder()
    host = enroll("V07", [(f"e{i}", c) for i, c in enumerate(speaker_sets.enrollment(synth, "V07"))], encoder,
                  speech_regions)
    return encoder, speaker_sets, synth, host


def test_short_interview_host_found_and_not_split(made):
    encoder, sets, synth, host = made
    samples, turns = sets.conversation(synth, random.Random(3), "V07", ["V02"], 24, phone=False)
    reference = turns_annotation([Turn(t["start"], t["end"], t["speaker"]) for t in turns], "ref")
    found = find_turns(samples, encoder, host)
    names = names_of(found, {host.name: host})
    score = host_attribution(reference, found.turns, names, "V07")
    print(f"host attribution {score:.3f}; {found.reason}")
    assert found.path == "diarized" and score >= 0.93
    assert {names[t.speaker] for t in found.turns} == {"V07", "GUEST"}


def test_host_cut_into_many_clusters_costs_nothing(made):
    """KMeans forced to 5 clusters on two voices: every window still gets the right host / not-host."""
    encoder, sets, synth, host = made
    samples, turns = sets.conversation(synth, random.Random(4), "V07", ["V02"], 30, phone=False)
    spans = window_spans(speech_regions(samples), hop_s=HOP_S)
    vectors = encoder.embed_spans(samples, spans)
    centres = spans.mean(axis=1)
    truth = np.array([any(t["speaker"] == "V07" and t["start"] <= c <= t["end"] for t in turns) for c in centres])
    is_host, how = host_windows(vectors, centres, fixed_k(vectors, 5), host)
    agree = float((is_host == truth).mean())
    print(f"{agree:.3f} of {len(centres)} windows right; {how}")
    assert agree >= 0.85


def test_stranger_alone_is_one_speaker_and_never_the_host(made):
    encoder, sets, synth, _host = made
    demo = Profile.load(REPO_ROOT / "voices" / "host.json")
    samples, _turns = sets.conversation(synth, random.Random(5), "V10", [], 24, phone=False)
    found = find_turns(samples, encoder, demo)
    names = names_of(found, {demo.name: demo})
    print(found.reason)
    assert len({names[t.speaker] for t in found.turns}) == 1
    assert demo.name not in {names[t.speaker] for t in found.turns}
