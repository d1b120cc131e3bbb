"""The per-segment judgement (speech/asr/quality.judge) on crafted segments."""

from chaffee_assets.speech.asr.quality import MAX_SEGMENT_S, judge
from chaffee_assets.speech.records import Segment, Word


def seg(start, end, text="meat is food", speaker="host", words=()):
    return Segment(start, end, text, -0.2, 0.01, 1.2, list(words), speaker=speaker)


def test_sound_segments_pass_untouched():
    segments = [seg(0, 2), seg(2.1, 4), seg(4.5, 7, speaker="GUEST")]
    judged = judge(segments, 8.0)
    assert judged.segments == segments and not judged.dropped and not judged.repairs and judged.refused is None


def test_one_broken_segment_is_dropped_alone_with_its_reason():
    segments = [seg(i * 3.0, i * 3.0 + 2.5) for i in range(10)]
    segments[4] = seg(12.0, 14.5, text="  ")
    judged = judge(segments, 40.0)
    assert len(judged.segments) == 9 and judged.refused is None
    [dropped] = judged.dropped
    assert dropped["why"] == "segment 4 [12.00-14.50]: empty text" and abs(judged.dropped_share - 0.1) < 1e-9


def test_a_segment_over_the_limit_is_split_at_its_widest_pauses():
    words = [Word(t, t + 0.4, f" w{t:.0f}", 0.9) for t in range(0, 90, 1)]  # 90 s of words, one a second
    words[50:] = [Word(w.start + 2.0, w.end + 2.0, w.word, 0.9) for w in words[50:]]  # a 2.6 s pause after 49.4 s
    judged = judge([seg(0, words[-1].end, text="x", words=words)], 100.0)
    assert [len(s.words) for s in judged.segments] == [50, 40] and not judged.dropped
    assert all(s.end - s.start <= MAX_SEGMENT_S for s in judged.segments) and len(judged.repairs) == 1


def test_a_video_is_refused_past_the_share_and_for_a_loop():
    broken = [seg(i * 3.0, i * 3.0 + 2.5, speaker=None if i < 3 else "host") for i in range(10)]
    judged = judge(broken, 40.0)
    assert judged.refused and "30% of its speech time" in judged.refused and "no speaker" in judged.refused
    looping = [seg(0, 2, "thank you for watching")] * 3 + [seg(7, 9, "meat")]
    assert "a decoding loop" in judge([seg(s.start + i * 2.5, s.end + i * 2.5, s.text) for i, s in enumerate(looping)],
                                      20.0).refused


def test_a_decoding_loop_is_dropped_and_the_rest_of_the_video_kept():
    good = [seg(i * 3.0, i * 3.0 + 2.5, f"sentence number {i} about meat") for i in range(20)]
    loop = [seg(60 + i * 1.0, 60.8 + i * 1.0, "I'm not sure if the wind is too strong") for i in range(4)]
    judged = judge(good + loop + [seg(70, 72, "the end of it all")], 80.0)
    assert judged.refused is None and len(judged.segments) == 21
    assert len(judged.dropped) == 4 and all("a decoding loop" in d["why"] for d in judged.dropped)


def test_loops_need_enough_segments_and_words():
    from chaffee_assets.speech.asr.guards import Guards

    same = [seg(i, i + 0.9, "thank you very much indeed") for i in range(3)]
    assert Guards().loops(same) == [0, 1, 2]
    assert Guards().loops(same[:2]) == []  # two in a row can be a real repetition
    assert Guards().loops([seg(i, i + 0.9, "yes yes") for i in range(5)]) == []  # too short to tell
