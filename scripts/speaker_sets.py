#!/usr/bin/env python3
"""Speaker-path evaluation sets (issue #22): a development split to tune on and a held-out split never
tuned on, generated (espeak-ng) and real (from fetched public mirrors, never committed).

  python scripts/speaker_sets.py generated OUTDIR --split dev|heldout
  python scripts/speaker_sets.py real OUTDIR --split dev|heldout [--mirrors /work/.mirror]

generated: short interviews (20-60 s, host turns ~2-4 s, guest turns ~1-3 s, 2-3 speakers, some with
phone-band guests), meetings of 4-6 voices, and one-voice files (strangers, to be run against the demo
host profile voices/host.json, and enrolled hosts alone). The two splits use disjoint voice pools and
seeds. real: AMI excerpts from pyannote/pyannote-audio tests/data (dev only: dev00 dev01 trn00
trn03-05; the other excerpts are acceptance recordings and never read) and single LibriSpeech
utterances from resemble-ai/Resemblyzer's train-clean-100 (dev: the first 16 speakers; held-out: 16
others drawn with LIBRI_SEED), plus, held-out only, faster-whisper's jfk.flac and pocketsphinx's
LibriVox clips. Skips with a message when a mirror is absent.
Each file gets OUTDIR/audio/<stem>.flac + .rttm + .json {"kind", "host", "profile", ...}; profile is
"enroll" (OUTDIR/enroll/<host>-NN.flac), "demo" (voices/host.json, a voice the file does not contain)
or null (no host profile: meetings).
"""
import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from interview_texts import LONG, SHORT  # noqa: E402
from synth_corpus import SR, Synth, write  # noqa: E402
from synth_interviews import enrollment  # noqa: E402

# espeak-ng (base voice, variant, pitch, speed); the demo host is en-us+m3 p35, so neither pool has it.
POOLS = {
    "dev": [("en-us", "m1", 40, 165), ("en-gb-scotland", "f2", 55, 160), ("en-029", "m4", 45, 160),
            ("en-gb-x-rp", "f1", 60, 170), ("en-us", "m6", 30, 150), ("en-gb", "f4", 50, 175),
            ("en-gb-x-gbcwmd", "m2", 50, 165), ("en-us", "Annie", 50, 180), ("en-gb-x-rp", "m7", 40, 155),
            ("en-029", "f5", 55, 165), ("en-gb-scotland", "m5", 35, 170), ("en-us", "belinda", 45, 170)],
    # the first attempt's held-out pool and seed: looked at while tuning, so now development
    "dev2": [("en-us-nyc", "m2", 45, 170), ("en-gb-x-gbclan", "f3", 55, 165), ("en-gb", "m4", 35, 160),
             ("en-us", "f2", 60, 175), ("en-gb-x-rp", "m6", 45, 165), ("en-029", "f4", 50, 160),
             ("en-gb-scotland", "m7", 30, 150), ("en-us-nyc", "f1", 55, 170), ("en-gb-x-gbcwmd", "f5", 50, 170),
             ("en-us", "m5", 40, 165), ("en-gb", "Annie", 55, 180), ("en-gb-x-gbclan", "m1", 40, 160)],
    # Issue #22, second attempt: the first held-out pool and seed (909) were looked at while tuning, so
    # they are burned; this pool takes variant/pitch/speed combinations neither earlier pool used.
    "heldout": [("en-us", "m7", 55, 185), ("en-gb-x-rp", "f3", 45, 155), ("en-029", "m2", 35, 170),
                ("en-gb-scotland", "f1", 60, 165), ("en-us-nyc", "m6", 40, 160), ("en-gb-x-gbclan", "f4", 50, 175),
                ("en-gb", "m1", 45, 150), ("en-us", "f5", 55, 165), ("en-gb-x-gbcwmd", "m4", 35, 160),
                ("en-us-nyc", "Annie", 60, 170), ("en-gb-x-rp", "m5", 50, 180), ("en-029", "belinda", 45, 165)],
}
SEEDS = {"dev": 101, "dev2": 909, "heldout": 4817}  # 909 was the first held-out seed: burned, now dev
# (count, kind, guests lo-hi, seconds choices)
PLAN = [(12, "interview", (1, 2), (20, 30, 42, 60)), (3, "meeting", (3, 5), (45, 60)),
        (6, "solo_stranger", (0, 0), (20, 30, 45)), (3, "solo_host", (0, 0), (20, 30, 45))]


def voices(split: str) -> dict[str, list[str]]:
    return {f"V{i:02d}": ["-v", f"{base}+{variant}", "-p", str(p), "-s", str(s)]
            for i, (base, variant, p, s) in enumerate(POOLS[split])}


def turn_audio(synth, rng, speaker, lo, hi):
    """One turn of lo..hi seconds: a sentence cut at that length (20 ms fade), or a short one whole."""
    text = rng.choice(SHORT if hi <= 2.0 and rng.random() < 0.5 else LONG)
    a = synth(speaker, text)
    n = min(a.size, round(rng.uniform(lo, hi) * SR))
    a = a[:n].copy()
    fade = min(320, n // 4)
    a[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
    return a, text


def conversation(synth, rng, host, guests, seconds, phone):
    """Host and guests alternate with host turns 2-4 s and guest turns 1-3 s (meetings: everyone 1-5 s)."""
    speakers = [host, *guests] if host else list(guests)
    chunks, turns, n, who = [np.zeros(round(0.4 * SR), np.float32)], [], round(0.4 * SR), speakers[0]
    while n < seconds * SR:
        lo, hi = (2.0, 4.0) if who == host and guests else (1.0, 3.0) if host else (1.0, 5.0)
        a, text = turn_audio(synth, rng, who, lo, hi)
        if phone and who != host:
            from scipy.signal import butter, sosfilt
            a = (sosfilt(butter(4, [300, 3400], btype="band", fs=SR, output="sos"), a) * 0.5).astype(np.float32)
        turns.append({"speaker": who, "start": round(n / SR, 3), "end": round((n + a.size) / SR, 3), "text": text})
        gap = np.zeros(round(rng.uniform(0.2, 0.8) * SR), np.float32)
        chunks += [a, gap]
        n += a.size + gap.size
        if len(speakers) > 1:
            who = host if host and who != host else rng.choice([s for s in speakers if s != who])
    return np.concatenate(chunks), turns


def generated(outdir: Path, split: str) -> None:
    rng = random.Random(SEEDS[split])
    pool = voices(split)
    names = sorted(pool)
    hosts = set()
    with tempfile.TemporaryDirectory() as tmp:
        synth = Synth(tmp, pool)
        i = 0
        for count, kind, (glo, ghi), secs in PLAN:
            for _ in range(count):
                i += 1
                chosen = rng.sample(names, 1 + rng.randint(glo, ghi))
                host, guests = chosen[0], chosen[1:]
                seconds = rng.choice(secs)
                phone = kind == "interview" and rng.random() < 0.3
                if kind == "meeting":
                    audio, turns = conversation(synth, rng, None, chosen, seconds, False)
                    extra = {"host": None, "profile": None}
                elif kind == "solo_stranger":
                    audio, turns = conversation(synth, rng, host, [], seconds, False)
                    extra = {"host": None, "profile": "demo"}
                else:
                    audio, turns = conversation(synth, rng, host, guests, seconds, phone)
                    extra = {"host": host, "profile": "enroll"}
                    hosts.add(host)
                extra.update(pattern=kind, defect="phone" if phone else None, guests=guests)
                write(outdir / "audio", f"{split}-{kind}-{i:02d}", kind, audio, turns, extra=extra)
        for host in sorted(hosts):
            for k, clip in enumerate(enrollment(synth, host), 1):
                write(outdir / "enroll", f"{host}-{k:02d}", "enroll", clip, [], refs=False)


# AMI excerpts trn06-09, tst00, tst01, LibriSpeech test-other and the other acceptance recordings are
# never used here, in either split: real meetings are development only.
AMI = {"dev": ["dev00", "dev01", "trn00", "trn03", "trn04", "trn05"], "dev2": [], "heldout": []}
LIBRI_FOLDER, LIBRI_DEV, LIBRI_HELDOUT, LIBRI_SEED = "librispeech_train-clean-100", 16, 16, 4817
# (mirror, path, stem): other public single-voice recordings, held-out only
SOLO_HELDOUT = [("SYSTRAN+faster-whisper", "tests/data/jfk.flac", "jfk")] + [
    ("cmusphinx+pocketsphinx", f"test/data/librivox/sense_and_sensibility_01_austen_64kb-{n}.wav", f"austen-{n}")
    for n in ("0870", "0880", "0890", "0920", "0930")]


def git_show(git_dir: Path, path: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(git_dir), "show", f"HEAD:{path}"], check=True,
                          capture_output=True).stdout


def git_files(git_dir: Path) -> list[str]:
    out = subprocess.run(["git", "--git-dir", str(git_dir), "-c", "core.quotepath=off", "ls-tree", "-r",
                          "--name-only", "HEAD"], check=True, capture_output=True, text=True).stdout
    return out.splitlines()


def to_16k(data: bytes, dest: Path) -> float:
    import io

    import soxr

    x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    x = soxr.resample(x.mean(axis=1), sr, SR).astype(np.float32) if sr != SR else x.mean(axis=1)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sf.write(dest, x, SR, format="FLAC", subtype="PCM_16")
    return x.size / SR


def real(outdir: Path, split: str, mirrors: Path) -> None:
    audio_dir = outdir / "audio"
    ami = mirrors / "pyannote+pyannote-audio" / "repo"
    if ami.exists():
        files = {Path(f).stem.replace("ñ", "n"): f for f in git_files(ami) if f.startswith("tests/data/") and f.endswith(".wav")}
        rttm = "".join(git_show(ami, f"tests/data/debug.{part}.rttm").decode() for part in ("development", "train", "test"))
        for uri in AMI[split]:
            dur = to_16k(git_show(ami, files[uri]), audio_dir / f"ami-{uri}.flac")
            lines = [ln.replace(ln.split()[1], f"ami-{uri}", 1) for ln in rttm.splitlines() if ln.split()[1] == uri]
            (audio_dir / f"ami-{uri}.rttm").write_text("\n".join(lines) + "\n")
            meta = {"kind": "meeting", "host": None, "profile": None, "pattern": "ami", "defect": None,
                    "duration_s": round(dur, 3)}
            (audio_dir / f"ami-{uri}.json").write_text(json.dumps(meta) + "\n")
    else:
        print(f"skip AMI: no mirror at {ami} (fetch github:pyannote/pyannote-audio)", file=sys.stderr)
    rz = mirrors / "resemble-ai+Resemblyzer" / "repo"
    if rz.exists():
        paths = sorted(f for f in git_files(rz) if f.startswith(f"audio_data/{LIBRI_FOLDER}/") and f.endswith(".flac"))
        by_speaker = {}
        for f in paths:
            by_speaker.setdefault(Path(f).name.split("-")[0], f)
        speakers = sorted(by_speaker)
        chosen = {"dev": speakers[:LIBRI_DEV], "dev2": [],  # held-out: other speakers than dev's
                  "heldout": sorted(random.Random(LIBRI_SEED).sample(speakers[LIBRI_DEV:], LIBRI_HELDOUT))}[split]
        for speaker in chosen:
            solo(git_show(rz, by_speaker[speaker]), audio_dir, f"libri-{split}-{speaker}", "librispeech")
    else:
        print(f"skip LibriSpeech: no mirror at {rz} (fetch github:resemble-ai/Resemblyzer)", file=sys.stderr)
    for mirror, path, stem in SOLO_HELDOUT if split == "heldout" else []:
        if (mirrors / mirror / "repo").exists():
            solo(git_show(mirrors / mirror / "repo", path), audio_dir, stem, "public recording")
        else:
            print(f"skip {stem}: no mirror at {mirrors / mirror}", file=sys.stderr)


def solo(data: bytes, audio_dir: Path, stem: str, pattern: str) -> None:
    """One real single-voice recording, run against the demo host profile (a voice it does not contain)."""
    dur = to_16k(data, audio_dir / f"{stem}.flac")
    (audio_dir / f"{stem}.rttm").write_text(f"SPEAKER {stem} 1 0.000 {dur:.3f} <NA> <NA> S_{stem} <NA> <NA>\n")
    meta = {"kind": "solo_stranger", "host": None, "profile": "demo", "pattern": pattern, "defect": None,
            "duration_s": round(dur, 3)}
    (audio_dir / f"{stem}.json").write_text(json.dumps(meta) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["generated", "real"])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--split", choices=["dev", "dev2", "heldout"], default="dev")
    ap.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    args = ap.parse_args()
    if args.mode == "generated":
        generated(args.outdir, args.split)
    else:
        real(args.outdir, args.split, args.mirrors)


if __name__ == "__main__":
    main()
