"""One throttled `chaffee ingest` of a corpus through source_server, outside the bench (measured 2026-12-02;
the paths are that session's: corpus from synth_corpus.py --minutes 36 --seed 22, voices enrolled by the bench)."""
import json, sys
from pathlib import Path
from chaffee_assets.bench import harness
from chaffee_assets.bench.source_server import SourceServer, Conditions
from chaffee_assets.settings import get_settings
from chaffee_assets.speech import audio
from chaffee_assets.store import db
files = harness.corpus_files(Path('/tmp/dl/corpus22'))
durs = {f.name: audio.duration(f) for f in files}
work = Path(sys.argv[1])
try:
    with SourceServer(files, Conditions(rate_bps=131072, latency_s=0.2, first_byte_s=0.3), durations=durs) as srv:
        r = harness.pipeline(files, get_settings(), Path('/tmp/chaffee-bench-c37mtqxe/voices'), work, 'ctranslate2', feed=srv.url())
        r['server'] = srv.figures()
    r['audio_s'] = sum(durs.values()); r['x_realtime'] = r['audio_s'] / r['wall_s']
    print(json.dumps(r, default=str, indent=1))
finally:
    with harness.environment(CHAFFEE_HOME=work / "home"):
        db.stop_embedded(get_settings())
