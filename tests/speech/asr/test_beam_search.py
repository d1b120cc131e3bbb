"""The timestamp rules and the beam search of beam_search.py on a toy vocabulary (no model)."""

from __future__ import annotations

import math

import torch

from chaffee_assets.speech.asr.beam_search import BeamSearch, Vocab, rule_logprobs

# ids: 0-4 text, 5 end, 6 start, 7 no timestamps, 8 no speech, 9.. timestamps (0.00 s, 0.02 s, ...)
VOCAB = Vocab(eot=5, sot=6, no_timestamps=7, no_speech=8, timestamp_begin=9, size=9 + 100, suppress=(4, 6, 8),
              suppress_begin=(5,), prompt=(6,))
TEXT, T0 = 0, VOCAB.timestamp_begin


def allowed(generated: list[int], **logit: float) -> set[int]:
    """Tokens the rules leave open after `generated`; text tokens score 10 unless given (by id: t0=...)."""
    logits = torch.zeros(1, VOCAB.size)
    logits[0, :4] = 10.0
    for name, value in logit.items():
        logits[0, int(name[1:])] = value
    out = rule_logprobs(logits, torch.tensor([generated], dtype=torch.long), VOCAB, 1.0)
    return set(torch.nonzero(out[0] > -math.inf).flatten().tolist())


def test_timestamp_rules():
    assert allowed([]) == set(range(T0, T0 + 51))  # a timestamp of at most 1.00 s opens the clip
    assert allowed([T0 + 3]) == {0, 1, 2, 3, VOCAB.eot}  # after an opening timestamp: text (or the end)
    after_text = allowed([T0 + 3, TEXT + 1])
    assert {0, 1, 2, 3, VOCAB.eot, T0 + 4, T0 + 99} <= after_text  # text goes on, or a later timestamp closes
    assert T0 + 3 not in after_text and T0 + 2 not in after_text  # times never go back
    assert not {4, 6, 7, 8} & after_text  # suppressed tokens and <|notimestamps|>
    closing = allowed([T0 + 3, TEXT + 1, T0 + 20], t5=10.0)  # one timestamp after text: pair it or end
    assert closing == {VOCAB.eot} | set(range(T0 + 20, VOCAB.size))


def test_timestamps_forced_when_together_they_outweigh_the_best_text_token():
    assert TEXT not in allowed([T0, TEXT + 1], t0=3.0, t1=3.0, t2=3.0, t3=3.0)  # e^3 < 100 x e^0
    assert TEXT in allowed([T0, TEXT + 1], t0=6.0, t1=0.0, t2=0.0, t3=0.0)  # e^6 > 100 x e^0


def test_beam_search_keeps_the_likelier_sentence_per_clip():
    """Clip 0 says "0 1" and clip 1 says "2", each between timestamps; the second clip ends sooner and
    leaves the batch while the first goes on."""
    script = {0: [T0, 0, 1, T0 + 50, VOCAB.eot], 1: [T0, 2, T0 + 30, VOCAB.eot]}
    seen_rows = []

    def step(tokens, cache, rows, clips):
        cache = [list(c) for c in (cache or [[] for _ in range(tokens.shape[0])])]
        if rows is not None:
            cache = [list(cache[r]) for r in rows.tolist()]
        owners = cache_owner(cache, clips)
        cache = [c + tokens[i].tolist() for i, c in enumerate(cache)]
        seen_rows.append(len(cache))
        logits = torch.full((len(cache), VOCAB.size), -5.0)
        for i, history in enumerate(cache):
            wanted = script[owners[i]][len(history) - 1 :][:1]
            if wanted:
                logits[i, wanted[0]] = 5.0
        return logits, cache

    owner_state = {"clips": [0, 1]}

    def cache_owner(cache, clips):
        if clips is not None:
            owner_state["clips"] = [owner_state["clips"][c] for c in clips.tolist()]
        per = len(cache) // len(owner_state["clips"])
        return [owner_state["clips"][i // per] for i in range(len(cache))]

    decoded = BeamSearch(step, VOCAB, beam_size=2, penalty=1.0, max_tokens=20)(2, torch.device("cpu"))
    assert [d.tokens for d in decoded] == [script[0][:-1], script[1][:-1]]
    assert all(d.avg_logprob < 0 and 0 <= d.no_speech_prob <= 1 for d in decoded)
    assert seen_rows[0] == 4 and min(seen_rows) == 2  # 2 clips x 2 beams, then clip 1 left the batch


def _select_by_loop(k, scores, logprobs, generated, finished):
    """BeamSearch._select as it was written before it moved to tensor ops: a Python loop over each clip's
    2k best candidates."""
    size = logprobs.shape[1]
    total = (scores.reshape(-1, 1) + logprobs).reshape(len(finished), k * size)
    top_scores, top_index = total.topk(2 * k, dim=1)
    rows, tokens, new_scores = [], [], []
    for b, (cand_scores, cand_index) in enumerate(zip(top_scores.tolist(), top_index.tolist())):
        kept = []
        for score, index in zip(cand_scores, cand_index):
            beam, token = divmod(index, size)
            if score == -math.inf:
                break
            if token == VOCAB.eot:
                if len(finished[b]) < k:
                    finished[b].append((score, generated[b * k + beam].tolist()))
            elif len(kept) < k:
                kept.append((b * k + beam, token, score))
        kept += [(b * k, VOCAB.eot, -math.inf)] * (k - len(kept))
        for row, token, score in kept:
            rows.append(row)
            tokens.append(token)
            new_scores.append(score)
    return torch.tensor(rows), torch.tensor(tokens), torch.tensor(new_scores).reshape(-1, k)


def test_select_picks_what_the_python_loop_picked():
    """Random log-probabilities with a likely end token, dead beams, clips already (nearly) done and
    clips whose candidates run out: the same rows, tokens, scores and finished hypotheses."""
    generator = torch.Generator().manual_seed(3)
    for trial in range(40):
        k, clips = 1 + trial % 4, 1 + trial % 3
        logprobs = torch.log_softmax(torch.randn(clips * k, VOCAB.size, generator=generator) * 3, dim=-1)
        logprobs[:, VOCAB.eot] += 4.0  # ends among the best candidates
        if trial % 5 == 0:  # only token 0 or the end: fewer than k text candidates, dead rows fill in
            logprobs[:, 1 : VOCAB.eot] = logprobs[:, VOCAB.eot + 1 :] = -math.inf
        scores = torch.randn(clips, k, generator=generator)
        scores[:, 1:][torch.rand(clips, k - 1, generator=generator) < 0.3] = -math.inf  # dead beams
        generated = torch.randint(0, VOCAB.size, (clips * k, trial % 6), generator=generator)
        finished = [[(-1.0, [0])] * (trial % (k + 1)) for _ in range(clips)]
        expected_finished = [list(f) for f in finished]
        expected = _select_by_loop(k, scores, logprobs, generated, expected_finished)
        search = BeamSearch(None, VOCAB, beam_size=k, penalty=1.0, max_tokens=1)
        got = search._select(scores, logprobs, generated, finished)
        for mine, theirs in zip(got, expected):
            assert mine.dtype == theirs.dtype and torch.equal(mine, theirs), (trial, mine, theirs)
        assert finished == expected_finished, trial
