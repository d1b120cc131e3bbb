"""summary() and gpu_sampling(): busy_fraction is NVML's device-busy share on a GPU, model time / wall time
on CPU, and the gpu_* keys are absent (not zero) on CPU."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import dagster as dg

from chaffee_assets.defs.batch import gpu_sampling, summary
from tests.speech.test_gpu_telemetry import fake_nvml

DONE = {"v1": {"audio_s": 60.0}, "v2": {"audio_s": 30.0}}


def platform(device: str) -> SimpleNamespace:
    return SimpleNamespace(settings=SimpleNamespace(device=device, gpu_sample_s=0.001))


def plotted(meta: dict) -> dict:
    """The metadata as Dagster stores it for the UI's plots."""
    return dict(dg.AssetMaterialization(asset_key="x", metadata=meta).metadata)


def test_cpu_busy_fraction_is_model_time_and_no_gpu_keys(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml())
    with gpu_sampling(platform("cpu")) as gpu:
        pass
    meta = summary(DONE, ["v1", "v2"], wall_s=10.0, compute_s=4.0)
    meta.update(gpu.figures())
    assert meta["busy_fraction"] == meta["compute_fraction"] == 0.4
    assert not [k for k in meta if k.startswith("gpu_")]


def test_gpu_busy_fraction_is_nvml_device_time(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    fake = fake_nvml(util=[80, 100, 60], mem_gib=[5.0, 7.5, 6.0])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    with gpu_sampling(platform("cuda")) as gpu:
        assert fake.exhausted.wait(5)
    meta = summary(DONE, ["v1", "v2"], wall_s=10.0, compute_s=4.0)
    meta.update(gpu.figures())
    assert meta["busy_fraction"] == 0.8 and meta["compute_fraction"] == 0.4
    assert meta["gpu_util_mean"] == 80.0 and meta["gpu_util_p10"] == 64.0 and meta["gpu_mem_peak_gb"] == 7.5
    assert meta["gpu_samples"] == 3 and "gpu_busy_fraction" not in meta  # one name for the figure
    stored = plotted(meta)
    for key in ("busy_fraction", "compute_fraction", "gpu_util_mean", "gpu_util_p10", "gpu_mem_peak_gb"):
        assert isinstance(stored[key], dg.FloatMetadataValue), key
    assert isinstance(stored["gpu_samples"], dg.IntMetadataValue)


def test_stopwatch_counts_cpu_of_threads_and_waited_children_not_sleep():
    import subprocess
    import threading
    import time as clock

    from chaffee_assets.defs.batch import Stopwatch

    def spin(seconds: float) -> None:
        end = clock.thread_time() + seconds
        while clock.thread_time() < end:
            pass

    watch = Stopwatch()
    clock.sleep(0.3)  # waiting costs no CPU
    worker = threading.Thread(target=spin, args=(0.3,))
    worker.start()
    worker.join()
    subprocess.run([sys.executable, "-c", "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"],
                   check=True)
    assert 0.6 <= watch.cpu_seconds < watch.seconds  # the thread and the child, not the sleep (all in turn)
    assert summary(DONE, ["v1", "v2"], 10.0, 4.0, watch.cpu_seconds)["cpu_s"] >= 0.6
