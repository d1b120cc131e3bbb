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

# `chaffee ingest` splits the chain in two so downloads run ahead of the models: `download` runs in a
# process of their own, `process` runs in ingest's process (models stay loaded) over videos that landed.
download_job = dg.define_asset_job(
    "download",
    selection=dg.AssetSelection.assets("raw_audio"),
    partitions_def=videos,
    description="raw_audio alone for a range of videos: CHAFFEE_DOWNLOAD_WORKERS downloads at once.",
)
process_job = dg.define_asset_job(
    "process",
    selection=dg.AssetSelection.groups("speech") - dg.AssetSelection.assets("raw_audio"),
    partitions_def=videos,
    description="transcripts -> diarization -> speaker_labels -> embeddings for a range of downloaded videos.",
)
