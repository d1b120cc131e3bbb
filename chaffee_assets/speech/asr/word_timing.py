"""Word timestamps from cross-attention, batched (the method of openai-whisper's timing.py, written anew).

One teacher-forced decoder pass per batch feeds the clips' text tokens back; hooks on the alignment
heads' cross-attention layers recompute those heads' attention weights (SDPA returns none, and only a
few heads are needed). Per clip: weights standardised over tokens, a median filter of width 7 over
frames, the mean over heads, then dynamic time warping of tokens against encoder frames (20 ms each),
run for the whole batch at once along anti-diagonals. A word starts at the frame where DTW reaches its
first token and ends where it reaches the next word's first token.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

FRAMES_PER_S = 50  # encoder frames per second of audio
_APPEND = "\"'.。,，!！?？:：”)]}、"


@dataclass
class TimedWord:
    start: float  # seconds from the clip's start
    end: float
    word: str
    probability: float
    first_token: int  # index among the clip's text tokens


def group_words(tokenizer, text_tokens: list[int]) -> list[list[int]]:
    """Token indices per word: a token opening with a space opens a word; punctuation joins the word before."""
    words: list[list[int]] = []
    for i, token in enumerate(text_tokens):
        piece = tokenizer.decode([token])
        if words and (piece.strip() and all(ch in _APPEND for ch in piece.strip()) or not piece.startswith(" ")):
            words[-1].append(i)
        else:
            words.append([i])
    return words


def cross_attention(model, heads: list[tuple[int, int]], inputs: torch.Tensor, encoded: torch.Tensor):
    """(weights [batch, heads, tokens, frames] of the alignment heads, next-token logits) of one pass."""
    layers = model.model.decoder.layers
    captured: dict[int, torch.Tensor] = {}

    def hook(layer: int):
        def grab(module, args, kwargs):
            hidden = kwargs.get("hidden_states", args[0] if args else None)
            wanted = [h for l, h in heads if l == layer]
            n, d = module.num_heads, module.head_dim
            q = module.q_proj(hidden).view(*hidden.shape[:2], n, d)[:, :, wanted].transpose(1, 2)
            k = module.k_proj(kwargs["key_value_states"]).view(*encoded.shape[:2], n, d)[:, :, wanted].transpose(1, 2)
            captured[layer] = torch.softmax((q.float() @ k.float().transpose(-1, -2)) * d**-0.5, dim=-1)

        return grab

    hooks = [layers[l].encoder_attn.register_forward_pre_hook(hook(l), with_kwargs=True) for l in {l for l, _ in heads}]
    try:
        hidden = model.model.decoder(input_ids=inputs, encoder_hidden_states=encoded, use_cache=False).last_hidden_state
        logits = model.proj_out(hidden)
    finally:
        for h in hooks:
            h.remove()
    return torch.cat([captured[l] for l in sorted(captured)], dim=1), logits


def dtw(cost: torch.Tensor) -> np.ndarray:
    """Batched DTW over cost [batch, N, M]: the step taken into each cell (0 diagonal, 1 down in N,
    2 along M), [batch, N + 1, M + 1]. Cells depend only on smaller indices, so any clip's path from
    (n, m) back to (0, 0) ignores the padding beyond it."""
    batch, n, m = cost.shape
    acc = torch.full((batch, n + 1, m + 1), float("inf"), device=cost.device)
    acc[:, 0, 0] = 0
    trace = torch.zeros((batch, n + 1, m + 1), dtype=torch.uint8, device=cost.device)
    for d in range(2, n + m + 1):
        i = torch.arange(max(1, d - m), min(n, d - 1) + 1, device=cost.device)
        j = d - i
        best, step = torch.stack([acc[:, i - 1, j - 1], acc[:, i - 1, j], acc[:, i, j - 1]]).min(dim=0)
        acc[:, i, j] = cost[:, i - 1, j - 1] + best
        trace[:, i, j] = step.to(torch.uint8)
    trace = trace.cpu().numpy()
    trace[:, 0, :], trace[:, :, 0] = 2, 1
    return trace


def token_times(trace: np.ndarray, n: int, m: int) -> np.ndarray:
    """Seconds at which each of the n rows (tokens) first gets a frame on the path ending at (n, m)."""
    i, j, path = n, m, []
    while i > 0 or j > 0:
        path.append((i - 1, j - 1))
        step = trace[i, j]
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    rows, frames = np.array(path[::-1]).T
    first = np.concatenate([[True], np.diff(rows) == 1])
    return frames[first] / FRAMES_PER_S


def median_filter(x: torch.Tensor, width: int = 7) -> torch.Tensor:
    pad = width // 2
    padded = torch.nn.functional.pad(x.reshape(-1, 1, x.shape[-1]), (pad, pad), mode="reflect")
    return padded.unfold(-1, width, 1).median(dim=-1).values.reshape(x.shape)


def align(model, tokenizer, heads, encoded: torch.Tensor, prompt: tuple[int, ...], no_timestamps: int, eot: int,
          texts: list[list[int]], durations: list[float]) -> list[list[TimedWord]]:
    """Words with times for each clip of a batch. encoded [batch, frames, d]: the clips' encoder output;
    texts: each clip's text tokens (no timestamps); durations: seconds of audio in each clip."""
    if not any(texts):
        return [[] for _ in texts]
    lead = len(prompt) + 1
    width = lead + max(len(t) for t in texts) + 1
    inputs = torch.full((len(texts), width), eot, dtype=torch.long, device=encoded.device)
    for b, tokens in enumerate(texts):
        inputs[b, :lead] = torch.tensor([*prompt, no_timestamps])
        inputs[b, lead : lead + len(tokens)] = torch.tensor(tokens, dtype=torch.long)
    with torch.inference_mode():
        weights, logits = cross_attention(model, heads, inputs, encoded)
        probs = torch.softmax(logits.float(), dim=-1)[:, lead - 1 : -1].gather(2, inputs[:, lead:, None])[..., 0].cpu()
        rows = torch.arange(width - lead + 1, device=encoded.device)  # rows predicting text tokens then the end
        valid = (rows[None, :] <= torch.tensor([len(t) for t in texts], device=encoded.device)[:, None]).float()
        weights = weights[:, :, lead - 1 :].float() * valid[:, None, :, None]
        count = valid.sum(1).clamp(min=1)[:, None, None, None]
        mean = weights.sum(2, keepdim=True) / count
        std = (((weights - mean) ** 2 * valid[:, None, :, None]).sum(2, keepdim=True) / count).sqrt()
        matrix = median_filter((weights - mean) / (std + 1e-6)).mean(dim=1)
        trace = dtw(-matrix)
    out = []
    for b, tokens in enumerate(texts):
        frames = min(int(np.ceil(durations[b] * FRAMES_PER_S)), matrix.shape[-1])
        times = token_times(trace[b], len(tokens) + 1, frames) if tokens else np.zeros(1)
        words = group_words(tokenizer, tokens)
        bounds = [w[0] for w in words] + [len(tokens)]
        timed = [TimedWord(float(times[bounds[k]]), float(times[bounds[k + 1]]),
                           tokenizer.decode([tokens[i] for i in w]).strip(), float(probs[b, w].mean()), w[0])
                 for k, w in enumerate(words)]
        out.append(cap_sentence_ends(timed))
    return out


def cap_sentence_ends(words: list[TimedWord], longest_s: float = 0.7) -> list[TimedWord]:
    """DTW lets the pause after a sentence stick to its last word (or the pause before the next sentence
    to that one's first word): such a word longer than twice the median word (median at most longest_s)
    is cut to that length on the pause's side."""
    spans = np.array([w.end - w.start for w in words])
    if not (spans > 0).any():
        return words
    limit = 2 * min(float(np.median(spans[spans > 0])), longest_s)
    for i, w in enumerate(words):
        if w.end - w.start <= limit:
            continue
        if w.word.endswith((".", "?", "!")):
            w.end = w.start + limit
        elif i and words[i - 1].word.endswith((".", "?", "!")):
            w.start = w.end - limit
    return words
