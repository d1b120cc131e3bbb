import dagster as dg

from chaffee_assets.defs.executors import executor_def
from chaffee_assets.defs.partitions import videos
from chaffee_assets.settings import get_settings

# The whole chain for a range of video partitions; `chaffee ingest` and backfills run this.
ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups("speech"),
    partitions_def=videos,
    description="raw_audio -> transcripts -> diarization -> speaker_labels -> embeddings for a range of videos.",
    executor_def=executor_def(get_settings()),  # CHAFFEE_EXECUTOR: in process (default), celery or k8s
)
