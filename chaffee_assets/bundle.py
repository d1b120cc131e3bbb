"""An offline installation for a machine with no network: the wheels it lacks, for its Python and
platform, an install script, in parts small enough to send one by one.

What goes in: chaffee_assets and the closure of its run-time requirements as installed here (the same
versions), minus what the target already has (its `pip list --format=freeze`, by name) and minus what the
pipeline does not need to run (torch comes with the target's CUDA build; the Dagster UI and the test
tools stay behind). Each pin is downloaded as a binary wheel for the target (pip download --no-deps
--only-binary=:all: --python-version --platform), so nothing compiles there.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

# Never bundled: the target's own torch build (and what only it pulls), the UI, the dev/test tools,
# resemblyzer's `typing` (a backport of a module in the standard library since 3.5; source only) and the
# static ffmpeg (65 MB; raw_audio downloads with no post-processing and decodes with PyAV).
LEFT_OUT = {"torch", "triton", "typing", "imageio-ffmpeg", "dagster-webserver", "dagster-celery", "dagster-k8s", "playwright", "pytest",
            "matplotlib", "jiwer", "pyannote-audio", "pyannote-metrics", "pyannote-core"}
# The project's files the package reads from beside itself (migrations, instance config, voice profiles).
PROJECT_FILES = ("sql", "dagster.yaml", "workspace.yaml", "voices")
# Bundled even when the target has them: resemblyzer's webrtcvad needs pkg_resources (setuptools < 81).
ALWAYS = {"setuptools"}
# Published as source only (a compiler there): the same module as a binary wheel.
SUBSTITUTES = {"webrtcvad": ("webrtcvad-wheels", "2.0.14")}
MANYLINUX = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64", "linux_x86_64"]


@dataclass
class Target:
    """The machine the bundle is for."""

    python: str = "3.12"  # major.minor
    platforms: list[str] = field(default_factory=lambda: list(MANYLINUX))
    has: set[str] = field(default_factory=set)  # normalised names already installed there

    @classmethod
    def from_freeze(cls, text: str, python: str = "3.12") -> Target:
        names = {normalise(re.split(r"[=<>@ ]", line.strip(), maxsplit=1)[0]) for line in text.splitlines()
                 if line.strip() and not line.startswith("#")}
        return cls(python=python, has=names)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str, target: Target) -> dict[str, str]:
    """{name: version} of root's installed run-time requirements (no extras of root; the extras its
    requirements name, e.g. psycopg[binary], are followed), recursively, with markers evaluated for the
    target; LEFT_OUT and the target's own packages stop the walk."""
    env = {"python_version": target.python, "python_full_version": f"{target.python}.0", "sys_platform": "linux",
           "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
           "implementation_name": "cpython", "platform_python_implementation": "CPython"}
    pins: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    todo = [(root, "")]
    while todo:
        name, extra = todo.pop()
        name = normalise(name)
        if (name, extra) in seen or name in LEFT_OUT or (name in target.has and name not in ALWAYS):
            continue
        seen.add((name, extra))
        dist = metadata.distribution(name)
        pins[name] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({**env, "extra": extra}):
                todo += [(req.name, "")] + [(req.name, e) for e in req.extras]
    pins.pop(normalise(root))  # built from the source tree, not downloaded
    return {SUBSTITUTES.get(n, (n, v))[0]: SUBSTITUTES.get(n, (n, v))[1] for n, v in pins.items()}


def download(pins: dict[str, str], target: Target, dest: Path) -> None:
    """Binary wheels of exactly these versions for the target (one pip call)."""
    platforms = [arg for p in target.platforms for arg in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--implementation", "cp", "--python-version", target.python, *platforms, "-d", str(dest),
                    *(f"{n}=={v}" for n, v in sorted(pins.items()))], check=True)


def build(source: Path, out: Path, target: Target, part_mib: int = 60) -> dict:
    """The bundle folder, its tar in parts of at most part_mib MiB, and manifest.json; returns the manifest."""
    stage = out / "bundle"
    wheels = stage / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    pins = closure("chaffee_assets", target)
    download(pins, target, wheels)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(source)], check=True)
    (stage / "project").mkdir(exist_ok=True)
    for name in PROJECT_FILES:  # read from beside the package (settings.REPO_ROOT): the prefix, once installed
        copy = shutil.copytree if (source / name).is_dir() else shutil.copy2
        copy(source / name, stage / "project" / name)
    (stage / "install.sh").write_text(INSTALL)
    archive = out / "bundle.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(stage, arcname="bundle")
    parts = split(archive, part_mib * 2**20)
    archive.unlink()
    manifest = {
        "python": target.python, "platforms": target.platforms,
        "left_out_target_has": sorted(target.has & set(_requirement_names())),
        "wheels": {w.name: w.stat().st_size for w in sorted(wheels.glob("*.whl"))},
        "parts": [{"file": p.name, "bytes": p.stat().st_size, "sha256": sha256(p)} for p in parts],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (out / "install.sh").write_text(INSTALL)
    return manifest


def _requirement_names() -> list[str]:
    return [normalise(Requirement(r).name) for r in metadata.distribution("chaffee_assets").requires or []]


def split(path: Path, size: int) -> list[Path]:
    parts = []
    with path.open("rb") as src:
        while chunk := src.read(size):
            parts.append(path.with_name(f"{path.name}.part-{len(parts):02d}"))
            parts[-1].write_bytes(chunk)
    return parts


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# Run where the parts are: checks every part against manifest.json, reassembles, installs with no index
# and no network into PREFIX (default /tmp/chaffee), and prints the two exports that put it to use.
INSTALL = r"""#!/usr/bin/env bash
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); prefix=${1:-/tmp/chaffee}; py=${PYTHON:-python3}
cd "$here"
"$py" - <<'EOF'
import hashlib, json, pathlib
m = json.loads(pathlib.Path("manifest.json").read_text())
for p in m["parts"]:
    got = hashlib.sha256(pathlib.Path(p["file"]).read_bytes()).hexdigest()
    if got != p["sha256"]:
        raise SystemExit(f"{p['file']}: checksum mismatch (part damaged or missing): send it again")
EOF
cat bundle.tar.part-* | tar -x -C "$here"
"$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$prefix" "$here"/bundle/wheels/*.whl
cp -r "$here"/bundle/project/. "$prefix"/
echo "installed into $prefix; use it with:"
echo "  export PYTHONPATH=$prefix PATH=$prefix/bin:\$PATH"
"""
