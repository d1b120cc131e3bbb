"""The torch backend's fixtures, shared by the modules that load it (1 CPU thread each: on a CPU shared with
other work, 2 OpenMP threads ran torch 8x slower than 1)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def torch_threads_restored():
    """cpu_threads=1 sets torch's process-wide thread count: the later test modules get theirs back."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def torch_model(models_dir, torch_threads_restored):
    from chaffee_assets.speech.asr.torch_backend import TorchTranscriber

    return TorchTranscriber("bundled", cache_root=models_dir, cpu_threads=1)
