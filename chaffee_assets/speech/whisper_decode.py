"""Batched beam search for transformers' Whisper with timestamp tokens, as CTranslate2 and openai-whisper
decode: suppressed tokens, a blank-free first token, the timestamp rules (segments open and close with
timestamp tokens, times never go back, the first timestamp at most 1 s in, a timestamp is forced when the
timestamps together outweigh the best text token) and a repetition penalty. Beam scores rank by the
sum of log-probabilities over the token count (length penalty 1)."""

from __future__ import annotations

from dataclasses import dataclass

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


def rule_logprobs(logits: torch.Tensor, generated: torch.Tensor, vocab: Vocab, penalty: float) -> torch.Tensor:
    """Log-probabilities [rows, vocab] of the next token after `generated` [rows, steps] under the rules.
    Masks are written into views (the timestamp columns, the text columns) row by row, never as full
    [rows, vocab] boolean tensors: that took 17 ms of a 72 ms step at 15 rows on one CPU thread."""
    logits = logits.float().clone()
    steps, begin = generated.shape[1], vocab.timestamp_begin
    logits[:, list(vocab.suppress) + [vocab.no_timestamps]] = NEG
    if steps and penalty != 1.0:
        seen = logits.gather(1, generated)
        logits.scatter_(1, generated, torch.where(seen > 0, seen / penalty, seen * penalty))
    times, text = logits[:, begin:], logits[:, :begin]  # views
    if steps == 0:
        logits[:, list(vocab.suppress_begin)] = NEG
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
        Returns (source rows, tokens, scores [clips, k])."""
        k, size = self.k, logprobs.shape[1]
        total = (scores.reshape(-1, 1) + logprobs).reshape(len(finished), k * size)
        top_scores, top_index = total.topk(2 * k, dim=1)
        rows, tokens, new_scores = [], [], []
        for b, (cand_scores, cand_index) in enumerate(zip(top_scores.tolist(), top_index.tolist())):
            kept = []
            for score, index in zip(cand_scores, cand_index):
                beam, token = divmod(index, size)
                if score == NEG:
                    break
                if token == self.vocab.eot:
                    if len(finished[b]) < k:
                        finished[b].append((score, generated[b * k + beam].tolist()))
                elif len(kept) < k:
                    kept.append((b * k + beam, token, score))
            kept += [(b * k, self.vocab.eot, NEG)] * (k - len(kept))  # done or starved: dead rows
            for row, token, score in kept:
                rows.append(row)
                tokens.append(token)
                new_scores.append(score)
        device = logprobs.device
        return (torch.tensor(rows, device=device), torch.tensor(tokens, device=device),
                torch.tensor(new_scores, device=device).reshape(-1, k))

    @staticmethod
    def _best(candidates: list[tuple[float, list[int]]], no_speech: float) -> Decoded:
        if not candidates:
            return Decoded([], NEG, NEG, no_speech)
        score, tokens = max(candidates, key=lambda f: f[0] / max(len(f[1]), 1))
        return Decoded(tokens, score, score / (len(tokens) + 1), no_speech)
