"""Hallucination guards shared by every ASR backend: Whisper's own thresholds plus a repeated n-gram check."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from chaffee_assets.speech.records import Segment


@dataclass(frozen=True)
class Guards:
    """Whisper's own thresholds plus a repeated n-gram check; a segment failing one is dropped."""

    max_no_speech_prob: float = 0.6
    min_avg_logprob: float = -1.0
    max_compression_ratio: float = 2.4
    max_ngram_repeats: int = 4
    ngram: int = 3
    loop_segments: int = 3  # this many segments in a row with the same text ...
    loop_words: int = 4  # ... of at least this many words are a decoding loop

    def reason(self, seg: Segment) -> str | None:
        if seg.no_speech_prob > self.max_no_speech_prob and seg.avg_logprob < self.min_avg_logprob:
            return f"no speech (p={seg.no_speech_prob:.2f}, logprob={seg.avg_logprob:.2f})"
        if seg.compression_ratio > self.max_compression_ratio:
            return f"repetitive (compression ratio {seg.compression_ratio:.2f})"
        repeats = max_ngram_repeats(seg.text, self.ngram)
        if repeats > self.max_ngram_repeats:
            return f"repeated {self.ngram}-gram x{repeats}"
        if not seg.text.strip():
            return "empty text"
        return None


    def loops(self, segments: list[Segment]) -> list[int]:
        """Indices of the segments (in time order) that are part of a decoding loop: loop_segments or more in
        a row carrying the same text of at least loop_words words, which no single segment's check sees
        (tiny.en on a generated monologue: one sentence 14 times over 26 s of other speech)."""
        norm = [" ".join(re.findall(r"[\w']+", s.text.lower())) for s in segments]
        looped: list[int] = []
        start = 0
        for i in range(1, len(norm) + 1):
            if i == len(norm) or norm[i] != norm[start]:
                if i - start >= self.loop_segments and len(norm[start].split()) >= self.loop_words:
                    looped.extend(range(start, i))
                start = i
        return looped


def compression_ratio(text: str) -> float:
    """Bytes of the text over bytes of its zlib compression: a looping decoder's text compresses well."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def max_ngram_repeats(text: str, n: int) -> int:
    tokens = re.findall(r"[\w']+", text.lower())
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(tokens) - n + 1):
        key = tuple(tokens[i : i + n])
        counts[key] = counts.get(key, 0) + 1
    return max(counts.values(), default=0)
