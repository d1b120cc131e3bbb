"""Segment boundary repair on crafted ASR output (speech/asr/boundaries.py)."""

from chaffee_assets.speech.asr.boundaries import repair
from chaffee_assets.speech.asr.quality import segment_problems
from chaffee_assets.speech.records import Segment, Word


def seg(start, end, *words, text=None):
    """A segment with words given as (start, end) pairs, named w0, w1, ..."""
    ws = [Word(a, b, f"w{i}", 0.9) for i, (a, b) in enumerate(words)]
    return Segment(start, end, text or " ".join(w.word for w in ws), -0.2, 0.01, 1.2, ws, speaker="host")


def test_padding_overlap_is_cut_at_the_later_segments_first_word():
    # the case seen on a generated monologue: the first segment ends 0.28 s into the next one
    a = seg(0.0, 3.28, (0.1, 1.0), (1.1, 2.9))
    b = seg(3.0, 5.0, (3.1, 4.0), (4.1, 4.9))
    assert segment_problems([a, b], 6.0) == ["segment 1 [3.00-5.00]: overlaps the previous segment by 0.28s"]
    fixed = repair([a, b], 6.0)
    assert [(s.start, s.end) for s in fixed] == [(0.0, 3.1), (3.1, 5.0)]
    assert [w.word for s in fixed for w in s.words] == ["w0", "w1", "w0", "w1"]  # no word lost
    assert segment_problems(fixed, 6.0) == []


def test_words_stay_inside_their_segment_and_the_segment_inside_the_audio():
    a = seg(-0.2, 2.0, (-0.3, 0.5), (0.6, 2.0))
    b = seg(1.96, 4.6, (2.0, 3.0), (3.1, 4.6))  # 0.04 s overlap: inside the tolerance
    fixed = repair([b, a], 4.0)  # out of order, and past the end of a 4 s file
    assert [(s.start, s.end) for s in fixed] == [(0.0, 2.0), (1.96, 4.0)]
    for s in fixed:
        assert all(s.start <= w.start <= w.end <= s.end for w in s.words)
    assert segment_problems(fixed, 4.0) == []
    assert (a.start, b.end) == (-0.2, 4.6)  # the input is not modified


def test_overlapping_words_are_left_for_the_quality_check():
    # both segments claim 2.5-3.0 s with words: a duplicated decode, not a timing slip
    a = seg(0.0, 3.0, (0.1, 1.5), (1.6, 3.0))
    b = seg(2.5, 5.0, (2.5, 3.5), (3.6, 4.8))
    fixed = repair([a, b], 6.0)
    assert [(s.start, s.end) for s in fixed] == [(0.0, 3.0), (2.5, 5.0)]
    assert "overlaps the previous segment by 0.50s" in segment_problems(fixed, 6.0)[0]


def test_a_segment_before_the_earlier_ones_start_is_not_clipped_to_nothing():
    a = seg(1.0, 3.0, (1.0, 2.0))
    nested = seg(1.0, 2.0, (0.9, 1.9))  # first word before the earlier segment starts
    fixed = repair([a, nested], 4.0)
    assert all(s.end > s.start for s in fixed)
    assert segment_problems(fixed, 4.0)


def test_segment_without_words_uses_its_own_start():
    a = seg(0.0, 2.5)
    b = seg(2.2, 4.0)
    fixed = repair([a, b], 4.0)
    assert [(s.start, s.end) for s in fixed] == [(0.0, 2.2), (2.2, 4.0)]
