#!/usr/bin/env bash
# Debian packages the project uses. The in-process runtime needs none (PyAV decodes, the Postgres server
# ships in a wheel, yt-dlp gets ffmpeg from imageio-ffmpeg). redis-server is the celery broker of
# `make cluster-demo` and its test (started on 127.0.0.1 by the project, never as a system service);
# espeak-ng regenerates the synthetic speech corpora; chromium runs the browser test of the Dagster UI
# (tests/ui, driven by Playwright from the dev extra).
set -euo pipefail
need=()
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "note: ${need[*]} not installed (needs root + apt-get); espeak-ng only regenerates corpora," \
       "chromium only runs the UI browser test (tests/ui, skipped without it)," \
       "redis-server only the celery cluster (make cluster-demo, tests/defs/test_cluster.py)" >&2
fi
