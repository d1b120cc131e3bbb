"""Models load once per process and are shared by every video (and every Dagster step) it runs."""

from __future__ import annotations

import logging
import threading
from functools import lru_cache

from chaffee_assets.settings import Settings

log = logging.getLogger(__name__)
# One lock per model: a step asking for a model the warm-up thread is loading waits for that load.
_locks = {name: threading.Lock() for name in ("asr", "voice", "text", "warm")}
_warming = False


def transcriber(s: Settings, backend: str | None = None, *, fresh: bool = False):
    """The ASR model of CHAFFEE_ASR_BACKEND (or `backend`): an unknown name raises ValueError naming it.
    fresh: a new instance, not the process's shared one (the benchmark times the load)."""
    from chaffee_assets.speech.asr.backends import pick_backend

    chosen = pick_backend(backend or s.asr_backend, s.device)
    with _locks["asr"]:
        if chosen == "torch":
            load = _torch_transcriber.__wrapped__ if fresh else _torch_transcriber
            return load(s.asr_model, s.device, s.torch_dtype, s.asr_batch_size, s.beam_size, s.cpu_threads,
                        str(s.models_dir), s.asr_lookahead, s.torch_kv_cache)
        load = _transcriber.__wrapped__ if fresh else _transcriber
        return load(s.asr_model, s.device, s.compute_type, s.asr_batch_size, s.beam_size, s.cpu_threads,
                    s.asr_lookahead)


def voice_encoder(s: Settings):
    with _locks["voice"]:
        return _voice_encoder(s.device)


def text_embedder(s: Settings, model: str | None = None):
    """The configured text embedder (CHAFFEE_EMBED_MODEL), or the one named model (a model change)."""
    from chaffee_assets.speech.text.embed import canonical

    with _locks["text"]:
        return _text_embedder(canonical(model or s.embed_model), s.device, s.embed_batch_size)


def embed_for(s: Settings):
    """embed(model name, texts) by that model, each loaded once per process: a search's query vectors come
    from whichever model serves when it runs."""
    return lambda model, texts: text_embedder(s, model).embed(texts)


def warm_up(s: Settings) -> threading.Thread | None:
    """Load the diarization and embedding models (and import scikit-learn) on a thread, while the first
    batch's ASR keeps the main thread busy: ~5 s of imports and loads per process that no step then waits
    for. A failure here is only logged; the step that needs the model loads it again and reports it.
    Once per process: returns None when it was already started."""
    global _warming
    with _locks["warm"]:
        if _warming:
            return None
        _warming = True

    def load() -> None:
        try:
            voice_encoder(s)
            import sklearn.cluster  # noqa: F401  (diarization's KMeans and silhouette)
            import sklearn.metrics  # noqa: F401

            text_embedder(s)
        except Exception as exc:
            log.warning("model warm-up failed (the step will load it): %s: %s", type(exc).__name__, exc)

    thread = threading.Thread(target=load, name="model-warm-up", daemon=True)
    thread.start()
    return thread


@lru_cache(maxsize=2)
def _transcriber(model: str, device: str, compute_type: str, batch_size: int, beam_size: int, cpu_threads: int,
                 lookahead: int):
    from chaffee_assets.speech.asr.ctranslate2_backend import Transcriber

    return Transcriber(model, device=device, compute_type=compute_type, batch_size=batch_size,
                       beam_size=beam_size, cpu_threads=cpu_threads, lookahead_batches=lookahead)


@lru_cache(maxsize=2)
def _torch_transcriber(model: str, device: str, dtype: str, batch_size: int, beam_size: int, cpu_threads: int,
                       cache_root: str, lookahead: int, kv_cache: str):
    from chaffee_assets.speech.asr.torch_backend import TorchTranscriber

    return TorchTranscriber(model, device=device, dtype=dtype, cache_root=cache_root, batch_size=batch_size,
                            beam_size=beam_size, cpu_threads=cpu_threads, lookahead_batches=lookahead,
                            kv_cache=kv_cache)


@lru_cache(maxsize=2)
def _voice_encoder(device: str):
    from chaffee_assets.speech.speakers.voice import VoiceEncoder

    return VoiceEncoder(device=device)


@lru_cache(maxsize=2)
def _text_embedder(model: str, device: str, batch_size: int):
    from chaffee_assets.speech.text.embed import TextEmbedder

    return TextEmbedder(model, device=device, batch_size=batch_size)
