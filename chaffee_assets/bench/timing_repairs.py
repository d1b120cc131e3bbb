"""What the word-time repair does on a corpus: the ASR's own output against the repaired one.

  python -m chaffee_assets.bench.timing_repairs CORPUS_AUDIO_DIR [--json OUT]

Every file is transcribed once, in one clip stream, with the repair held back (the decoder's segments as
they come); then boundaries.repair and quality.judge run on them. Per file: the segment rules the raw
output breaks (those a video was refused for before the repair moved into the words), the repairs made by
kind, the problems left after repair, and the segments the judgement drops. `same_words` compares the
word sequence before and after: a repair moves times, never words, so WER cannot change."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections import Counter
from pathlib import Path
from unittest import mock

from chaffee_assets.settings import get_settings
from chaffee_assets.speech import models
from chaffee_assets.speech.asr import clip_stream
from chaffee_assets.speech.asr.boundaries import repair
from chaffee_assets.speech.asr.quality import judge, segment_problems

MEDIA = {".flac", ".wav", ".mp3", ".m4a", ".ogg", ".opus"}


def _as_decoded(segments, duration_s, counts=None):
    """Stands in for boundaries.repair inside the clip stream: the segments in time order, times untouched."""
    return sorted(segments, key=lambda s: s.start)


def measure(folder: Path) -> dict:
    """{"files": [...per file...], "totals": {...}} for every media file in folder."""
    paths = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in MEDIA}
    model = models.transcriber(get_settings())
    rows = []
    with mock.patch.object(clip_stream, "repair", _as_decoded):
        finished = list(model.transcribe_many(paths.items()))
    for done in finished:
        if isinstance(done.result, Exception):
            rows.append({"file": done.key, "error": f"{type(done.result).__name__}: {done.result}"})
            continue
        # every segment labelled: the speaker rule is the labels' business, not the timing's
        raw = [dataclasses.replace(s, speaker="host") for s in done.result.segments]
        duration, counts = done.result.duration_s, Counter()
        fixed = repair(raw, duration, counts=counts)
        judged = judge(fixed, duration)
        rows.append({"file": done.key, "duration_s": round(duration, 2), "segments": len(raw),
                     "raw_problems": segment_problems(raw, duration),
                     "repairs": dict(counts), "problems_after": segment_problems(fixed, duration),
                     "dropped_after": len(judged.dropped), "refused_after": judged.refused,
                     "same_words": [w.word for s in raw for w in s.words] == [w.word for s in fixed for w in s.words]})
    good = [r for r in rows if "error" not in r]
    totals = {"files": len(rows), "errors": len(rows) - len(good),
              "files_raw_breaking_a_rule": sum(bool(r["raw_problems"]) for r in good),
              "files_breaking_a_rule_after": sum(bool(r["problems_after"]) for r in good),
              "files_refused_after": sum(bool(r["refused_after"]) for r in good),
              "segments_dropped_after": sum(r["dropped_after"] for r in good),
              "repairs": dict(sum((Counter(r["repairs"]) for r in good), Counter())),
              "words_kept_everywhere": all(r["same_words"] for r in good)}
    return {"files": rows, "totals": totals}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    doc = measure(args.folder)
    for r in doc["files"]:
        print(f"{r['file']:<28} " + (r.get("error") or f"raw rules broken {len(r['raw_problems'])}, "
              f"repairs {sum(r['repairs'].values())}, after {len(r['problems_after'])}, "
              f"dropped {r['dropped_after']}, refused {bool(r['refused_after'])}"))
    print(json.dumps(doc["totals"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
