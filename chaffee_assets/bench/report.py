"""The bench JSON as a markdown table and a PNG chart of where each mode spends its time."""

from __future__ import annotations

from pathlib import Path

MODES = ["asr_only", "naive", "pipeline"]


def markdown(doc: dict) -> str:
    c = doc["corpus"]
    lines = [
        f"# Throughput on {doc['device']} with {doc['asr_model']}",
        "",
        f"Corpus: {c['files']} files, {c['audio_s'] / 60:.1f} min of audio. "
        f"Best of {doc.get('repeat', 1)} interleaved round(s) per mode.",
        "",
        "| mode | wall s | x realtime (= h audio / h) | busy fraction | every round's wall s |",
        "|---|---:|---:|---:|---|",
    ]
    for mode in _modes(doc):
        r = doc[mode]
        busy = f"{r['busy_fraction']:.2f}" if "busy_fraction" in r else "-"
        rounds = ", ".join(f"{w:.1f}" for w in r.get("walls_s", [r["wall_s"]]))
        lines.append(f"| {mode} | {r['wall_s']:.1f} | {r['x_realtime']:.2f} | {busy} | {rounds} |")
    for backend, other in doc.get("other_backends", {}).items():
        for mode in ("asr_only", "pipeline"):
            r = other[mode]
            rounds = ", ".join(f"{w:.1f}" for w in r.get("walls_s", [r["wall_s"]]))
            lines.append(f"| {mode} ({backend}) | {r['wall_s']:.1f} | {r['x_realtime']:.2f} | "
                         f"{r['busy_fraction']:.2f} | {rounds} |")
    lines += [
        "",
        f"- ASR backend: {doc.get('asr_backend', 'ctranslate2')}"
        + "".join(f"; {b}: pipeline vs its ASR-only ceiling **{o['efficiency_vs_asr_only']:.2f}**"
                  for b, o in doc.get("other_backends", {}).items()),
        f"- pipeline vs naive: **{doc['speedup_vs_naive']:.2f}x**" if "naive" in doc
        else "- naive mode not run (`--no-naive`)",
        f"- pipeline vs ASR-only ceiling: **{doc['efficiency_vs_asr_only']:.2f}**",
        f"- fixed cost per ingest (one 5 s clip through `chaffee ingest`): **{doc['fixed_cost_s']:.1f} s**, "
        f"{doc['fixed_cost_share']:.0%} of the pipeline's wall time",
    ]
    if "source" in doc:
        lines += _source_lines(doc["source"])
    p = doc["pipeline"]
    if "gpu_util_mean" in doc["asr_only"]:
        lines.append(f"- GPU (NVML): ASR-only utilisation {doc['asr_only']['gpu_util_mean']:.0f}% "
                     f"(p10 {doc['asr_only']['gpu_util_p10']:.0f}%), peak memory "
                     f"{doc['asr_only']['gpu_mem_peak_gb']:.1f} GiB; pipeline `transcripts` "
                     f"{p.get('transcripts_gpu_util_mean', float('nan')):.0f}%")
    if "fast_path_videos" in p:
        lines.append(f"- monologue fast-path: {p['fast_path_videos']} of {p.get('videos', '?')} videos, "
                     f"about {p.get('fast_path_saved_s', 0):.1f} s of diarization saved; {p.get('runs', '?')} Dagster runs")
    for mode in [m for m in ("naive", "pipeline") if m in doc]:
        stages = doc[mode].get("stages", {})
        lines += ["", f"{mode} stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items())]
    return "\n".join(lines) + "\n"


def chart(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.2))
    modes = _modes(doc)
    for row, mode in enumerate(modes):
        r = doc[mode]
        stages = dict(r.get("stages") or {"asr": r["wall_s"]})
        other = r["wall_s"] - sum(stages.values())
        if other > 0.05:
            stages["other (start-up, imports, launch)"] = other
        left = 0.0
        for name, seconds in stages.items():
            ax.barh(row, seconds, left=left, label=f"{mode}: {name}")
            if seconds > r["wall_s"] * 0.08:
                ax.text(left + seconds / 2, row, name.split(" ")[0], ha="center", va="center", fontsize=7)
            left += seconds
    ax.set_yticks(range(len(modes)), [f"{m}\n{doc[m]['x_realtime']:.1f}x rt" for m in modes])
    ax.set_xlabel("wall seconds")
    ax.set_title(f"{doc['corpus']['audio_s'] / 60:.0f} min of audio, {doc['device']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _modes(doc: dict) -> list[str]:
    return [m for m in MODES if m in doc]


def write(doc: dict, md_path: Path, png_path: Path) -> None:
    md_path.write_text(markdown(doc))
    chart(doc, png_path)


def _source_lines(src: dict) -> list[str]:
    """The feed runs: loopback against throttled, the models' wait for audio, download concurrency."""
    lines = []
    for mode in ("feed_loopback", "feed_throttled"):
        r, o = src[mode], src[mode].get("overlap", {})
        lines.append(
            f"- {mode.replace('_', ' ')}: **{r['x_realtime']:.1f}x** realtime ({r['wall_s']:.1f} s); first audio "
            f"after {o.get('first_wait_s', 0):.1f} s, then the models waited {o.get('wait_share', 0):.1%} of their "
            f"wall time; {r.get('download_concurrency_peak', 0)} downloads at once (of "
            f"{r.get('download_workers', 0)}), peak {o.get('peak_ahead_mb', 0):.0f} MB downloaded ahead; "
            f"{o.get('download_runs', 0)} download + {o.get('process_runs', 0)} process runs; server: "
            f"{r.get('server', {})}")
    lines.append(f"- throttled ({src['rate_bps_per_connection'] / 1024:.0f} KiB/s per connection = "
                 f"{src['per_connection_x_realtime']:.1f}x realtime) vs loopback: **{src['throttled_vs_loopback']:.2f}**;"
                 f" loopback feed vs ASR-only: {src['loopback_vs_asr_only']:.2f}")
    return lines
