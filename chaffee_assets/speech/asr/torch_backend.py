"""The PyTorch Whisper backend: transformers' Whisper model classes (SDPA attention), fp32 on CPU and
bf16/fp16 on CUDA, our own batched beam search with timestamp tokens (beam_search.py) and word times
from the alignment heads (word_timing.py). Same clips, windows and guards as the faster-whisper backend."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from chaffee_assets.speech.asr.attention import BEAM_SDPA, register_attention
from chaffee_assets.speech.asr.windowed import WindowedTranscriber
from chaffee_assets.speech.audio import SAMPLE_RATE
from chaffee_assets.speech.records import Segment, Word

MAX_TOKENS = 224  # per 30 s clip, as openai-whisper samples; a longer run is a loop the guards drop anyway


@contextmanager
def _quiet():
    """No per-tensor progress bar on stderr while the model loads."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()




# faster-whisper's short model names -> the transformers checkpoints of the same weights on the hub
HUB_NAMES = {name: f"openai/whisper-{name}" for name in (
    "tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en", "large-v1", "large-v2",
    "large-v3", "large-v3-turbo")} | {"turbo": "openai/whisper-large-v3-turbo"} | {
    name: f"distil-whisper/{name}" for name in ("distil-large-v2", "distil-large-v3", "distil-medium.en",
                                                "distil-small.en")}


def checkpoint(model: str, cache_root: str | os.PathLike) -> str:
    """Where transformers loads `model` from: 'bundled' and any CTranslate2 model folder are converted
    once under cache_root; a transformers folder or a hub id is used as it is, and faster-whisper's short
    names (large-v3, distil-large-v3, ...) become the hub ids of the same weights."""
    from chaffee_assets.speech.asr.backends import resolve_model
    from chaffee_assets.speech.asr.ct2_convert import converted

    path = Path(resolve_model(model))
    if _is_ct2(path):
        return str(converted(path, cache_root))
    return str(path) if path.exists() else HUB_NAMES.get(model, model)


def _is_ct2(path: Path) -> bool:
    """A CTranslate2 folder: a model.bin whose config.json (if any) is not a transformers config."""
    if not (path / "model.bin").exists():
        return False
    config = path / "config.json"
    return not config.exists() or "model_type" not in json.loads(config.read_text())


def torch_dtype(name: str, device: str):
    """'auto': float32 on CPU; bfloat16 on CUDA where supported, else float16."""
    import torch

    if name == "auto":
        if not device.startswith("cuda"):
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if name not in ("float32", "float16", "bfloat16"):
        raise ValueError(f"CHAFFEE_TORCH_DTYPE={name!r}: use auto, float32, float16 or bfloat16")
    return getattr(torch, name)


class TorchTranscriber(WindowedTranscriber):
    backend = "torch"

    def __init__(self, model: str = "bundled", *, device: str = "cpu", dtype: str = "auto",
                 cache_root: str | os.PathLike = ".chaffee/models", cpu_threads: int = 0, kv_cache: str = "static",
                 **options: Any) -> None:
        """cpu_threads > 0 sets torch's (process-wide) intra-op threads: on a CPU shared with other work, 2
        OpenMP threads on 2 busy cores ran sample.wav 8x slower than 1 thread (81 s against 9.9 s).
        kv_cache: the decoder's self-attention cache, static (preallocated buffers, decoder_step.py) or
        dynamic (transformers' DynamicCache); the two give the same tokens on float32 CPU.
        options: WindowedTranscriber's (batch_size, beam_size, guards, vad, chunk_length, ...)."""
        import torch
        from tokenizers import Tokenizer
        from transformers import GenerationConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

        from chaffee_assets.speech.asr.beam_search import Vocab

        if kv_cache not in ("static", "dynamic"):
            raise ValueError(f"CHAFFEE_TORCH_KV_CACHE={kv_cache!r}: use static or dynamic")
        super().__init__(**options)
        self.kv_cache = kv_cache
        register_attention()
        if cpu_threads > 0:
            torch.set_num_threads(cpu_threads)
        self.model_name, self.device = model, torch.device(device)
        with _quiet():
            where = checkpoint(model, cache_root)
        self.torch_dtype = torch_dtype(dtype, device)
        self.dtype = str(self.torch_dtype).removeprefix("torch.")
        with _quiet():
            self.model = WhisperForConditionalGeneration.from_pretrained(
                where, dtype=self.torch_dtype, attn_implementation=BEAM_SDPA).to(self.device).eval()
        self.features = WhisperFeatureExtractor.from_pretrained(where)
        tokenizer_file = Path(where) / "tokenizer.json"
        if not tokenizer_file.exists():  # a hub name: the cached snapshot's file
            from huggingface_hub import hf_hub_download
            tokenizer_file = Path(hf_hub_download(where, "tokenizer.json"))
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        generation = GenerationConfig.from_pretrained(where)
        config = self.model.config
        self.heads = [tuple(h) for h in getattr(generation, "alignment_heads", None) or
                      [(l, h) for l in range(config.decoder_layers // 2, config.decoder_layers)
                       for h in range(config.decoder_attention_heads)]]
        suppress = [getattr(generation, name, None) or getattr(config, name, None) or []
                    for name in ("suppress_tokens", "begin_suppress_tokens")]  # hub checkpoints: generation config
        self.vocab = Vocab.of(self.tokenizer, config.vocab_size, list(suppress[0]), list(suppress[1]))

    def decode_clips(self, pieces: list[np.ndarray]) -> list[tuple[list[Segment], float]]:
        """One batch: log-mel on the device, the encoder, beam search, then word times from one
        teacher-forced pass (word_timing.align). Times are seconds from each clip's start."""
        import torch

        from chaffee_assets.speech.asr.beam_search import BeamSearch
        from chaffee_assets.speech.asr.word_timing import align

        if not pieces:
            return []
        with torch.inference_mode():
            encoded = self.model.model.encoder(self.mel(pieces)).last_hidden_state
            decoded = BeamSearch(self._stepper(encoded), self.vocab, self.beam_size,
                                 self.repetition_penalty, MAX_TOKENS)(len(pieces), self.device)
        texts = [[t for t in d.tokens if t < self.vocab.eot] for d in decoded]
        durations = [p.size / SAMPLE_RATE for p in pieces]
        words = align(self.model, self.tokenizer, self.heads, encoded, self.vocab.prompt, self.vocab.no_timestamps,
                      self.vocab.eot, texts, durations)
        return [(self._segments(result, clip_words, 0.0, duration), 0.0)
                for result, clip_words, duration in zip(decoded, words, durations)]

    def mel(self, pieces: list[np.ndarray]):
        """The clips' log-mel features on the model's device, in its dtype (log_mel.py)."""
        from chaffee_assets.speech.asr.log_mel import log_mel

        mel = log_mel(pieces, self.features.mel_filters, self.device, self.features.nb_max_frames)
        return mel.to(self.torch_dtype)

    def _stepper(self, encoded):
        """One decoder step over a KV cache for beam_size rows per clip. The cross-attention keys and values
        are computed once per clip and shared by its beams (beam_sdpa), not repeated: at batch 3 x 5 beams
        the repeated ones made each step read 69 MB per layer. Beams reorder only the self-attention cache.
        kv_cache static: preallocated buffers and a lean step (decoder_step.py); dynamic: transformers'
        decoder forward over its DynamicCache."""
        import torch
        from transformers.cache_utils import DynamicCache, EncoderDecoderCache

        if self.kv_cache == "static":
            from chaffee_assets.speech.asr.decoder_step import static_stepper

            return static_stepper(self.model, encoded, len(self.vocab.prompt) + MAX_TOKENS + 1)

        decoder, project = self.model.model.decoder, self.model.proj_out
        state = {"encoded": encoded}

        def step(tokens: torch.Tensor, cache, rows, clips):
            if cache is None:
                cross = DynamicCache()
                for i, layer in enumerate(decoder.layers):
                    attn = layer.encoder_attn
                    shape = (encoded.shape[0], -1, attn.num_heads, attn.head_dim)
                    cross.update(attn.k_proj(encoded).view(shape).transpose(1, 2),
                                 attn.v_proj(encoded).view(shape).transpose(1, 2), i)
                cache = EncoderDecoderCache(DynamicCache(), cross)
            if rows is not None:
                cache.self_attention_cache.reorder_cache(rows)
            if clips is not None:  # finished clips leave the batch
                cache.cross_attention_cache.reorder_cache(clips)
                state["encoded"] = state["encoded"][clips]
            hidden = decoder(input_ids=tokens, encoder_hidden_states=state["encoded"], past_key_values=cache,
                             use_cache=True).last_hidden_state
            return project(hidden[:, -1]), cache

        return step

    def _segments(self, result, words, offset: float, duration: float) -> list[Segment]:
        """Split one clip's tokens at timestamp tokens into segments; each word goes to the segment holding
        its first token. A segment's times are its words' span; the timestamp tokens' times only where it has
        no words. tiny.en mostly predicts whole seconds, so token times alone ran a segment up to 0.6 s into
        the next one (interview-01, monologue-02), which the segment-quality check rejects."""
        from chaffee_assets.speech.asr.guards import compression_ratio

        begin, tokens = self.vocab.timestamp_begin, result.tokens
        spans, start, text_seen, current = [], None, 0, []
        for token in tokens + [None]:
            if token is None or token >= begin:
                at = None if token is None else (token - begin) * 0.02
                if current:
                    end = at if at is not None else duration
                    spans.append((start if start is not None else 0.0, end, current, text_seen - len(current)))
                    current = []
                start = at
            else:
                current.append(token)
                text_seen += 1
        segments = []
        for seg_start, seg_end, seg_tokens, first in spans:
            text = self.tokenizer.decode(seg_tokens)
            mine = [w for w in words if first <= w.first_token < first + len(seg_tokens)]
            if mine:  # as openai-whisper and faster-whisper do with word times: the words' span
                seg_start, seg_end = mine[0].start, mine[-1].end
            segments.append(Segment(
                offset + seg_start, offset + max(seg_end, seg_start), text, result.avg_logprob, result.no_speech_prob,
                compression_ratio(text), [Word(offset + w.start, offset + w.end, w.word, w.probability) for w in mine]))
        return segments
