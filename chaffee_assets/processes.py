"""Stopping a server process and everything it started (used by `chaffee dev` and the UI tests)."""

from __future__ import annotations

import signal
import subprocess

import psutil


def stop_tree(proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """SIGINT to proc (a clean shutdown of what it runs), then kill whatever of its process tree is
    still there after the timeout."""
    try:
        tree = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _gone, alive = psutil.wait_procs(tree, timeout=10)
    for leftover in alive:
        try:
            leftover.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
