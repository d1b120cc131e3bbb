#!/usr/bin/env python3
"""A stress corpus drawn from seeds: files the test suite never tuned on, with exact references.

  python scripts/stress_corpus.py OUTDIR --files 40 --seed 1000 [--minutes-per-file 0.3 4]
                                   [--real DIR --real-files 10]

Each file is drawn from its own seed (seed + i): monologue (one voice) or interview (2-3 voices), an
espeak-ng voice and variant, speaking rate and pitch per speaker, pauses of 0.08-1.6 s, a length, and
sentences built from a grammar over a vocabulary none of the other corpora use. Writes OUTDIR/audio/<stem>.flac
with <stem>.rttm/.txt/.json (synth_corpus.write), so WER and DER references are exact.

--real DIR adds files spliced from real recordings (16 kHz or any rate, mono or not): each draws 3-12 clips
of DIR with pauses between them; a clip's speaker is its file name up to the first '-' (LibriSpeech's
reader id), so the .rttm is exact and the .txt empty. Nothing from DIR is committed: see README,
"Stress corpus", for the public recordings used."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth_corpus import SR, Synth, write  # noqa: E402

LANGS = ["en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-gb-x-gbclan", "en-us-nyc"]
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
            "iven", "max", "steph", "robert", "andy"]
SUBJECTS = ["the river pilot", "my grandmother", "our new neighbour", "the night nurse", "a young farmer",
            "the ferry captain", "the museum guide", "every beekeeper I know", "the village baker",
            "a retired engineer", "the chess club", "the weather station", "our football coach",
            "the train conductor", "a careful climber", "the school librarian", "the harbour master"]
VERBS = ["checks", "repairs", "measures", "paints", "remembers", "describes", "carries", "plants",
         "collects", "questions", "photographs", "explains", "watches", "counts", "follows"]
OBJECTS = ["the copper kettle", "seven wooden boats", "the northern orchard", "a broken telescope",
           "the spring timetable", "forty glass jars", "the narrow bridge", "a map of the valley",
           "the winter accounts", "two hundred tulips", "the old radio mast", "the evening tide",
           "a box of letters", "the mountain hut", "the station clock", "a basket of plums"]
TIMES = ["before breakfast", "every Thursday", "after the storm", "in the late autumn", "twice a year",
         "when the fog lifts", "on market day", "during the long holiday", "at half past nine",
         "once the snow melts", "without any help", "in complete silence"]
REASONS = ["because nobody else will", "so that the visitors can find it", "although it rarely pays",
           "since the council asked", "to keep the tradition alive", "unless the wind is too strong",
           "and then writes it all down", "and nobody quite knows why", "before the accounts are closed"]
QUESTIONS = ["How did you first get involved in that?", "What surprised you most?", "Why does that matter?",
             "Can you give me an example?", "What would you tell a beginner?", "How long did that take?",
             "Was it difficult at the start?", "What happens in the winter?", "Who taught you that?",
             "Really?", "And then what?", "Why?"]


def sentence(rng: random.Random) -> str:
    """One grammatical sentence of 5-20 words; a tenth are a single short phrase."""
    if rng.random() < 0.1:
        return rng.choice(["Exactly.", "Yes, of course.", "Not at all.", "I think so.", "Well, maybe.", "Right."])
    words = [rng.choice(SUBJECTS).capitalize(), rng.choice(VERBS), rng.choice(OBJECTS)]
    if rng.random() < 0.7:
        words.append(rng.choice(TIMES))
    if rng.random() < 0.5:
        words.append(rng.choice(REASONS))
    return " ".join(words) + "."


def voice(rng: random.Random) -> list[str]:
    return ["-v", f"{rng.choice(LANGS)}+{rng.choice(VARIANTS)}", "-p", str(rng.randint(20, 80)),
            "-s", str(rng.randint(125, 215))]


def make_file(rng: random.Random, synth: Synth, kind: str, length_s: float) -> tuple[np.ndarray, list[dict]]:
    """Utterances laid out with pauses drawn per gap, until length_s. Monologues are HOST alone; interviews
    alternate one or two guests (mostly questions) with HOST's answers."""
    speakers = ["HOST"] if kind == "monologue" else ["HOST", *[f"GUEST{i + 1}" for i in range(rng.randint(1, 2))]]
    short_pauses = rng.random() < 0.5  # half the files run their sentences close together
    pause = lambda: np.zeros(round((rng.uniform(0.08, 0.35) if short_pauses else rng.uniform(0.2, 1.6)) * SR),
                             np.float32)
    chunks, turns = [pause()], []
    n, turn = chunks[0].size, 0  # samples so far, turns so far
    while n < length_s * SR:
        speaker = "HOST" if turn % 2 else rng.choice(speakers[1:] or speakers)
        asks = speaker != "HOST" and rng.random() < 0.7  # guests mostly ask, the host answers
        said = [rng.choice(QUESTIONS)] if asks else [sentence(rng) for _ in range(rng.randint(1, 4))]
        for text in said:
            audio = synth(speaker, text)
            if turns:
                gap = pause()
                chunks.append(gap)
                n += gap.size
            turns.append({"speaker": speaker, "start": round(n / SR, 3), "end": round((n + audio.size) / SR, 3),
                          "text": text})
            chunks.append(audio)
            n += audio.size
        turn += 1
    chunks.append(pause())
    return np.clip(np.concatenate(chunks), -1, 1), turns


def generate(outdir: Path, files: int, seed: int, minutes: tuple[float, float] = (0.3, 4.0),
             interview_share: float = 0.3) -> float:
    """files FLACs with references under outdir/audio; returns the seconds of audio written."""
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(files):
            rng = random.Random(seed + i)
            kind = "interview" if rng.random() < interview_share else "monologue"
            voices = {"HOST": voice(rng), "GUEST1": voice(rng), "GUEST2": voice(rng)}
            synth = Synth(tmp, voices)
            length = rng.uniform(*minutes) * 60
            audio, turns = make_file(rng, synth, kind, length)
            total += write(outdir / "audio", f"s{seed + i}-{kind}", kind, audio, turns,
                           extra={"seed": seed + i, "voices": {k: " ".join(v) for k, v in voices.items()}})
    return total


def real_file(rng: random.Random, clips: list[Path]) -> tuple[np.ndarray, list[dict]]:
    """3-12 real clips with 0.1-1.5 s pauses; turns named by each clip's speaker."""
    chunks, turns, n = [np.zeros(round(0.3 * SR), np.float32)], [], round(0.3 * SR)
    for clip in rng.sample(clips, min(len(clips), rng.randint(3, 12))):
        x, rate = sf.read(clip, dtype="float32", always_2d=True)
        x = soxr.resample(x.mean(axis=1), rate, SR).astype(np.float32) if rate != SR else x.mean(axis=1)
        turns.append({"speaker": clip.stem.split("-")[0], "start": round(n / SR, 3),
                      "end": round((n + x.size) / SR, 3), "text": ""})
        gap = np.zeros(round(rng.uniform(0.1, 1.5) * SR), np.float32)
        chunks += [x, gap]
        n += x.size + gap.size
    return np.clip(np.concatenate(chunks), -1, 1), turns


def generate_real(outdir: Path, clips_dir: Path, files: int, seed: int) -> float:
    clips = sorted(p for p in clips_dir.iterdir() if p.suffix.lower() in {".flac", ".wav"})
    total = 0.0
    for i in range(files):
        rng = random.Random(seed + i)
        audio, turns = real_file(rng, clips)
        kind = "monologue" if len({t["speaker"] for t in turns}) == 1 else "panel"
        total += write(outdir / "audio", f"r{seed + i}-{kind}", kind, audio, turns, extra={"seed": seed + i})
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--minutes-per-file", type=float, nargs=2, default=(0.3, 4.0), metavar=("MIN", "MAX"))
    ap.add_argument("--interview-share", type=float, default=0.3)
    ap.add_argument("--real", type=Path, help="a folder of real recordings to splice files from")
    ap.add_argument("--real-files", type=int, default=10)
    args = ap.parse_args()
    total = generate(args.outdir, args.files, args.seed, tuple(args.minutes_per_file), args.interview_share)
    files = args.files
    if args.real:
        total += generate_real(args.outdir, args.real, args.real_files, args.seed + args.files)
        files += args.real_files
    print(f"total: {files} files, {total / 60:.1f} min in {args.outdir / 'audio'}")


if __name__ == "__main__":
    main()
