"""The attention the torch backend's decoder uses, registered with transformers under BEAM_SDPA: beams of
one clip share its cross-attention keys and values. decoder_step.py calls it directly."""

from __future__ import annotations

BEAM_SDPA = "chaffee_beam_sdpa"


def beam_sdpa(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
              **kwargs):
    """transformers' SDPA attention, except that a key/value batch smaller than the query batch is one
    entry per clip shared by its query rows (beams): the clip's beams go in as one longer query."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if key.shape[0] == query.shape[0]:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    clips, (rows, heads, length, dim) = key.shape[0], query.shape
    beams = rows // clips
    grouped = query.view(clips, beams, heads, length, dim).transpose(1, 2).reshape(clips, heads, beams * length, dim)
    out = torch.nn.functional.scaled_dot_product_attention(grouped, key, value, scale=scaling)
    out = out.view(clips, heads, beams, length, dim).permute(0, 2, 3, 1, 4).reshape(rows, length, heads, dim)
    return out, None


def register_attention() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(BEAM_SDPA, beam_sdpa)
