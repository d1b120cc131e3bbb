"""pyannote.audio as an optional diarizer: pyannote's turns, OUR voice encoder's centroids.

It runs when `pyannote.audio` imports and CHAFFEE_PYANNOTE_MODEL names a pipeline: a local directory or a
hub id. A gated hub model reads HF_TOKEN from the environment; the token goes to pyannote only and is
never logged (it is masked in error messages too). The result is the offline diarizer's type,
diarize.Diarization: turns labelled SPK0.., and per-cluster centroids of our encoder's windows over
each speaker's speech outside overlaps. Voice profiles live in our encoder's space, not pyannote's, so
labels.identify keeps working unchanged. Anything that stops pyannote from running is raised as
PyannoteUnavailable; attribution.run_diarizer decides between an error and the offline fallback.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from chaffee_assets.speech.audio import SAMPLE_RATE
from chaffee_assets.speech.speakers.diarize import Diarization, Turn
from chaffee_assets.speech.speakers.voice import WINDOW_S, VoiceEncoder, Windows, unit, window_spans
from chaffee_assets.speech.vad import Region


class PyannoteUnavailable(RuntimeError):
    """pyannote cannot run: it does not import, no model is configured, or the model does not load."""


def _masked(text: str) -> str:
    token = os.environ.get("HF_TOKEN")
    return text.replace(token, "***") if token else text


@lru_cache(maxsize=2)
def load_pipeline(model: str | None, device: str = "cpu"):
    """The pipeline, loaded once per process and device."""
    try:
        import torch
        from pyannote.audio import Pipeline
    except Exception as exc:  # ImportError, or a torch/torchaudio mismatch raised while importing
        raise PyannoteUnavailable(
            f"pyannote.audio does not import ({type(exc).__name__}: {exc}); install the 'pyannote' extra "
            "with a torch build it supports, or set CHAFFEE_DIARIZER=offline"
        ) from None
    if not model:
        raise PyannoteUnavailable("CHAFFEE_PYANNOTE_MODEL is not set: give a local pipeline directory or a hub id")
    source = str(Path(model).expanduser()) if Path(model).expanduser().exists() else model
    token = os.environ.get("HF_TOKEN") or None
    hint = ("for a gated hub model set HF_TOKEN and accept its conditions on the hub; with HF_HUB_OFFLINE=1 "
            "use a local directory or a cached model")
    try:
        try:
            pipeline = Pipeline.from_pretrained(source, token=token)  # pyannote.audio >= 4
        except TypeError:
            pipeline = Pipeline.from_pretrained(source, use_auth_token=token)  # 3.x
    except Exception as exc:
        raise PyannoteUnavailable(_masked(f"pyannote model {model!r} did not load ({type(exc).__name__}: {exc}); {hint}")) from None
    if pipeline is None:  # 3.x returns None when the hub refuses a gated model
        raise PyannoteUnavailable(f"pyannote model {model!r} did not load; {hint}")
    return pipeline.to(torch.device(device))


def from_annotation(audio: np.ndarray, annotation, encoder: VoiceEncoder) -> Diarization:
    """A pyannote.core Annotation as a Diarization, with centroids from our encoder.

    A speaker with no 0.5 s of speech outside overlaps gets no centroid; its turns are dropped (noted),
    so every turn's speaker can be identified and words in its time go to the nearest remaining turn.
    """
    names = {label: i for i, label in enumerate(annotation.labels())}
    overlap = annotation.get_overlap()
    spans, labels, notes = [], [], []
    for label, i in names.items():
        own = annotation.label_timeline(label).support().extrude(overlap)
        regions = [Region(seg.start, seg.end) for seg in own]
        long = [r for r in regions if r.duration >= WINDOW_S]  # windows then stay inside this speaker's speech
        s = window_spans(long or regions)
        if len(s) == 0:
            notes.append(f"speaker {label}: no 0.5 s without overlap to embed; its turns dropped")
        spans.append(s)
        labels += [i] * len(s)
    spans = np.concatenate(spans) if spans else np.zeros((0, 2))
    windows = Windows(spans, encoder.embed_spans(audio, spans))
    labels = np.asarray(labels, dtype=int)
    centroids = {f"SPK{k}": unit(windows.vectors[labels == k].mean(axis=0)) for k in sorted(set(labels.tolist()))}
    turns = [Turn(float(seg.start), float(seg.end), f"SPK{names[label]}")
             for seg, _track, label in annotation.itertracks(yield_label=True)]
    turns = sorted((t for t in turns if t.speaker in centroids), key=lambda t: (t.start, t.end))
    return Diarization(turns, centroids, windows, labels, method="pyannote", notes=notes)


def diarize(
    audio: np.ndarray, encoder: VoiceEncoder, *, model: str | None, device: str = "cpu", num_speakers: int | None = None
) -> Diarization:
    """pyannote's speaker diarization of 16 kHz mono audio (its overlapped speech kept)."""
    import torch

    pipeline = load_pipeline(model, device)
    started = time.perf_counter()
    waveform = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None]
    options = {} if num_speakers is None else {"num_speakers": num_speakers}
    output = pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE}, **options)
    annotation = getattr(output, "speaker_diarization", output)  # 4.x: DiarizeOutput; 3.x: an Annotation
    result = from_annotation(audio, annotation, encoder)
    result.method = f"pyannote:{model}"
    result.compute_s = time.perf_counter() - started
    return result
