"""The speaker path on the issue-#22 evaluation sets (scripts/speaker_sets.py), dev and held-out reported
apart: DER with its parts (miss, false alarm, confusion; collar 0.25), host attribution, whether the
host was split into guests, and, on one-voice files run against the demo host profile, whether a
stranger stays one speaker and is never named the host."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from chaffee_assets.bench.evaluate import der_parts, host_attribution, load_rttm
from chaffee_assets.bench.speakers import enroll_hosts
from chaffee_assets.speech import audio
from chaffee_assets.speech.speakers.voice import Profile, VoiceEncoder

HOST_SPLIT_AT = 0.10  # a file's host counts as split into guests when more of its speech than this is a guest's


def named_share(reference, turns, names: dict[str, str], who: str) -> float:
    """Share of reference speech time that turns label `who` (ignoring case)."""
    from chaffee_assets.bench.evaluate import turns_annotation

    hyp = turns_annotation([t for t in turns if names.get(t.speaker, "").casefold() == who.casefold()])
    total = reference.get_timeline().support().duration()
    if total <= 0:
        return 0.0
    return float(reference.get_timeline().support().crop(hyp.get_timeline().support(), mode="intersection").duration()) / total


def evaluate_file(samples: np.ndarray, reference, meta: dict, encoder: VoiceEncoder, host: Profile | None) -> dict:
    """One file through the production speaker path (find_turns, then names), scored."""
    from chaffee_assets.speech.speakers.attribution import names_of
    from chaffee_assets.speech.speakers.attribution import find_turns

    found = find_turns(samples, encoder, host)
    names = names_of(found, {host.name: host} if host else {})
    duration = samples.size / audio.SAMPLE_RATE
    row = {"path": found.path, "reason": found.reason, **der_parts(reference, found.turns, duration, 0.25),
           "speakers_found": len({names.get(t.speaker, t.speaker) for t in found.turns}),
           "speakers_true": len(reference.labels())}
    if host is not None and meta.get("host"):
        row["host_attribution"] = round(host_attribution(reference, found.turns, names, meta["host"]), 4)
        host_ref = reference.subset([meta["host"]])
        row["host_as_guest"] = round(1.0 - named_share(host_ref, found.turns, names, host.name), 4)
    elif host is not None:
        row["named_host"] = round(named_share(reference, found.turns, names, host.name), 4)
    return row


def evaluate_dir(root: Path, encoder: VoiceEncoder, demo_host: Profile | None) -> dict:
    """Every file of root/audio; hosts enrolled from root/enroll, strangers run against demo_host."""
    metas = {p.stem: json.loads(p.read_text()) for p in sorted((Path(root) / "audio").glob("*.json"))}
    hosts = {m["host"] for m in metas.values() if m.get("profile") == "enroll"}
    profiles = enroll_hosts(Path(root) / "enroll", hosts, encoder) if hosts else {}
    rows, started = [], time.perf_counter()
    for stem, meta in metas.items():
        host = profiles.get(meta["host"]) if meta.get("profile") == "enroll" else demo_host if meta.get("profile") == "demo" else None
        samples = audio.load(Path(root) / "audio" / f"{stem}.flac")
        row = evaluate_file(samples, load_rttm(Path(root) / "audio" / f"{stem}.rttm"), meta, encoder, host)
        rows.append({"file": stem, "kind": meta["kind"], "duration_s": round(samples.size / audio.SAMPLE_RATE, 1),
                     "defect": meta.get("defect"), **row})
    return {"root": str(root), "wall_s": round(time.perf_counter() - started, 1), "files": rows,
            "summary": summarise(rows)}


def summarise(rows: list[dict]) -> dict:
    out = {}
    for kind in sorted({r["kind"] for r in rows}):
        these = [r for r in rows if r["kind"] == kind]
        s = {"files": len(these), "der_mean": round(float(np.mean([r["der"] for r in these])), 4)}
        for part in ("miss", "false_alarm", "confusion"):
            s[f"{part}_mean"] = round(float(np.mean([r[part] for r in these])), 4)
        s["count_right"] = sum(r["speakers_found"] == r["speakers_true"] for r in these)
        if any("host_attribution" in r for r in these):
            att = [r["host_attribution"] for r in these if "host_attribution" in r]
            s.update(host_attribution_mean=round(float(np.mean(att)), 4), host_attribution_min=round(float(np.min(att)), 4),
                     host_split=sum(r["host_as_guest"] > HOST_SPLIT_AT for r in these if "host_as_guest" in r))
        if any("named_host" in r for r in these):
            s.update(one_speaker=sum(r["speakers_found"] == 1 for r in these),
                     named_host_over_10pct=sum(r["named_host"] > 0.10 for r in these),
                     named_host_any=sum(r["named_host"] > 0.0 for r in these))
        out[kind] = s
    return out


def markdown(report: dict, title: str) -> str:
    lines = [f"### {title}", "", "| kind | files | DER | miss | FA | confusion | count right | host attr mean | min | "
             "host split | one speaker | named host >10% |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for kind, s in report["summary"].items():
        lines.append(f"| {kind} | {s['files']} | {s['der_mean']:.3f} | {s['miss_mean']:.3f} | {s['false_alarm_mean']:.3f} | "
                     f"{s['confusion_mean']:.3f} | {s['count_right']}/{s['files']} | {s.get('host_attribution_mean', '-')} | "
                     f"{s.get('host_attribution_min', '-')} | {s.get('host_split', '-')} | "
                     f"{s.get('one_speaker', '-')} | {s.get('named_host_over_10pct', '-')} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    import argparse
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("roots", nargs="+", type=Path)
    ap.add_argument("--voices", type=Path, default=Path("voices"), help="where the demo host profile is")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--files", action="store_true", help="print every file's row")
    args = ap.parse_args()
    encoder = VoiceEncoder()
    demo = Profile.load(args.voices / "host.json")
    reports = {}
    for root in args.roots:
        reports[str(root)] = r = evaluate_dir(root, encoder, demo)
        if args.files:
            for row in r["files"]:
                print({k: v for k, v in row.items() if k != "reason"}, "|", row["reason"][:150])
        print(markdown(r, str(root)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(reports, indent=1) + "\n")


if __name__ == "__main__":
    main()
