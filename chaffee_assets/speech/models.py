"""Models load once per process and are shared by every video (and every Dagster step) it runs."""

from __future__ import annotations

from functools import lru_cache

from chaffee_assets.settings import Settings


@lru_cache(maxsize=2)
def transcriber(settings: Settings):
    from chaffee_assets.speech.asr import Transcriber

    return Transcriber(
        settings.asr_model,
        device=settings.device,
        compute_type=settings.compute_type,
        batch_size=settings.asr_batch_size,
        beam_size=settings.beam_size,
        cpu_threads=settings.cpu_threads,
    )


@lru_cache(maxsize=2)
def voice_encoder(settings: Settings):
    from chaffee_assets.speech.voice import VoiceEncoder

    return VoiceEncoder(device=settings.device)


@lru_cache(maxsize=2)
def text_embedder(settings: Settings):
    from chaffee_assets.speech.embed import TextEmbedder

    return TextEmbedder(settings.embed_model, device=settings.device, batch_size=settings.embed_batch_size)
