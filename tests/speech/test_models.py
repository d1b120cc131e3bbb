import subprocess
import sys

import dagster as dg

from chaffee_assets.defs.executors import process_tags, runs_here

WARM_UP = """
import threading
from chaffee_assets.settings import get_settings
from chaffee_assets.speech import models
s = get_settings()
thread = models.warm_up(s)
assert thread is not None and thread.name == "model-warm-up" and thread is not threading.current_thread()
assert models.warm_up(s) is None  # once per process
thread.join(300)
# loaded by the thread: the steps' calls are cache hits
assert models._voice_encoder.cache_info().currsize == 1 and models._text_embedder.cache_info().currsize == 1
before = (models._voice_encoder.cache_info().misses, models._text_embedder.cache_info().misses)
assert models.voice_encoder(s) is models.voice_encoder(s)
models.text_embedder(s)
assert (models._voice_encoder.cache_info().misses, models._text_embedder.cache_info().misses) == before
print("ok")
"""


def test_warm_up_loads_the_later_models_once_on_a_thread():
    done = subprocess.run([sys.executable, "-c", WARM_UP], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_only_runs_of_this_process_share_its_models():
    here = dg.DagsterRun(job_name="ingest", tags=process_tags())
    other = dg.DagsterRun(job_name="ingest", tags={**process_tags(), "chaffee/pid": "1"})
    launched = dg.DagsterRun(job_name="ingest")  # by the daemon or the UI: steps in their own processes
    assert runs_here(here) and not runs_here(other) and not runs_here(launched)
