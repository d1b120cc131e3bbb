"""Throughput benchmark: ASR-only ceiling, the old per-video design, and the Dagster pipeline."""
