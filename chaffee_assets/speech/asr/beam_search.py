"""Batched beam search for transformers' Whisper with timestamp tokens, as CTranslate2 and openai-whisper
decode: suppressed tokens, a blank-free first token, the timestamp rules (segments open and close with
timestamp tokens, times never go back, the first timestamp at most 1 s in, a timestamp is forced when the
timestamps together outweigh the best text token) and a repetition penalty. Beam scores rank by the
sum of log-probabilities over the token count (length penalty 1)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

NEG = float("-inf")


@dataclass(frozen=True)
class Vocab:
    """Token ids the decoding rules need (English-only and multilingual vocabularies differ)."""

    eot: int
    sot: int
    no_timestamps: int
    no_speech: int
    timestamp_begin: int
    size: int
    suppress: tuple[int, ...]
    suppress_begin: tuple[int, ...]
    prompt: tuple[int, ...]  # sot (+ language and task for multilingual models)

    @classmethod
    def of(cls, tokenizer, size: int, suppress: list[int], suppress_begin: list[int]) -> "Vocab":
        """From a tokenizers.Tokenizer of a Whisper checkpoint and the model's vocabulary size."""
        ids = {name: tokenizer.token_to_id(f"<|{name}|>") for name in
               ("endoftext", "startoftranscript", "notimestamps", "nocaptions", "nospeech", "en", "transcribe")}
        multilingual = size >= 51865
        prompt = (ids["startoftranscript"], ids["en"], ids["transcribe"]) if multilingual else (ids["startoftranscript"],)
        no_speech = ids["nospeech"] if ids["nospeech"] is not None else ids["nocaptions"]
        return cls(ids["endoftext"], ids["startoftranscript"], ids["notimestamps"], no_speech,
                   ids["notimestamps"] + 1, size, tuple(suppress), tuple(suppress_begin), prompt)


@dataclass
class Decoded:
    tokens: list[int]  # generated tokens with timestamps, without the prompt and the end token
    sum_logprob: float
    avg_logprob: float  # sum over (tokens + 1): the end token counts, as faster-whisper reports it
    no_speech_prob: float


@lru_cache(maxsize=16)
def _index(ids: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """Token ids as an index tensor on the device, made once: a list index is copied there on every use
    (on CUDA a copy that waits for the queued work)."""
    return torch.tensor(ids, dtype=torch.long, device=device)


def rule_logprobs(logits: torch.Tensor, generated: torch.Tensor, vocab: Vocab, penalty: float) -> torch.Tensor:
    """Log-probabilities [rows, vocab] of the next token after `generated` [rows, steps] under the rules.
    Masks are written into views (the timestamp columns, the text columns) row by row, never as full
    [rows, vocab] boolean tensors: that took 17 ms of a 72 ms step at 15 rows on one CPU thread."""
    logits = logits.float().clone()
    steps, begin = generated.shape[1], vocab.timestamp_begin
    logits[:, _index((*vocab.suppress, vocab.no_timestamps), logits.device)] = NEG
    if steps and penalty != 1.0:
        seen = logits.gather(1, generated)
        logits.scatter_(1, generated, torch.where(seen > 0, seen / penalty, seen * penalty))
    times, text = logits[:, begin:], logits[:, :begin]  # views
    if steps == 0:
        logits[:, _index(vocab.suppress_begin, logits.device)] = NEG
        text.fill_(NEG)  # open with a timestamp, at most 1.00 s in
        times[:, 51:] = NEG
    else:
        last_time = generated[:, -1] >= begin
        before_time = generated[:, -2] >= begin if steps > 1 else torch.ones_like(last_time)
        times.masked_fill_((last_time & before_time)[:, None], NEG)  # a pair: text must follow
        logits[:, : vocab.eot].masked_fill_((last_time & ~before_time)[:, None], NEG)  # one: close or end
        latest = torch.where(generated >= begin, generated - begin, -1).max(dim=1).values
        floor = torch.where(last_time & ~before_time, latest, latest + 1)  # times never go back
        times.masked_fill_(torch.arange(times.shape[1], device=logits.device)[None, :] < floor[:, None], NEG)
    logprobs = torch.log_softmax(logits, dim=-1)
    time_mass = torch.logsumexp(logprobs[:, begin:], dim=-1)
    text.masked_fill_((time_mass > logprobs[:, :begin].max(dim=-1).values)[:, None], NEG)
    return torch.log_softmax(logits, dim=-1)


class BeamSearch:
    """One batch of clips: B encoder outputs -> B Decoded, beam_size hypotheses each. A clip leaves the
    batch when it has beam_size finished hypotheses, so the batch shrinks to the clips still talking."""

    def __init__(self, step, vocab: Vocab, beam_size: int, penalty: float, max_tokens: int) -> None:
        """step(tokens [rows, n], cache or None, rows or None, clips or None) -> (logits [rows, vocab], cache):
        rows picks and orders the cache's beams, clips (when the batch shrinks) its clips."""
        self.step, self.vocab, self.k, self.penalty, self.max_tokens = step, vocab, beam_size, penalty, max_tokens

    def __call__(self, batch: int, device: torch.device) -> list[Decoded]:
        k, vocab = self.k, self.vocab
        prompt = torch.tensor([vocab.prompt] * (batch * k), device=device)
        logits, cache = self.step(prompt, None, None, None)
        no_speech = torch.softmax(logits.float(), dim=-1)[::k, vocab.no_speech].tolist()
        scores = torch.full((batch, k), NEG, device=device)
        scores[:, 0] = 0.0  # all beams start identical: only the first one expands
        generated = torch.zeros((batch * k, 0), dtype=torch.long, device=device)
        finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch)]
        active, live = list(range(batch)), {}
        for _ in range(self.max_tokens):
            logprobs = rule_logprobs(logits, generated, vocab, self.penalty)
            rows, tokens, scores = self._select(scores, logprobs, generated, [finished[c] for c in active])
            generated = torch.cat([generated[rows], tokens[:, None]], dim=1)
            still = [i for i, c in enumerate(active) if len(finished[c]) < k]
            if not still:
                break
            clips = None
            if len(still) < len(active):
                beams = torch.tensor([i * k + j for i in still for j in range(k)], device=device)
                rows, tokens, generated, scores = rows[beams], tokens[beams], generated[beams], scores[still]
                clips, active = torch.tensor(still, device=device), [active[i] for i in still]
            logits, cache = self.step(tokens[:, None], cache, rows, clips)
        for i, c in enumerate(active):  # out of length: the live beams compete
            live[c] = [(s, generated[i * k + j].tolist()) for j, s in enumerate(scores[i].tolist()) if s > NEG]
        return [self._best(finished[b] or live.get(b, []), no_speech[b]) for b in range(batch)]

    def _select(self, scores, logprobs, generated, finished):
        """The next beams: per clip the k best continuations that do not end; ending ones are kept aside.
        Returns (source rows, tokens, scores [clips, k]). The next beams are picked on the device; the host
        reads back one small tensor per step (the ending candidates, for `finished`) and, in a step where
        some end, their tokens: on CUDA each read waits for the queued work."""
        k, size, eot = self.k, logprobs.shape[1], self.vocab.eot
        clips, device = len(finished), logprobs.device
        total = (scores.reshape(-1, 1) + logprobs).reshape(clips, k * size)
        top_scores, top_index = total.topk(2 * k, dim=1)  # sorted: the -inf ones (none left) come last
        first_row = torch.arange(clips, device=device)[:, None] * k
        beams, tokens = top_index // size, top_index % size
        valid = top_scores > NEG
        ends = valid & (tokens == eot)
        text = valid & ~ends
        rank = text.cumsum(dim=1) - 1
        slot = torch.where(text & (rank < k), rank, k)  # the k best text candidates in order; column k: the rest
        picked = [torch.full((clips, k + 1), fill, dtype=source.dtype, device=device).scatter_(1, slot, source)[:, :k]
                  for fill, source in ((0, beams), (eot, tokens), (NEG, top_scores))]
        picked[0] += first_row  # done or starved clips: dead rows (the clip's first row, the end token, -inf)
        self._finish(torch.where(ends, top_scores, NEG), first_row + beams, generated, finished)
        return picked[0].flatten(), picked[1].flatten(), picked[2]

    def _finish(self, end_scores, rows, generated, finished) -> None:
        """Each clip keeps its ending candidates, best first, until it has k (end_scores: -inf where a
        candidate does not end). float64 holds both the float32 scores and the row numbers exactly."""
        ending = []
        for b, candidates in enumerate(torch.stack([end_scores.double(), rows.double()], dim=-1).tolist()):
            room = self.k - len(finished[b])
            for score, row in candidates:
                if score > NEG and room > 0:
                    ending.append((b, score, int(row)))
                    room -= 1
        if ending:
            histories = generated[torch.tensor([row for _, _, row in ending], device=generated.device)].tolist()
            for (b, score, _), history in zip(ending, histories):
                finished[b].append((score, history))

    @staticmethod
    def _best(candidates: list[tuple[float, list[int]]], no_speech: float) -> Decoded:
        if not candidates:
            return Decoded([], NEG, NEG, no_speech)
        score, tokens = max(candidates, key=lambda f: f[0] / max(len(f[1]), 1))
        return Decoded(tokens, score, score / (len(tokens) + 1), no_speech)
