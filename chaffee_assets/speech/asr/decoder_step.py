"""A Whisper decoder step over preallocated key/value buffers, for BeamSearch (beam_search.py).

transformers' decoder forward with a DynamicCache grows each layer's self-attention keys and values by
torch.cat every step and rebuilds a causal mask and position ids in Python: on an H100 (random weights,
large-v3-turbo, batch 64) 100 such steps took 0.44 s, a step over preallocated buffers of the same shapes
0.128 s. Here the self-attention keys and values of all layers live in one buffer of [layers, 2, rows, heads,
max_len, head_dim], written in place at the current position; attention reads the filled prefix. Beams
reorder, and finished clips leave, by one index_select of the filled prefix copied back into the leading
rows of the same buffer (rows past the live count are left stale and never read). Shrinking so, rather than
keeping finished clips' rows and masking them, keeps the step's work to the live rows and needs no mask.
The cross-attention keys and values are computed once per clip and shared by its beams
(attention.beam_sdpa), as in the dynamic path.

The step calls the decoder layers' submodules in the order transformers' WhisperDecoderLayer does (pre-norm
self-attention, cross-attention, then fc1/fc2), with the same query scaling before the projection's view,
so on float32 CPU it gives the dynamic path's tokens exactly (tests/speech/asr/test_decoder_step.py)."""

from __future__ import annotations

import torch
from torch.nn.functional import scaled_dot_product_attention as sdpa

from chaffee_assets.speech.asr.attention import beam_sdpa


class StaticKV:
    """Self-attention keys/values of every decoder layer in one fixed buffer, plus the per-clip cross keys/values.

    Attributes:
        buffer: [layers, 2 (keys, values), capacity rows, heads, max_len, head_dim]; rows [:rows] and
            positions [:length] are live. One buffer, so a reorder is one index_select and one copy for all
            layers (on CUDA 2 launches, not 4 per layer).
        cross_keys, cross_values: per layer, [capacity clips, heads, frames, head_dim]; clips [:clips] live.
        rows, clips: live row (beam) and clip counts; rows shrink with clips, never grow.
        length: positions filled so far (the prompt, then one per step).
    """

    def __init__(self, layers: int, rows: int, heads: int, max_len: int, head_dim: int, cross: list, *,
                 dtype: torch.dtype, device: torch.device) -> None:
        """cross: per layer a (keys, values) pair of [clips, heads, frames, head_dim]."""
        self.buffer = torch.empty((layers, 2, rows, heads, max_len, head_dim), dtype=dtype, device=device)
        self.cross_keys = [k for k, _ in cross]
        self.cross_values = [v for _, v in cross]
        self.rows, self.clips, self.length, self.max_len = rows, cross[0][0].shape[0], 0, max_len

    def write(self, layer: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Put the new positions' keys/values [rows, heads, n, head_dim] at `length`; returns the layer's
        keys/values over the filled prefix including them (views into the buffer, no copy)."""
        end = self.length + keys.shape[2]
        if end > self.max_len:
            raise ValueError(f"decoder cache holds {self.max_len} positions; asked for {end}")
        here = self.buffer[layer, :, : self.rows]
        here[0, :, :, self.length : end].copy_(keys)
        here[1, :, :, self.length : end].copy_(values)
        return here[0, :, :, :end], here[1, :, :, :end]

    def advance(self, n: int) -> None:
        self.length += n

    def reorder(self, rows: torch.Tensor) -> None:
        """Row i of the live rows becomes old row rows[i]; fewer indices than live rows shrink the batch."""
        live = self.buffer[:, :, : self.rows, :, : self.length]
        self.buffer[:, :, : rows.shape[0], :, : self.length].copy_(live.index_select(2, rows))
        self.rows = rows.shape[0]

    def keep_clips(self, clips: torch.Tensor) -> None:
        """Only the clips `clips` (indices of the live ones, in order) stay."""
        for buffers in (self.cross_keys, self.cross_values):
            for buffer in buffers:
                buffer[: clips.shape[0]].copy_(buffer[: self.clips].index_select(0, clips))
        self.clips = clips.shape[0]

    def cross(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cross_keys[layer][: self.clips], self.cross_values[layer][: self.clips]


def static_stepper(model, encoded: torch.Tensor, max_len: int):
    """BeamSearch's step over a StaticKV for a transformers WhisperForConditionalGeneration and its encoder
    output [clips, frames, d_model]: step(tokens [rows, n], cache or None, rows or None, clips or None) ->
    (logits [rows, vocab], cache). max_len: the most positions a row decodes (prompt + tokens)."""
    decoder, project = model.model.decoder, model.proj_out
    layers = decoder.layers
    heads, head_dim = layers[0].self_attn.num_heads, layers[0].self_attn.head_dim

    def new_cache(rows: int) -> StaticKV:
        cross = []
        for layer in layers:
            attn, shape = layer.encoder_attn, (encoded.shape[0], -1, heads, head_dim)
            cross.append((attn.k_proj(encoded).view(shape).transpose(1, 2).contiguous(),
                          attn.v_proj(encoded).view(shape).transpose(1, 2).contiguous()))
        return StaticKV(len(layers), rows, heads, max_len, head_dim, cross, dtype=encoded.dtype,
                        device=encoded.device)

    def step(tokens: torch.Tensor, cache: StaticKV | None, rows, clips):
        if cache is None:
            cache = new_cache(tokens.shape[0])
        if rows is not None:
            cache.reorder(rows)
        if clips is not None:
            cache.keep_clips(clips)
        positions = decoder.embed_positions.weight[cache.length : cache.length + tokens.shape[1]]
        hidden = decoder.embed_tokens(tokens) + positions
        for i, layer in enumerate(layers):
            hidden = _layer(layer, hidden, cache, i)
        cache.advance(tokens.shape[1])
        return project(decoder.layer_norm(hidden[:, -1])), cache

    return step


def _layer(layer, hidden: torch.Tensor, cache: StaticKV, index: int) -> torch.Tensor:
    """One WhisperDecoderLayer (eval mode: no dropout) on hidden [rows, n, d_model]."""
    rows, n, width = hidden.shape
    attn = layer.self_attn
    split = (rows, n, attn.num_heads, attn.head_dim)

    normed = layer.self_attn_layer_norm(hidden)
    query = (attn.q_proj(normed) * attn.scaling).view(split).transpose(1, 2).contiguous()
    keys, values = cache.write(index, attn.k_proj(normed).view(split).transpose(1, 2),
                               attn.v_proj(normed).view(split).transpose(1, 2))
    past = cache.length
    if n == 1 or past == 0:  # one new position sees all; a prompt from empty is plain causal
        out = sdpa(query, keys, values, is_causal=n > 1, scale=1.0)
    else:  # several new positions after cached ones: each sees the past and itself
        where = torch.arange(past + n, device=hidden.device)
        seen = where[None, :] <= where[past:, None]
        out = sdpa(query, keys, values, attn_mask=seen, scale=1.0)
    hidden = hidden + attn.out_proj(out.transpose(1, 2).reshape(rows, n, width))

    cross = layer.encoder_attn
    normed = layer.encoder_attn_layer_norm(hidden)
    query = (cross.q_proj(normed) * cross.scaling).view(split).transpose(1, 2).contiguous()
    out, _ = beam_sdpa(cross, query, *cache.cross(index), None, scaling=1.0)
    hidden = hidden + cross.out_proj(out.reshape(rows, n, width))

    normed = layer.final_layer_norm(hidden)
    return hidden + layer.fc2(layer.activation_fn(layer.fc1(normed)))
