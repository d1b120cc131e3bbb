"""The host rules of issue #22 on crafted voice vectors (no encoder): a lone voice is the host only well
above the profile's calibrated threshold, a guest inside the host's only cluster is found as a dip, a
short stranger-only file is not split on a weak silhouette, and the fast path refuses a near voice."""

import numpy as np

from chaffee_assets.speech.speakers.count import SpeakerCount, choose_k
from chaffee_assets.speech.speakers.host import HostRule, host_windows
from chaffee_assets.speech.speakers.labels import verdict
from chaffee_assets.speech.speakers.voice import Profile, unit

DIM = 32


def profile(threshold=0.8):
    return Profile("HOST", "x", DIM, unit(np.eye(DIM)[0]).tolist(), threshold=threshold)


def near(similarity, n, seed=0, spread=0.01):
    """n unit vectors whose cosine to the host axis is about `similarity`."""
    rng = np.random.default_rng(seed)
    side = unit(np.eye(DIM)[1 + seed % (DIM - 1)])
    base = similarity * np.eye(DIM)[0] + np.sqrt(1 - similarity**2) * side
    return unit(base + spread * rng.standard_normal((n, DIM)))


def test_a_lone_voice_needs_the_alone_margin_over_the_threshold():
    host = profile(0.8)
    centres = np.arange(30) * 0.5
    labels = np.zeros(30, dtype=int)
    is_host, how = host_windows(near(0.90, 30), centres, labels, host)  # 0.10 above: the host alone
    assert is_host.all(), how
    is_host, how = host_windows(near(0.85, 30), centres, labels, host)  # 0.05 above: a near stranger
    assert not is_host.any(), how


def test_a_guest_inside_the_host_cluster_is_found_as_a_dip():
    host = profile(0.8)
    vectors = np.vstack([near(0.92, 12, seed=1), near(0.83, 6, seed=2), near(0.92, 12, seed=1)])
    centres = np.arange(30) * 0.5  # one stretch: host, guest (3 s), host
    is_host, how = host_windows(vectors, centres, np.zeros(30, dtype=int), host)
    assert list(is_host) == [True] * 12 + [False] * 6 + [True] * 12, how


def test_a_host_dip_of_its_own_voice_stays_the_host():
    host = profile(0.8)
    vectors = near(0.90, 30, seed=3)
    vectors[10:14] = near(0.86, 4, seed=3)  # the same direction, just less host-like: no other voice
    is_host, how = host_windows(vectors, np.arange(30) * 0.5, np.zeros(30, dtype=int), host, HostRule())
    assert is_host.all(), how


def test_a_short_stranger_file_is_not_split_on_a_weak_silhouette():
    rng = np.random.default_rng(4)
    a, b = near(0.5, 15, seed=5, spread=0.0), near(0.5, 15, seed=6, spread=0.0)
    vectors = unit(np.vstack([a, b]) + 1.8 * rng.standard_normal((30, DIM)) / np.sqrt(DIM))  # silhouette 0.23
    labels, score, _how = choose_k(vectors, SpeakerCount())
    assert len(np.unique(labels)) == 2 and score < SpeakerCount().hostless_silhouette  # no profile: two voices
    labels, _score, how = choose_k(vectors, SpeakerCount(), profile(0.8))  # strangers only, 15 s: one
    assert len(np.unique(labels)) == 1 and "no cluster HOST" in how
    labels, _score, _how = choose_k(vectors, SpeakerCount(hostless_windows=20), profile(0.8))  # a longer file keeps the split
    assert len(np.unique(labels)) == 2


def test_fast_path_refuses_one_voice_that_is_only_near_the_host():
    host = profile(0.8)
    spans = np.stack([np.arange(10.0), np.arange(10.0) + 1.6], axis=1)
    assert verdict(spans, near(0.90, 10), host).taken
    near_voice = verdict(spans, near(0.85, 10), host)  # every window above the threshold, yet not the host
    assert not near_voice.taken and "median" in near_voice.reason
