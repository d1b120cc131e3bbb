import dagster as dg

from chaffee_assets.defs.assets.diarization import diarization
from chaffee_assets.defs.assets.embeddings import embeddings
from chaffee_assets.defs.assets.raw_audio import raw_audio
from chaffee_assets.defs.assets.speaker_labels import speaker_labels
from chaffee_assets.defs.assets.transcripts import transcripts
from chaffee_assets.defs.checks import segment_quality, stored_segments, throughput
from chaffee_assets.defs.jobs import download_job, ingest_job, process_job
from chaffee_assets.defs.resources import Platform
from chaffee_assets.defs.sensors import new_uploads

defs = dg.Definitions(
    assets=[raw_audio, transcripts, diarization, speaker_labels, embeddings],
    asset_checks=[segment_quality, stored_segments, throughput],
    jobs=[ingest_job, download_job, process_job],
    sensors=[new_uploads],
    resources={"platform": Platform()},
)
