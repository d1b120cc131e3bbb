#!/usr/bin/env python3
"""The unseen-voices interview set: 14 interviews and 2 one-voice controls (espeak-ng) whose hosts, guests, texts, turn patterns
and recording defects the demo corpus does not have, with exact references.

  python scripts/synth_interviews.py OUTDIR

Writes OUTDIR/audio/<stem>.flac with .rttm/.txt/.json (json: host, guests, pattern, defect), and
OUTDIR/enroll/<HOST>-NN.flac: enrollment clips per host, from sentences used nowhere in audio/.
Reference labels are the host's profile name (H_*) and G_* for guests. Deterministic for a given
espeak-ng build.
"""
import argparse
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

from interview_texts import ENROLL, LONG, QUESTIONS, SHORT
from synth_corpus import SR, Synth, write

# Voices the demo does not use (the demo: HOST en-us+m3 p35 s165, GUEST en+f3 p60 s180). Median F0 in Hz.
VOICES = {
    "H_NYC": ["-v", "en-us-nyc+m1", "-p", "45", "-s", "170"],     # US (New York) male, ~95
    "H_RP": ["-v", "en-gb-x-rp+m5", "-p", "35", "-s", "150"],     # British RP male, ~105
    "H_US_F": ["-v", "en-us+f5", "-p", "55", "-s", "170"],        # US female, ~205
    "G_SCOT_F": ["-v", "en-gb-scotland+f4", "-s", "160"],         # Scottish female, ~180
    "G_ANNIE": ["-v", "en-us+Annie", "-s", "185"],                # US female, ~240
    "G_SCOT_M": ["-v", "en-gb-scotland+m2", "-p", "40"],          # Scottish male, ~100
    "G_LANC_M": ["-v", "en-gb-x-gbclan+m6", "-p", "60", "-s", "160"],  # Lancashire male, ~100
    "G_CARIB_F": ["-v", "en-029+f1", "-s", "150"],                # Caribbean female, ~180
    "G_BELINDA": ["-v", "en+belinda", "-p", "45"],                # British female, ~230
    "G_DEEP_M": ["-v", "en-us+m7", "-p", "25", "-s", "140"],      # US deep male, ~90
}

# (stem, host, guests, pattern, target seconds, defect)
PLAN = [
    ("iv-01", "H_NYC", ["G_SCOT_F"], "short", 40, None),
    ("iv-02", "H_NYC", ["G_SCOT_M"], "short", 60, None),
    ("iv-03", "H_RP", ["G_ANNIE"], "mixed", 90, None),
    ("iv-04", "H_RP", ["G_LANC_M"], "long", 120, None),
    ("iv-05", "H_US_F", ["G_CARIB_F"], "mixed", 180, "phone"),
    ("iv-06", "H_NYC", ["G_BELINDA"], "long", 300, None),
    ("iv-07", "H_NYC", ["G_SCOT_F", "G_SCOT_M"], "mixed", 150, None),
    ("iv-08", "H_RP", ["G_ANNIE", "G_DEEP_M"], "mixed", 240, "noise"),
    ("iv-09", "H_US_F", ["G_DEEP_M"], "short", 45, None),
    ("iv-10", "H_US_F", ["G_LANC_M"], "mixed", 200, "levels"),
    ("iv-11", "H_NYC", ["G_ANNIE"], "guest_dominant", 100, None),
    ("iv-12", "H_US_F", ["G_BELINDA", "G_CARIB_F"], "mixed", 120, None),
    ("iv-13", "H_RP", ["G_SCOT_F"], "rapid", 75, None),
    ("iv-14", "H_RP", ["G_SCOT_M"], "long", 270, "phone"),
    # one voice only: the host alone must stay one speaker, and a guest alone must never become the host
    ("solo-01", "H_RP", [], "host_only", 90, None),
    ("solo-02", "H_NYC", ["G_ANNIE"], "guest_only", 90, None),
]

# Per pattern: (host sentences, guest sentences) as (kind, lo, hi); kind "short" draws from SHORT.
PATTERNS = {
    "short": (("long", 1, 2), ("short", 1, 1)),           # guest: one short sentence, ~1-1.5 s
    "mixed": (("long", 1, 2), ("long", 1, 3)),
    "long": (("question", 1, 1), ("long", 4, 6)),          # guest turns of ~15-25 s
    "guest_dominant": (("question", 1, 1), ("long", 3, 5)),
    "rapid": (("short", 1, 1), ("short", 1, 1)),           # quick back-and-forth
    "host_only": (("long", 2, 4), None),
    "guest_only": (None, ("long", 2, 4)),
}
TURN_PAUSE = (0.3, 0.9)
SENTENCE_PAUSE = (0.2, 0.45)


def sentences(rng: random.Random, kind: str, n: int) -> list[str]:
    bank = {"long": LONG, "short": SHORT, "question": QUESTIONS}[kind]
    return rng.sample(bank, n)


def interview(synth, rng, host, guests, pattern, target_s):
    """(audio, turns): host and guests alternate (guests in random order) until target_s is reached;
    a pattern without a plan for one side leaves that side silent."""
    host_plan, guest_plan = PATTERNS[pattern]
    chunks, turns = [np.zeros(round(rng.uniform(*TURN_PAUSE) * SR), np.float32)], []
    n = chunks[0].size
    speaker = host if host_plan else guests[0]
    while n < target_s * SR:
        kind, lo, hi = host_plan if speaker == host else guest_plan
        if kind == "short" and rng.random() < 0.3:  # a short turn is sometimes one plain sentence
            kind = "long"
        for i, text in enumerate(sentences(rng, kind, rng.randint(lo, hi))):
            if turns:
                gap = np.zeros(round(rng.uniform(*(SENTENCE_PAUSE if i else TURN_PAUSE)) * SR), np.float32)
                chunks.append(gap)
                n += gap.size
            a = synth(speaker, text)
            turns.append({"speaker": speaker, "start": round(n / SR, 3), "end": round((n + a.size) / SR, 3), "text": text})
            chunks.append(a)
            n += a.size
        if host_plan and guest_plan:
            speaker = rng.choice(guests) if speaker == host else host
    chunks.append(np.zeros(round(0.5 * SR), np.float32))
    return np.concatenate(chunks), turns


def apply_defect(audio, turns, host, defect, seed):
    """phone: guests band-limited to 300-3400 Hz and 8 dB quieter; noise: the whole file under
    noise at 20 dB SNR; levels: guests 6 dB louder than the host."""
    from scipy.signal import butter, sosfilt

    out = audio.copy()
    for t in turns if defect in ("phone", "levels") else []:
        if t["speaker"] == host:
            continue
        a, b = round(t["start"] * SR), round(t["end"] * SR)
        if defect == "phone":
            sos = butter(4, [300, 3400], btype="band", fs=SR, output="sos")
            out[a:b] = sosfilt(sos, out[a:b]) * 10 ** (-8 / 20)
        else:
            out[a:b] *= 10 ** (6 / 20)
    if defect == "noise":
        power = float(np.mean(np.square(audio[np.abs(audio) > 1e-3])))
        noise = np.random.default_rng(seed).standard_normal(audio.size).astype(np.float32)
        out += noise * np.sqrt(power / 10 ** (20 / 10))
    return np.clip(out, -1, 1).astype(np.float32)


def enrollment(synth, host: str) -> list[np.ndarray]:
    """Two ~15 s clips of the host reading ENROLL sentences, which no interview uses."""
    gap = np.zeros(round(0.4 * SR), np.float32)
    return [np.concatenate([part for s in ENROLL[4 * i : 4 * i + 4] for part in (synth(host, s), gap)]) for i in range(2)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--only", nargs="*", help="stems to write (default: all)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        synth = Synth(tmp, VOICES)
        for stem, host, guests, pattern, target, defect in PLAN:
            audio, turns = interview(synth, rng, host, guests, pattern, target)  # rng advances for every stem
            if args.only and stem not in args.only:
                continue
            if defect:
                audio = apply_defect(audio, turns, host, defect, seed=int(stem[-2:]))
            extra = {"host": host, "guests": guests, "pattern": pattern, "defect": defect}
            total += write(args.outdir / "audio", stem, "interview", audio, turns, extra=extra)
        for host in sorted({p[1] for p in PLAN}):
            for i, clip in enumerate(enrollment(synth, host), 1):
                write(args.outdir / "enroll", f"{host}-{i:02d}", "enroll", clip, [], refs=False)
    print(f"total interview audio: {total:.1f}s ({total / 60:.2f} min)", file=sys.stderr)


if __name__ == "__main__":
    main()
