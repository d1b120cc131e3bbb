#!/usr/bin/env bash
# The GPU measurement, on a lent device machine that has CUDA torch but none of this project's other
# packages and no network. Each device call carries at most 64 MiB, so the offline bundle (`make bundle`,
# 6 parts of 60 MiB) travels in back-to-back calls and is kept outside the checkout while the machine is warm:
#   bash scripts/gpu_session.sh receive build/bundle/bundle.tar.part-00      (carry that part; one call each)
#   bash scripts/gpu_session.sh run checks                                   (carry build/bundle/manifest.json,
#   bash scripts/gpu_session.sh run bench                                     build/bundle/install.sh, bench/corpus)
# `run` installs the bundle once into $PREFIX, then writes to $OUT. `run checks`: nvidia-smi, the CUDA tests,
# the decoder step (static vs dynamic KV cache; tiny.en, and large-v3-turbo with RANDOM weights, throughput
# only). `run bench`: `chaffee bench --no-naive` with the torch backend on bench/corpus tiled to $HOURS hours.
# The device allows 600 s per call and 15 min per session, start-up and transfers included: each call stops
# its steps by CALL_S (540) seconds after it started, whatever their own limits, and `run` alone (both
# stages in one call) is for CPU checks only.
# On a CPU box, `PREFIX=none CHAFFEE_DEVICE=cpu HOURS=0.5 bash scripts/gpu_session.sh run` runs the same
# steps from the checkout's .venv (the check that this script works before a GPU session spends time on it).
set -euo pipefail
cd "$(dirname "$0")/.."
send=${SEND:-/tmp/chaffee-send}
prefix=${PREFIX:-/tmp/chaffee}
out=${OUT:-/tmp/chaffee-out}
hours=${HOURS:-1}
call_s=${CALL_S:-540}

case "${1:-}" in
receive)
    shift
    mkdir -p "$send"
    cp "$@" "$send/"
    ls -l "$send"
    ;;
run)
    stage=${2:-all}
    mkdir -p "$out"
    if [ "$prefix" = none ]; then
        export PATH="$PWD/.venv/bin:$PATH"
    else
        if [ ! -e "$prefix/.installed" ]; then
            cp build/bundle/manifest.json build/bundle/install.sh "$send/"
            PYTHON=${PYTHON:-python} bash "$send/install.sh" "$prefix" > "$out/install.log" 2>&1
            touch "$prefix/.installed"
        fi
        export PATH="$prefix/bin:$PATH"
    fi
    # the checkout first, so the code measured is this commit's even where the bundle's wheel is older
    export PYTHONPATH="$PWD$([ "$prefix" = none ] || echo ":$prefix")" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    export CHAFFEE_HOME=${CHAFFEE_HOME:-/tmp/chaffee-home}
    export CHAFFEE_DEVICE=${CHAFFEE_DEVICE:-cuda} CHAFFEE_ASR_BACKEND=torch
    cores=$(nproc)
    export CHAFFEE_PREP_WORKERS=${CHAFFEE_PREP_WORKERS:-$(( cores > 1 ? cores - 1 : 1 ))}
    export CHAFFEE_ASR_BATCH_SIZE=${CHAFFEE_ASR_BATCH_SIZE:-64} CHAFFEE_EMBED_BATCH_SIZE=${CHAFFEE_EMBED_BATCH_SIZE:-1024}
    export CHAFFEE_VIDEOS_PER_RUN=${CHAFFEE_VIDEOS_PER_RUN:-256} CHAFFEE_AUDIO_H_PER_RUN=${CHAFFEE_AUDIO_H_PER_RUN:-8}
    (nvidia-smi || echo "no nvidia-smi") > "$out/nvidia-smi.txt" 2>&1
    python -c 'import torch, sys; print(torch.__version__, torch.cuda.is_available(), sys.version)' > "$out/torch.txt" 2>&1

    steps=()
    run_step() {  # name, seconds, command...: one step's failure never stops the others
        local name=$1 limit=$2; shift 2
        local started=$SECONDS left=$(( call_s - SECONDS ))
        (( limit > left )) && limit=$left
        if (( limit < 20 )); then steps+=("$name NOT RUN (the call's ${call_s}s are spent)"); return; fi
        if timeout "$limit" "$@" > "$out/$name.txt" 2>&1; then steps+=("$name ok $(( SECONDS - started ))s");
        else steps+=("$name FAILED($?) $(( SECONDS - started ))s of ${limit}s"); fi
    }
    if [ "$stage" != bench ]; then  # about 330 s
        run_step cuda-tests 150 python -m pytest -q -x tests/speech/asr/test_torch_backend.py -k cuda -p no:cacheprovider
        run_step decoder-step-tiny 60 python bench/decoder_step.py --device "$CHAFFEE_DEVICE" --model bundled \
            --batch 64 --beams 1 --steps 100 --repeats 3
        run_step decoder-step-turbo 120 python bench/decoder_step.py --device "$CHAFFEE_DEVICE" --model large-v3-turbo \
            --batch 64 --beams 1 --steps 100 --repeats 3
    fi
    if [ "$stage" != checks ]; then
        # tiled corpus: copies of bench/corpus/audio under new names (links), up to $hours of audio
        tiled=/tmp/chaffee-corpus-tiled
        rm -rf "$tiled" && mkdir -p "$tiled/audio"
        [ -d bench/corpus/enroll ] && ln -s "$PWD/bench/corpus/enroll" "$tiled/enroll"
        python - "$tiled" "$hours" <<'EOF'
import sys
from pathlib import Path
import soundfile as sf
tiled, hours = Path(sys.argv[1]), float(sys.argv[2])
files = sorted(Path("bench/corpus/audio").glob("*.flac"))
if not files:
    sys.exit("no bench/corpus/audio/*.flac: run `make bench/corpus/audio` here and carry bench/corpus")
total, copy = 0.0, 0
while total < hours * 3600:
    for f in files:
        (tiled / "audio" / f"{f.stem}-r{copy:02d}{f.suffix}").symlink_to(f.resolve())
        total += sf.info(str(f)).duration
    copy += 1
print(f"tiled corpus: {copy} copies of {len(files)} files, {total / 3600:.2f} h")
EOF
        run_step bench 480 chaffee bench --corpus "$tiled" --json "$out/report.json" --no-naive
    fi
    printf '%s\n' "${steps[@]}" | tee "$out/steps.txt"
    ;;
*)
    echo "usage: $0 receive PART... | run" >&2
    exit 2
    ;;
esac
