"""Decoder-step microbenchmark: the torch backend's step over transformers' DynamicCache against the static
cache of speech/asr/decoder_step.py, N steps each, interleaved in one process, on cpu or cuda.

    python bench/decoder_step.py --model bundled --batch 2 --beams 5 --steps 50 --repeats 5
    python bench/decoder_step.py --model large-v3-turbo --device cuda --batch 64 --beams 5 --steps 100

Both modes run TorchTranscriber._stepper itself (kv_cache dynamic / static). Each timed run: the prompt step
(untimed), then N steps of one token per row, each with a beam reorder drawn beforehand (every clip's rows
permuted, as BeamSearch reorders), no clip leaving. The encoder output is random. --model bundled loads the
converted tiny.en weights; a name in CONFIGS builds that architecture with RANDOM weights (1 encoder layer:
the encoder does not run), and every line it prints says so: those figures are throughput only. Prints a
markdown table: per mode the median ms/step over the repeats and every repeat's figure, and the ratio.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import torch  # noqa: E402

# decoder shapes of openai's checkpoints (d_model, decoder layers, heads, ffn, vocab, mel bins)
CONFIGS = {
    "tiny": (384, 4, 6, 1536, 51865, 80),
    "base": (512, 6, 8, 2048, 51865, 80),
    "small": (768, 12, 12, 3072, 51865, 80),
    "medium": (1024, 24, 16, 4096, 51865, 80),
    "large-v3": (1280, 32, 20, 5120, 51866, 128),
    "large-v3-turbo": (1280, 4, 20, 5120, 51866, 128),
}
MULTILINGUAL_PROMPT = (50258, 50259, 50360)  # sot, en, transcribe (large-v3's ids; any 3 in-vocabulary ids do)


def load(model: str, device: torch.device, dtype: torch.dtype, cache_root: str):
    """(transformers model, prompt, label). Random weights for a CONFIGS name, else a TorchTranscriber model."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from chaffee_assets.speech.asr.attention import BEAM_SDPA, register_attention
    from chaffee_assets.speech.asr.torch_backend import checkpoint

    register_attention()
    if model in CONFIGS:
        d_model, layers, heads, ffn, vocab, mels = CONFIGS[model]
        config = WhisperConfig(d_model=d_model, decoder_layers=layers, decoder_attention_heads=heads,
                               decoder_ffn_dim=ffn, encoder_layers=1, encoder_attention_heads=heads,
                               encoder_ffn_dim=ffn, vocab_size=vocab, num_mel_bins=mels)
        torch.manual_seed(0)
        built = WhisperForConditionalGeneration._from_config(config, attn_implementation=BEAM_SDPA, dtype=dtype)
        built = built.to(device).eval()
        prompt = MULTILINGUAL_PROMPT if vocab >= 51865 else (50257,)
        return built, prompt, f"{model}, random weights, throughput only"
    where = checkpoint(model, cache_root)
    built = WhisperForConditionalGeneration.from_pretrained(where, dtype=dtype, attn_implementation=BEAM_SDPA)
    prompt = MULTILINGUAL_PROMPT if built.config.vocab_size >= 51865 else (50257,)
    return built.to(device).eval(), prompt, f"{model} weights, random encoder output"


def plan(batch: int, beams: int, steps: int, vocab: int, device: torch.device):
    """Per step: tokens [rows, 1] and the reorder rows (each clip's beams permuted), drawn on the device."""
    generator = torch.Generator().manual_seed(1)
    out = []
    for _ in range(steps):
        perms = torch.stack([torch.randperm(beams, generator=generator) for _ in range(batch)])
        rows = (perms + torch.arange(batch)[:, None] * beams).flatten()
        tokens = torch.randint(0, vocab, (batch * beams, 1), generator=generator)
        out.append((tokens.to(device), rows.to(device)))
    return out


def run(model, prompt, kind: str, encoded: torch.Tensor, beams: int, steps: list) -> float:
    """Seconds per step over `steps` after an untimed prompt step."""
    from chaffee_assets.speech.asr.torch_backend import TorchTranscriber

    shim = SimpleNamespace(model=model, kv_cache=kind, vocab=SimpleNamespace(prompt=prompt))
    step = TorchTranscriber._stepper(shim, encoded)
    cuda = encoded.device.type == "cuda"
    with torch.inference_mode():
        _, cache = step(torch.tensor([prompt] * (encoded.shape[0] * beams), device=encoded.device), None, None, None)
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for tokens, rows in steps:
            _, cache = step(tokens, cache, rows, None)
        if cuda:
            torch.cuda.synchronize()
        return (time.perf_counter() - start) / len(steps)


def main(argv: list[str] | None = None) -> None:
    from chaffee_assets.speech.asr.torch_backend import MAX_TOKENS, torch_dtype

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="bundled", help=f"bundled / a model folder, or random: {', '.join(CONFIGS)}")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto", help="auto: float32 on cpu, bfloat16 (or float16) on cuda")
    parser.add_argument("--batch", type=int, default=2, help="clips")
    parser.add_argument("--beams", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (dynamic, static order alternates)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads on cpu (0: leave as is)")
    parser.add_argument("--cache-root", default=".chaffee/models")
    args = parser.parse_args(argv)
    if args.steps > MAX_TOKENS:
        parser.error(f"--steps at most {MAX_TOKENS} (the static cache holds the prompt + {MAX_TOKENS} + 1)")
    device = torch.device(args.device)
    if device.type == "cpu" and args.threads > 0:
        torch.set_num_threads(args.threads)
    dtype = torch_dtype(args.dtype, args.device)
    model, prompt, label = load(args.model, device, dtype, args.cache_root)
    torch.manual_seed(2)
    encoded = torch.randn(args.batch, model.config.max_source_positions, model.config.d_model).to(device, dtype)
    steps = plan(args.batch, args.beams, args.steps, model.config.vocab_size, device)
    for kind in ("dynamic", "static"):  # warm-up: allocator, kernels, lazy imports
        run(model, prompt, kind, encoded, args.beams, steps[:3])
    times = {"dynamic": [], "static": []}
    for repeat in range(args.repeats):
        for kind in (("dynamic", "static") if repeat % 2 == 0 else ("static", "dynamic")):
            times[kind].append(run(model, prompt, kind, encoded, args.beams, steps) * 1000)
    medians = {kind: statistics.median(ms) for kind, ms in times.items()}
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"{platform.machine()} cpu, {torch.get_num_threads()} torch thread(s)"
    print(f"# Decoder step, {label}: {where}, {str(dtype).removeprefix('torch.')}, torch {torch.__version__}\n")
    print(f"batch {args.batch} clips x {args.beams} beams = {args.batch * args.beams} rows, {args.steps} steps after "
          f"a {len(prompt)}-token prompt, a beam reorder every step, {args.repeats} interleaved repeats ({label})\n")
    print(f"| kv cache ({label}) | median ms/step | every repeat's ms/step |")
    print("|---|---:|---|")
    for kind, ms in times.items():
        print(f"| {kind} | {medians[kind]:.2f} | {', '.join(f'{m:.2f}' for m in ms)} |")
    print(f"\ndynamic / static: **{medians['dynamic'] / medians['static']:.2f}x** ({label})")


if __name__ == "__main__":
    main()
