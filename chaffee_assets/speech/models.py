"""Models load once per process and are shared by every video (and every Dagster step) it runs."""

from __future__ import annotations

from functools import lru_cache

from chaffee_assets.settings import Settings


def transcriber(s: Settings):
    return _transcriber(s.asr_model, s.device, s.compute_type, s.asr_batch_size, s.beam_size, s.cpu_threads)


def voice_encoder(s: Settings):
    return _voice_encoder(s.device)


def text_embedder(s: Settings):
    return _text_embedder(s.embed_model, s.device, s.embed_batch_size)


@lru_cache(maxsize=2)
def _transcriber(model: str, device: str, compute_type: str, batch_size: int, beam_size: int, cpu_threads: int):
    from chaffee_assets.speech.asr import Transcriber

    return Transcriber(model, device=device, compute_type=compute_type, batch_size=batch_size,
                       beam_size=beam_size, cpu_threads=cpu_threads)


@lru_cache(maxsize=2)
def _voice_encoder(device: str):
    from chaffee_assets.speech.voice import VoiceEncoder

    return VoiceEncoder(device=device)


@lru_cache(maxsize=2)
def _text_embedder(model: str, device: str, batch_size: int):
    from chaffee_assets.speech.embed import TextEmbedder

    return TextEmbedder(model, device=device, batch_size=batch_size)
