"""Word and segment time repair on crafted ASR output (speech/asr/boundaries.py)."""

from collections import Counter

import pytest

from chaffee_assets.speech.asr.boundaries import MIN_WORD_S, longest, repair, word_times
from chaffee_assets.speech.asr.quality import segment_problems
from chaffee_assets.speech.records import Segment, Word


def seg(start, end, *words, text=None, names=None):
    """A segment with words given as (start, end) pairs, named w0, w1, ... unless names are given."""
    names = names or [f"w{i}" for i in range(len(words))]
    ws = [Word(a, b, n, 0.9) for n, (a, b) in zip(names, words)]
    return Segment(start, end, text or " ".join(w.word for w in ws), -0.2, 0.01, 1.2, ws, speaker="host")


def sound(segments, duration):
    """Words in order, never overlapping, inside their segment; segments in order inside the audio."""
    words = [w for s in segments for w in s.words]
    assert all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:]))
    assert all(0 <= w.start <= w.end <= duration for w in words)
    assert all(s.start <= w.start <= w.end <= s.end for s in segments for w in s.words)
    assert segment_problems(segments, duration) == []


def test_a_last_word_stretched_into_the_pause_is_cut_at_the_next_word():
    # the refused video: "it." 24.96-25.94 s, the next segment's first word at 25.53 s
    a = seg(22.0, 25.94, (22.1, 23.0), (23.1, 24.9), (24.96, 25.94), names=["so", "think", "it."])
    b = seg(25.53, 29.55, (25.53, 26.2), (26.3, 29.4), names=["Meat", "matters."])
    assert "overlaps the previous segment by 0.41s" in segment_problems([a, b], 30.0)[0]
    counts = Counter()
    fixed = repair([a, b], 30.0, counts=counts)
    sound(fixed, 30.0)
    assert fixed[0].words[-1].start == 24.96 and fixed[0].words[-1].end == pytest.approx(24.96 + longest("it."))
    assert [w.word for s in fixed for w in s.words] == ["so", "think", "it.", "Meat", "matters."]
    assert counts["words_capped"] >= 1 and fixed[1].start == 25.53


def test_a_stretched_word_is_capped_even_without_a_next_word():
    (fixed,) = repair([seg(0.0, 9.0, (0.2, 0.5), (0.6, 8.9), names=["one", "two"])], 10.0)
    assert fixed.words[1].end == pytest.approx(0.6 + longest("two")) and fixed.end == fixed.words[1].end


def test_a_duplicated_first_word_keeps_its_text_and_gets_time_of_its_own():
    # the next clip's decode repeats the word that ended the previous one, at the same time
    a = seg(0.0, 3.0, (0.1, 1.5), (1.6, 3.0), names=["red", "meat"])
    b = seg(1.6, 5.0, (1.6, 3.0), (3.1, 4.8), names=["meat", "heals"])
    counts = Counter()
    fixed = repair([a, b], 6.0, counts=counts)
    sound(fixed, 6.0)
    assert [w.word for s in fixed for w in s.words] == ["red", "meat", "meat", "heals"]
    assert all(w.end - w.start >= MIN_WORD_S for s in fixed for w in s.words)
    assert counts["words_given_time"] >= 1


@pytest.mark.parametrize("bad", [(2.0, 2.0), (2.0, 1.5)], ids=["zero", "negative"])
def test_a_zero_or_negative_length_word_takes_time_from_its_neighbours(bad):
    times = word_times([(1.0, 2.0, "everything"), (bad[0], bad[1], "b"), (2.0, 3.0, "everywhere")], 10.0)
    assert [round(b - a, 6) >= MIN_WORD_S for a, b in times] == [True, True, True]
    assert all(e <= s2 for (_, e), (s2, _) in zip(times, times[1:]))
    assert times[0][0] == 1.0 and times[-1][1] == 3.0  # the run's outer edges do not move


def test_a_lone_short_word_before_a_pause_gets_its_minimum_not_the_pause():
    counts = Counter()
    times = word_times([(1.0, 1.3, "so"), (18.04, 18.04, "a"), (21.7, 22.0, "then")], 30.0, counts)
    assert times[1] == pytest.approx((18.04, 18.04 + MIN_WORD_S))  # not stretched to 21.7
    assert times[0] == (1.0, 1.3) and times[2] == (21.7, 22.0) and counts["words_given_time"] == 1


def test_a_word_of_exactly_the_minimum_is_left_alone_despite_float_noise():
    counts = Counter()
    start = 0.01 + 18.038  # a clip offset added to a 20 ms word: 19.99999... ms in floats
    times = word_times([(start, start + MIN_WORD_S - 1e-12, "c3"), (21.7, 21.72, "c4")], 30.0, counts)
    assert times[0] == (start, start + MIN_WORD_S - 1e-12) and not counts


def test_words_with_no_room_at_all_share_the_same_instant():
    times = word_times([(5.0, 5.0, "a"), (5.0, 5.0, "b")], 5.0)  # at the very end of the file
    assert times == [(5.0, 5.0), (5.0, 5.0)]  # nothing to share, nothing invented past the audio


def test_words_out_of_order_are_put_in_order():
    counts = Counter()
    times = word_times([(1.0, 1.5, "a"), (0.5, 0.9, "b"), (2.0, 2.4, "c")], 10.0, counts)
    assert [s for s, _ in times] == sorted(s for s, _ in times) and counts["words_moved"] == 1
    assert all(e <= s2 for (_, e), (s2, _) in zip(times, times[1:]))


def test_segments_out_of_order_and_past_the_audio():
    a = seg(-0.2, 2.0, (-0.3, 0.5), (0.6, 2.0))
    b = seg(1.96, 4.6, (2.0, 3.0), (3.1, 4.6))
    fixed = repair([b, a], 4.0)  # out of order, and past the end of a 4 s file
    sound(fixed, 4.0)
    assert [(s.start, s.end) for s in fixed] == [(0.0, 0.6 + longest("w1")), (2.0, 3.1 + longest("w1"))]
    assert (a.start, b.end) == (-0.2, 4.6)  # the input is not modified


def test_a_segment_nested_in_the_previous_one_comes_out_sound():
    a = seg(1.0, 3.0, (1.0, 2.0))
    nested = seg(1.0, 2.0, (0.9, 1.9))  # first word before the earlier segment's
    fixed = repair([a, nested], 4.0)
    sound(fixed, 4.0)
    assert len([w for s in fixed for w in s.words]) == 2


def test_segments_without_words_are_clipped_at_the_next_one():
    a = seg(0.0, 2.5)
    b = seg(2.2, 4.0)
    fixed = repair([a, b], 4.0)
    assert [(s.start, s.end) for s in fixed] == [(0.0, 2.2), (2.2, 4.0)]
