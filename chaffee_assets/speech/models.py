"""Models load once per process and are shared by every video (and every Dagster step) it runs."""

from __future__ import annotations

import threading
from functools import lru_cache

from chaffee_assets.settings import Settings

# one lock per model: it is built once even when the preload thread and a step ask for it together,
# and loading one model never blocks a step that needs another
_locks = {name: threading.Lock() for name in ("asr", "voice", "text")}


def transcriber(s: Settings):
    with _locks["asr"]:
        return _transcriber(s.asr_model, s.device, s.compute_type, s.asr_batch_size, s.beam_size, s.cpu_threads)


def voice_encoder(s: Settings):
    with _locks["voice"]:
        return _voice_encoder(s.device)


def text_embedder(s: Settings):
    with _locks["text"]:
        return _text_embedder(s.embed_model, s.device, s.embed_batch_size)


def preload(s: Settings) -> threading.Thread:
    """Import and load the voice encoder and text embedder on a thread while ASR runs: their imports
    (torch, librosa, sentence-transformers) are seconds of fixed cost that would otherwise come after it."""

    def load() -> None:
        voice_encoder(s)
        text_embedder(s)

    thread = threading.Thread(target=load, name="preload-models", daemon=True)
    thread.start()
    return thread


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
