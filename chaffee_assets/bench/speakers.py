"""The speaker path on a set of generated interviews (scripts/synth_interviews.py): per interview DER
(collar 0.25) and host attribution, each host enrolled from its own clips as an operator would."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from chaffee_assets.bench.evaluate import evaluate_speakers, load_rttm
from chaffee_assets.speech import audio
from chaffee_assets.speech.speakers.voice import Profile, VoiceEncoder, enroll
from chaffee_assets.speech.vad import speech_regions


def enroll_hosts(enroll_dir: Path, hosts: set[str], encoder: VoiceEncoder) -> dict[str, Profile]:
    """One profile per host from enroll_dir/<HOST>-NN.flac (sentences the interviews never use)."""
    profiles = {}
    for host in sorted(hosts):
        clips = [(c.name, audio.load(c)) for c in sorted(enroll_dir.glob(f"{host}-*.flac"))]
        if not clips:
            raise FileNotFoundError(f"no enrollment clips {host}-*.flac in {enroll_dir}")
        profiles[host] = enroll(host, clips, encoder, speech_regions)
    return profiles


def evaluate_set(root: Path, encoder: VoiceEncoder, stems: list[str] | None = None) -> dict:
    """Every interview of root/audio (or those in `stems`), scored with only its host's profile."""
    metas = {p.stem: json.loads(p.read_text()) for p in sorted((root / "audio").glob("*.json"))}
    metas = {k: m for k, m in metas.items() if stems is None or k in stems}
    if not metas:
        raise FileNotFoundError(f"no interviews (*.json + .flac + .rttm) in {root / 'audio'}")
    profiles = enroll_hosts(root / "enroll", {m["host"] for m in metas.values()}, encoder)
    rows = []
    started = time.perf_counter()
    for stem, meta in metas.items():
        host = profiles[meta["host"]]
        row = evaluate_speakers(audio.load(root / "audio" / f"{stem}.flac"), load_rttm(root / "audio" / f"{stem}.rttm"),
                                encoder, host, {host.name: host})
        rows.append({"file": stem, "duration_s": meta["duration_s"], "pattern": meta["pattern"],
                     "defect": meta["defect"], **row})
    der = [r["der"] for r in rows]
    attribution = [r["host_attribution"] for r in rows]
    return {
        "files": len(rows),
        "audio_s": round(sum(r["duration_s"] for r in rows), 1),
        "wall_s": round(time.perf_counter() - started, 1),
        "der_mean": round(float(np.mean(der)), 4),
        "der_max": round(float(np.max(der)), 4),
        "host_attribution_mean": round(float(np.mean(attribution)), 4),
        "host_attribution_min": round(float(np.min(attribution)), 4),
        "speaker_count_right": sum(r["speakers_found"] == r["speakers_true"] for r in rows),
        "interviews": rows,
    }


def markdown(report: dict) -> str:
    lines = ["| interview | s | pattern | defect | speakers (found/true) | path | DER 0.25 | host attribution |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["interviews"]:
        lines.append(f"| {r['file']} | {r['duration_s']:.0f} | {r['pattern']} | {r['defect'] or '-'} | "
                     f"{r['speakers_found']}/{r['speakers_true']} | {r['path']} | {r['der']:.3f} | "
                     f"{r['host_attribution']:.3f} |")
    lines.append(f"\nmean DER {report['der_mean']:.3f} (max {report['der_max']:.3f}); host attribution mean "
                 f"{report['host_attribution_mean']:.3f} (min {report['host_attribution_min']:.3f}); speaker count "
                 f"right in {report['speaker_count_right']}/{report['files']}; {report['audio_s']:.0f} s of audio "
                 f"in {report['wall_s']:.0f} s")
    return "\n".join(lines) + "\n"
