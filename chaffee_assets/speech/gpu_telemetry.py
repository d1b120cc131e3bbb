"""GPU telemetry while a step runs: NVML utilisation and memory, sampled on a background thread.

    with telemetry("cuda:0") as sampler:
        ...  # the GPU work
    sampler.figures()  # {} on CPU, or when NVML cannot run here

What the figures mean:
- NVML's utilisation (`nvmlDeviceGetUtilizationRates().gpu`) is the percentage of the driver's last sample
  period (1/6 s to 1 s, depending on the product) during which one or more kernels ran on the device. It
  says nothing about how full each kernel kept the device's units.
- `gpu_util_mean`: mean of the sampled utilisation, in percent (0-100, as nvidia-smi reports it).
- `gpu_util_p10`: its 10th percentile (linear interpolation), in percent: 90% of the samples were at
  least this busy. It shows the dips that a mean hides.
- `gpu_busy_fraction`: `gpu_util_mean / 100`, i.e. the estimated share of the sampled wall time during
  which the device ran a kernel (device time / wall time), 0-1. It is not the share of samples with
  utilisation > 0: a sample of 1% would count as fully busy.
- `gpu_mem_peak_gb`: the largest `nvmlDeviceGetMemoryInfo().used` seen, in GiB (2**30 bytes, the unit
  of a card's nominal size). It is the whole device's memory, every process's, the CUDA context and
  torch's cached blocks included, so it is what the card must hold, not what the tensors needed.
- `gpu_samples`: how many samples the figures are made of.

Which device: CHAFFEE_DEVICE `cuda` is CUDA device 0 (torch's default), `cuda:N` device N. With
CUDA_VISIBLE_DEVICES set, device N is its N-th entry: an NVML index or a full `GPU-` UUID. A MIG
instance (`MIG-...`) gets no figures: NVML does not report utilisation per MIG instance. Without
CUDA_VISIBLE_DEVICES, device N is NVML index N, which is CUDA's numbering only with
CUDA_DEVICE_ORDER=PCI_BUS_ID or where all the GPUs are the same model (CUDA orders fastest first).

Telemetry never raises into the step: when there are no figures, why is logged once per process.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

log = logging.getLogger(__name__)
GIB = 2**30
_told: set[str] = set()


class Sampler:
    """Samples one device every `every_s` seconds on a daemon thread, from start() until stop()."""

    def __init__(self, nvml, handle, every_s: float) -> None:
        self.nvml, self.handle, self.every_s = nvml, handle, every_s
        self.samples: list[tuple[float, int]] = []  # (utilisation %, memory used in bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpu-telemetry", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ends the thread; a hung NVML call is left behind after a few seconds (a daemon thread)."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=max(2.0, 5 * self.every_s))

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        """One sample at once, one every `every_s`, a last one when stopped; the first NVML error ends it."""
        while self._sample():
            if self._stop.wait(self.every_s):
                self._sample()  # the end of the block
                return

    def _sample(self) -> bool:
        try:
            util = self.nvml.nvmlDeviceGetUtilizationRates(self.handle).gpu
            used = self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used
        except Exception as exc:
            _tell_once(f"GPU telemetry stopped early (the figures cover the samples before): "
                       f"{type(exc).__name__}: {exc}")
            return False
        self.samples.append((float(util), int(used)))
        return True

    def figures(self) -> dict:
        """The figures of the samples so far (see the module docstring); {} without samples."""
        samples = list(self.samples)  # the thread may still be appending
        return figures_of([u for u, _ in samples], [m for _, m in samples])


class NoSampler:
    """What telemetry yields where there is nothing to sample (CPU, no NVML): no figures."""

    running = False

    def stop(self) -> None:
        pass

    def figures(self) -> dict:
        return {}


def figures_of(util_percent: list[float], mem_used_bytes: list[int]) -> dict:
    """Plain floats (and an int count), so Dagster plots them; {} for no samples."""
    if not util_percent:
        return {}
    mean = float(np.mean(util_percent))
    return {
        "gpu_util_mean": round(mean, 2),
        "gpu_util_p10": round(float(np.percentile(util_percent, 10)), 2),
        "gpu_busy_fraction": round(mean / 100, 4),
        "gpu_mem_peak_gb": round(max(mem_used_bytes) / GIB, 3),
        "gpu_samples": len(util_percent),
    }


@contextmanager
def telemetry(device: str, every_s: float = 0.1) -> Iterator[Sampler | NoSampler]:
    """Sample the CUDA device `device` (a torch device string) while the block runs; the thread is
    stopped and NVML shut down when the block exits, however it exits."""
    opened = _open(device)
    if opened is None:
        yield NoSampler()
        return
    nvml, handle = opened
    sampler: Sampler | NoSampler = Sampler(nvml, handle, every_s)
    try:
        sampler.start()
    except Exception as exc:  # no thread to be had: the step runs unsampled
        _tell_once(f"no GPU telemetry: the sampling thread did not start ({type(exc).__name__}: {exc})")
        sampler = NoSampler()
    try:
        yield sampler
    finally:
        sampler.stop()
        try:
            nvml.nvmlShutdown()
        except Exception as exc:
            _tell_once(f"nvmlShutdown failed: {type(exc).__name__}: {exc}")


def _open(device: str):
    """(pynvml, handle of the device), or None with the reason logged once."""
    index = cuda_index(str(device))
    if index is None:
        _tell_once(f"no GPU telemetry: device {device!r} is not CUDA")
        return None
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as exc:  # not installed, no driver (NVMLError_LibraryNotFound), driver mismatch...
        _tell_once(f"no GPU telemetry: NVML cannot start here ({type(exc).__name__}: {exc})")
        return None
    try:
        return pynvml, _handle(pynvml, index)
    except Exception as exc:
        _tell_once(f"no GPU telemetry for {device!r}: {type(exc).__name__}: {exc}")
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass
        return None


def cuda_index(device: str) -> int | None:
    """`cuda` -> 0, `cuda:N` -> N, anything else (cpu, mps...) -> None."""
    kind, _, number = device.strip().lower().partition(":")
    if kind != "cuda":
        return None
    return int(number) if number.isdigit() else 0 if not number else None


def _handle(nvml, index: int):
    """NVML's handle for CUDA device `index` of this process, through CUDA_VISIBLE_DEVICES when set."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None or not visible.strip():
        return nvml.nvmlDeviceGetHandleByIndex(index)
    entries = [e.strip() for e in visible.split(",")]
    if index >= len(entries):
        raise LookupError(f"CUDA_VISIBLE_DEVICES={visible!r} has no device {index}")
    entry = entries[index]
    if entry.isdigit():
        return nvml.nvmlDeviceGetHandleByIndex(int(entry))
    if entry.startswith("GPU-"):
        return nvml.nvmlDeviceGetHandleByUUID(entry)
    raise LookupError(f"CUDA_VISIBLE_DEVICES entry {entry!r} is not an index or a GPU UUID (MIG is not sampled)")


def _tell_once(message: str) -> None:
    if message not in _told:
        _told.add(message)
        log.info(message)
