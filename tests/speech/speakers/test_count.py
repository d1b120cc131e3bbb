"""Speaker-count pieces of the offline diarizer (speech/speakers/count.py) on crafted voice vectors; the whole
diarizer is measured on real and generated speech in test_evaluate.py and test_interview_set.py."""

import numpy as np

from chaffee_assets.speech.speakers.count import SpeakerCount, host_distinct, merge_similar
from chaffee_assets.speech.speakers.voice import Profile, unit


def voices(*centres, n=20, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    return unit(np.vstack([unit(np.asarray(c, float)) + spread * rng.standard_normal((n, len(c))) for c in centres]))


def test_look_alike_clusters_merge_and_distinct_voices_stay():
    e = np.eye(16)
    vectors = voices(e[0], e[0], e[1])  # one voice cut in two by KMeans, and another voice
    labels = np.repeat([0, 1, 2], 20)
    assert list(np.unique(merge_similar(labels, vectors, 0.93), return_counts=True)[1]) == [40, 20]
    assert len(np.unique(merge_similar(labels, vectors, 0.999))) == 3  # nothing that alike


def test_host_distinct_needs_a_clear_gap_and_enough_windows():
    e = np.eye(16)
    host = Profile("HOST", "x", 16, unit(e[0]).tolist(), threshold=0.7)
    guest = unit(e[0] + 0.4 * e[1])  # 0.93 to the host: above its threshold, yet another voice
    vectors = voices(e[0], guest)
    labels = np.repeat([0, 1], 20)
    assert host_distinct(labels, vectors, host, SpeakerCount())
    assert not host_distinct(labels, vectors, host, SpeakerCount(host_gap=0.2))
    assert not host_distinct(labels, vectors, host, SpeakerCount(min_windows=21))
    halves = voices(e[0], e[0])  # the host alone, cut in two
    assert not host_distinct(labels, halves, host, SpeakerCount())
