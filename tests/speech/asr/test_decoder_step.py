"""The static decoder cache of decoder_step.py: its buffers against plain tensors, and the torch backend's
tokens with it against transformers' DynamicCache on the bundled tiny.en (1 CPU thread, as test_torch_backend)."""

from __future__ import annotations

import pytest
import torch

from chaffee_assets.speech import audio
from chaffee_assets.speech.asr.decoder_step import StaticKV
from tests.conftest import DEMO_AUDIO, SAMPLE

pytestmark = pytest.mark.usefixtures("torch_threads_restored")


def test_static_kv_reorders_and_shrinks_like_concatenated_tensors():
    """Positions written one step at a time, beams reordered (one row copied twice), then a clip leaving
    (6 rows -> 4, 3 clips -> 2): the live views equal torch.cat of the same steps indexed the same way."""
    torch.manual_seed(0)
    layers, heads, dim, frames = 2, 3, 4, 5
    cross = [(torch.randn(3, heads, frames, dim), torch.randn(3, heads, frames, dim)) for _ in range(layers)]
    cache = StaticKV(layers, 6, heads, 8, dim, [(k.clone(), v.clone()) for k, v in cross],
                     dtype=torch.float32, device=torch.device("cpu"))
    reference = [(torch.zeros(6, heads, 0, dim), torch.zeros(6, heads, 0, dim)) for _ in range(layers)]
    plan = [(2, None, None), (1, torch.tensor([1, 1, 0, 3, 5, 4]), None),
            (1, torch.tensor([0, 2, 5, 4]), torch.tensor([0, 2])), (1, torch.tensor([3, 2, 1, 0]), None)]
    clips = torch.arange(3)
    for n, rows, keep in plan:
        if rows is not None:
            cache.reorder(rows)
            reference = [(k[rows], v[rows]) for k, v in reference]
        if keep is not None:
            cache.keep_clips(keep)
            clips = clips[keep]
        for layer in range(layers):
            new_k, new_v = torch.randn(cache.rows, heads, n, dim), torch.randn(cache.rows, heads, n, dim)
            keys, values = cache.write(layer, new_k, new_v)
            k, v = reference[layer]
            reference[layer] = (torch.cat([k, new_k], 2), torch.cat([v, new_v], 2))
            assert torch.equal(keys, reference[layer][0]) and torch.equal(values, reference[layer][1])
            assert [t.shape[0] for t in cache.cross(layer)] == [len(clips)] * 2
            assert torch.equal(cache.cross(layer)[0], cross[layer][0][clips])
            assert torch.equal(cache.cross(layer)[1], cross[layer][1][clips])
        cache.advance(n)
    assert (cache.rows, cache.clips, cache.length) == (4, 2, 5)
    with pytest.raises(ValueError, match="holds 8 positions"):
        cache.write(0, torch.randn(4, heads, 4, dim), torch.randn(4, heads, 4, dim))


def test_unknown_kv_cache_names_the_setting(monkeypatch):
    from chaffee_assets.settings import Settings
    from chaffee_assets.speech.asr.torch_backend import TorchTranscriber

    with pytest.raises(ValueError, match="CHAFFEE_TORCH_KV_CACHE='paged'"):
        TorchTranscriber(kv_cache="paged")
    monkeypatch.delenv("CHAFFEE_TORCH_KV_CACHE", raising=False)
    assert Settings().torch_kv_cache == "static"
    monkeypatch.setenv("CHAFFEE_TORCH_KV_CACHE", "dynamic")
    assert Settings().torch_kv_cache == "dynamic"


def test_static_step_gives_the_dynamic_steps_logits(torch_model):
    """The same prompt, then forced tokens with beam reorders and a clip leaving: the same logits each step."""
    pieces = [audio.load(SAMPLE / "sample.wav")[: 16000 * s] for s in (3, 5)]
    with torch.inference_mode():
        encoded = torch_model.model.model.encoder(torch_model.mel(pieces)).last_hidden_state
        steps = {}
        for kind in ("dynamic", "static"):
            torch_model.kv_cache = kind
            step = torch_model._stepper(encoded)
            prompt = torch.tensor([torch_model.vocab.prompt] * 4)  # 2 clips x 2 beams
            logits, cache = step(prompt, None, None, None)
            out = [logits]
            for tokens, rows, clips in [([50364, 50364, 50365, 50366], [0, 0, 2, 3], None),
                                        ([314, 921, 50365, 50366], [1, 0, 3, 2], None),
                                        ([11, 0], [2, 3], [1])]:
                logits, cache = step(torch.tensor(tokens)[:, None], cache, torch.tensor(rows),
                                     None if clips is None else torch.tensor(clips))
                out.append(logits)
            steps[kind] = out
    torch_model.kv_cache = "static"
    assert [s.shape[0] for s in steps["static"]] == [4, 4, 4, 2]
    for dynamic, static in zip(steps["dynamic"], steps["static"]):
        assert torch.equal(dynamic, static), (dynamic - static).abs().max()  # float32 CPU: bit for bit


def test_static_step_takes_several_tokens_after_cached_ones(torch_model):
    """Two tokens in one step after the prompt (BeamSearch never does this; the step's contract allows it)
    against the model's forward over the whole sequence without a cache. The dynamic path (transformers'
    decoder forward over a DynamicCache, with beam_sdpa) got this case wrong on 2026-11-26, logits off by up
    to 30; not looked into, as BeamSearch never does it."""
    pieces = [audio.load(SAMPLE / "sample.wav")[: 16000 * 3]]
    sequence = [*torch_model.vocab.prompt, 50364, 314]
    with torch.inference_mode():
        encoded = torch_model.model.model.encoder(torch_model.mel(pieces)).last_hidden_state
        step = torch_model._stepper(encoded)
        _, cache = step(torch.tensor([torch_model.vocab.prompt] * 2), None, None, None)
        logits, _ = step(torch.tensor([sequence[-2:]] * 2), cache, None, None)
        whole = torch_model.model(encoder_outputs=(encoded.repeat(2, 1, 1),),
                                  decoder_input_ids=torch.tensor([sequence] * 2)).logits[:, -1]
    assert torch.allclose(logits, whole, atol=1e-3, rtol=0), (logits - whole).abs().max()


def test_static_and_dynamic_caches_transcribe_the_same(torch_model, monkeypatch):
    """A demo file end to end: the same segments (text, times, log-probs, words). Its 3 clips go in one
    batch and end at different steps (the batch shrinks twice); beams reorder, as the recorded calls show."""
    wav = audio.load(DEMO_AUDIO / "monologue-02.flac")
    transcripts, calls = {}, {}
    stepper = type(torch_model)._stepper

    def recorded(self, encoded):
        step = stepper(self, encoded)

        def record(tokens, cache, rows, clips):
            calls[self.kv_cache].append((rows, clips))
            return step(tokens, cache, rows, clips)

        return record

    monkeypatch.setattr(type(torch_model), "_stepper", recorded)
    for kind in ("dynamic", "static"):
        torch_model.kv_cache, calls[kind] = kind, []
        transcripts[kind] = torch_model.transcribe(wav)
    torch_model.kv_cache = "static"
    assert transcripts["static"].segments == transcripts["dynamic"].segments
    assert len(transcripts["static"].segments) > 5
    recorded_calls = calls["static"]
    assert sum(clips is not None for _, clips in recorded_calls) >= 2  # clips left the batch
    assert any(rows is not None and not torch.equal(rows, torch.arange(len(rows))) for rows, _ in recorded_calls)
