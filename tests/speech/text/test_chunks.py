from chaffee_assets.speech.records import Segment
from chaffee_assets.speech.text.chunks import chunk


def seg(start, end, text, speaker="host"):
    return Segment(start, end, text, -0.1, 0.0, 1.0, speaker=speaker, speaker_conf=0.9)


def test_chunks_break_on_speaker_and_bounds():
    segments = [seg(0, 5, "One thing."), seg(5, 9, "Two things."), seg(9, 12, "A question?", "GUEST"),
                seg(12, 40, "x" * 300 + "."), seg(40, 60, "y" * 250 + "."), seg(60, 70, "tail")]
    out = chunk(segments, max_chars=600, max_s=45.0, min_chars=200)
    assert [c.speaker for c in out] == ["host", "GUEST", "host", "host", "host"]
    assert out[0].text == "One thing. Two things." and (out[0].start, out[0].end) == (0, 9)
    assert all(len(c.text) <= 600 and c.end - c.start <= 45.0 for c in out)
    assert [c.start for c in out] == sorted(c.start for c in out)
