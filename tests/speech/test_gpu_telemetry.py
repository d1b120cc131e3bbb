"""GPU telemetry through its real thread, against a scripted stand-in for `pynvml` (no GPU here)."""

from __future__ import annotations

import sys
import threading
import types
from types import SimpleNamespace

import pytest

from chaffee_assets.speech import gpu_telemetry
from chaffee_assets.speech.gpu_telemetry import GIB, cuda_index, telemetry


class FakeNVMLError(Exception):
    pass


def fake_nvml(util: list[int] | None = None, mem_gib: list[float] | None = None, init_error: bool = False):
    """A `pynvml` module that answers the scripted samples in order, then raises (ending the sampling), so
    the figures are those of the script alone. `util=None` samples forever (100%, 1 GiB)."""
    module = types.ModuleType("pynvml")
    module.NVMLError = FakeNVMLError
    module.calls = []
    module.exhausted = threading.Event()
    script = None if util is None else list(zip(util, mem_gib, strict=True))

    def init():
        module.calls.append("init")
        if init_error:
            raise FakeNVMLError("NVML Shared Library Not Found")

    def rates(handle):
        if script is None:
            return SimpleNamespace(gpu=100, memory=0)
        if not script:
            module.exhausted.set()
            raise FakeNVMLError("script over")
        module.pending = script.pop(0)
        return SimpleNamespace(gpu=module.pending[0], memory=0)

    def memory(handle):
        used = GIB if script is None else module.pending[1] * GIB
        return SimpleNamespace(used=int(used), total=80 * GIB, free=0)

    module.nvmlInit = init
    module.nvmlShutdown = lambda: module.calls.append("shutdown")
    module.nvmlDeviceGetHandleByIndex = lambda i: module.calls.append(("index", i)) or f"handle-{i}"
    module.nvmlDeviceGetHandleByUUID = lambda u: module.calls.append(("uuid", u)) or f"handle-{u}"
    module.nvmlDeviceGetUtilizationRates = rates
    module.nvmlDeviceGetMemoryInfo = memory
    return module


@pytest.fixture()
def nvml(monkeypatch):
    def install(**kwargs):
        module = fake_nvml(**kwargs)
        monkeypatch.setitem(sys.modules, "pynvml", module)
        return module

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return install


def telemetry_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "gpu-telemetry"]


def test_figures_of_scripted_samples(nvml):
    fake = nvml(util=[0, 10, 50, 90, 100], mem_gib=[1.0, 2.5, 3.25, 3.0, 2.0])
    with telemetry("cuda", every_s=0.001) as sampler:
        assert fake.exhausted.wait(5)
    assert sampler.figures() == {
        "gpu_util_mean": 50.0,
        "gpu_util_p10": 4.0,  # between the lowest two of 0, 10, 50, 90, 100 (linear)
        "gpu_busy_fraction": 0.5,  # mean utilisation / 100: share of the time a kernel ran
        "gpu_mem_peak_gb": 3.25,
        "gpu_samples": 5,
    }
    assert all(type(v) is float for k, v in sampler.figures().items() if k != "gpu_samples")  # plotted
    assert fake.calls == ["init", ("index", 0), "shutdown"]
    assert not sampler.running and not telemetry_threads()


def test_cpu_has_no_figures_and_starts_nothing(nvml):
    fake = nvml()
    with telemetry("cpu") as sampler:
        assert not telemetry_threads()
    assert sampler.figures() == {} and fake.calls == []


def test_nvml_that_cannot_start_gives_no_figures(nvml):
    fake = nvml(init_error=True)
    with telemetry("cuda:0") as sampler:
        pass
    assert sampler.figures() == {} and fake.calls == ["init"] and not telemetry_threads()


def test_real_pynvml_without_a_driver_gives_no_figures():
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        pass
    else:
        pynvml.nvmlShutdown()
        pytest.skip("this machine has an NVIDIA driver")
    with telemetry("cuda") as sampler:
        pass
    assert sampler.figures() == {}


def test_thread_stops_when_the_step_raises(nvml):
    fake = nvml()  # samples until stopped
    with pytest.raises(RuntimeError, match="the step's own error"):
        with telemetry("cuda", every_s=0.001) as sampler:
            while not sampler.samples:
                pass
            assert sampler.running
            raise RuntimeError("the step's own error")
    assert not sampler.running and not telemetry_threads()
    assert fake.calls[-1] == "shutdown"
    assert sampler.figures()["gpu_util_mean"] == 100.0 and sampler.figures()["gpu_mem_peak_gb"] == 1.0


def test_cuda_visible_devices_picks_the_nvml_device(nvml, monkeypatch):
    fake = nvml(util=[40], mem_gib=[1.0])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    with telemetry("cuda:1", every_s=0.001):
        assert fake.exhausted.wait(5)
    assert ("index", 5) in fake.calls

    fake = nvml(util=[40], mem_gib=[1.0])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-8f1c2b3a-0000-1111-2222-333344445555")
    with telemetry("cuda", every_s=0.001) as sampler:
        assert fake.exhausted.wait(5)
    assert ("uuid", "GPU-8f1c2b3a-0000-1111-2222-333344445555") in fake.calls and sampler.figures()

    for visible, device in (("MIG-1d2e3f", "cuda"), ("0", "cuda:1")):  # no NVML utilisation / no such device
        fake = nvml()
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
        with telemetry(device) as sampler:
            pass
        assert sampler.figures() == {} and fake.calls[-1] == "shutdown" and not telemetry_threads()


def test_cuda_index():
    assert [cuda_index(d) for d in ("cuda", "cuda:0", "CUDA:2", "cpu", "mps", "cuda:x")] == [0, 0, 2, None, None, None]


def test_no_samples_no_figures():
    assert gpu_telemetry.figures_of([], []) == {}


def test_a_thread_that_cannot_start_leaves_the_step_unsampled(nvml, monkeypatch):
    fake = nvml()

    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(gpu_telemetry.Sampler, "start", refuse)
    with telemetry("cuda") as sampler:
        pass
    assert sampler.figures() == {} and fake.calls[-1] == "shutdown"
