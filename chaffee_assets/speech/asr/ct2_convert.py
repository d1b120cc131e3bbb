"""A CTranslate2 Whisper model directory -> a transformers Whisper checkpoint, converted once and cached.

The reader follows the model.bin layout CTranslate2 writes (binary version 6, little-endian): uint32
version, the spec name and uint32 revision, uint32 count of variables, then per variable its name,
uint8 rank, uint32 dims, uint8 dtype (float32, int8, int16, int32, float16, bfloat16 by index), uint32
byte count and the raw bytes; last, uint32 count of aliases, each an (alias, variable) pair of names.
Strings are a uint16 length (with the trailing NUL) then the bytes. int8 weights carry a per-row
`weight_scale` (int8 = round(float * scale)). Self-attention stores q, k, v fused in one linear layer
(k's bias is zero: Whisper has none); cross-attention stores q alone and k, v fused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import struct
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
FORMAT = 1  # bump when the checkpoint written here changes; old caches are then converted again


def read_model_bin(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(variables by name, aliases) of a CTranslate2 model.bin; int8 weights come back as float32."""
    data = memoryview(Path(path).read_bytes())
    pos = 0

    def take(fmt: str):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def text() -> str:
        nonlocal pos
        size = take("H")
        pos += size
        return bytes(data[pos - size : pos - 1]).decode("utf-8")

    version = take("I")
    if version < 5:
        raise ValueError(f"{path}: CTranslate2 binary version {version} is not supported (need 5 or newer)")
    spec = text()
    take("I")  # the spec's revision
    if spec != "WhisperSpec":
        raise ValueError(f"{path}: a {spec} model, not Whisper")
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = text()
        rank = take("B")
        shape = tuple(take("I") for _ in range(rank))
        dtype, size = _DTYPES[take("B")], take("I")
        raw = np.frombuffer(data[pos : pos + size], dtype="uint16" if dtype == "bfloat16" else dtype)
        pos += size
        if dtype == "bfloat16":  # numpy has no bfloat16: the high half of a float32
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        variables[name] = raw.reshape(shape)
    aliases = {text(): text() for _ in range(take("I"))}
    return _dequantize(variables), aliases


def _dequantize(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for name, value in variables.items():
        if name.endswith("_scale"):
            continue
        scale = variables.get(name + "_scale")
        if scale is not None and value.dtype == np.int8:
            flat = value.reshape(value.shape[0], -1).astype(np.float32) / np.asarray(scale, np.float32).reshape(-1, 1)
            value = flat.reshape(value.shape)
        out[name] = value
    return out


def _linear(prefix: str, ct2: dict[str, np.ndarray], name: str, parts: tuple[str, ...], out: dict) -> None:
    """One CT2 linear layer (maybe fused) -> the transformers projections named in parts."""
    weights = np.split(ct2[f"{name}/weight"], len(parts))
    biases = np.split(ct2[f"{name}/bias"], len(parts)) if f"{name}/bias" in ct2 else [None] * len(parts)
    for part, weight, bias in zip(parts, weights, biases):
        out[f"{prefix}.{part}.weight"] = weight
        if bias is not None and part != "k_proj":  # Whisper's key projections have no bias
            out[f"{prefix}.{part}.bias"] = bias


def _norm(prefix: str, ct2: dict[str, np.ndarray], name: str, out: dict) -> None:
    out[f"{prefix}.weight"] = ct2[f"{name}/gamma"]
    out[f"{prefix}.bias"] = ct2[f"{name}/beta"]


def _layer(side: str, i: int, ct2: dict[str, np.ndarray], out: dict) -> None:
    src, dst = f"{side}/layer_{i}", f"model.{side}.layers.{i}"
    _linear(f"{dst}.self_attn", ct2, f"{src}/self_attention/linear_0", ("q_proj", "k_proj", "v_proj"), out)
    _linear(f"{dst}.self_attn", ct2, f"{src}/self_attention/linear_1", ("out_proj",), out)
    _norm(f"{dst}.self_attn_layer_norm", ct2, f"{src}/self_attention/layer_norm", out)
    if side == "decoder":
        _linear(f"{dst}.encoder_attn", ct2, f"{src}/attention/linear_0", ("q_proj",), out)
        _linear(f"{dst}.encoder_attn", ct2, f"{src}/attention/linear_1", ("k_proj", "v_proj"), out)
        _linear(f"{dst}.encoder_attn", ct2, f"{src}/attention/linear_2", ("out_proj",), out)
        _norm(f"{dst}.encoder_attn_layer_norm", ct2, f"{src}/attention/layer_norm", out)
    _linear(dst, ct2, f"{src}/ffn/linear_0", ("fc1",), out)
    _linear(dst, ct2, f"{src}/ffn/linear_1", ("fc2",), out)
    _norm(f"{dst}.final_layer_norm", ct2, f"{src}/ffn/layer_norm", out)


def layer_count(ct2: dict[str, np.ndarray], side: str) -> int:
    return len({name.split("/")[1] for name in ct2 if re.match(rf"{side}/layer_\d+/", name)})


def state_dict(ct2: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """transformers WhisperForConditionalGeneration names -> arrays (proj_out is tied to embed_tokens)."""
    out: dict[str, np.ndarray] = {}
    for conv in ("conv1", "conv2"):
        out[f"model.encoder.{conv}.weight"] = ct2[f"encoder/{conv}/weight"]
        out[f"model.encoder.{conv}.bias"] = ct2[f"encoder/{conv}/bias"]
    out["model.encoder.embed_positions.weight"] = ct2["encoder/position_encodings/encodings"]
    out["model.decoder.embed_positions.weight"] = ct2["decoder/position_encodings/encodings"]
    out["model.decoder.embed_tokens.weight"] = ct2["decoder/embeddings/weight"]
    for side in ("encoder", "decoder"):
        for i in range(layer_count(ct2, side)):
            _layer(side, i, ct2, out)
        _norm(f"model.{side}.layer_norm", ct2, f"{side}/layer_norm", out)
    return out


def whisper_config(ct2: dict[str, np.ndarray], ct2_config: dict):
    """transformers WhisperConfig from the CT2 shapes (the CT2 config.json gives alignment heads)."""
    from transformers import WhisperConfig

    vocab, d_model = ct2["decoder/embeddings/weight"].shape
    ffn = ct2["encoder/layer_0/ffn/linear_0/weight"].shape[0]
    multilingual = vocab >= 51865
    special = {"decoder_start_token_id": 50258 if multilingual else 50257, "eos_token_id": 50257 if multilingual else 50256}
    special["pad_token_id"] = special["bos_token_id"] = special["eos_token_id"]
    return WhisperConfig(
        vocab_size=int(vocab), d_model=int(d_model), num_mel_bins=int(ct2["encoder/conv1/weight"].shape[1]),
        encoder_layers=layer_count(ct2, "encoder"), decoder_layers=layer_count(ct2, "decoder"),
        encoder_attention_heads=int(ct2["encoder/num_heads"]), decoder_attention_heads=int(ct2["decoder/num_heads"]),
        encoder_ffn_dim=int(ffn), decoder_ffn_dim=int(ffn),
        max_source_positions=int(ct2["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(ct2["decoder/position_encodings/encodings"].shape[0]),
        suppress_tokens=ct2_config.get("suppress_ids"), begin_suppress_tokens=ct2_config.get("suppress_ids_begin"),
        tie_word_embeddings=True, **special,
    )


def convert(ct2_dir: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Write a transformers checkpoint (safetensors in the source's float dtype, config, generation config
    with alignment heads, tokenizer, feature extractor) for the CT2 Whisper model in ct2_dir."""
    import torch
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperTokenizerFast

    ct2_dir, out_dir = Path(ct2_dir), Path(out_dir)
    ct2, _aliases = read_model_bin(ct2_dir / "model.bin")
    ct2_config = json.loads((ct2_dir / "config.json").read_text()) if (ct2_dir / "config.json").exists() else {}
    config = whisper_config(ct2, ct2_config)
    floats = {v.dtype for k, v in ct2.items() if k.endswith("/weight")}
    dtype = torch.float16 if floats == {np.dtype("float16")} else torch.float32
    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    tensors = {k: torch.from_numpy(np.array(v)).to(dtype) for k, v in state_dict(ct2).items()}  # copies: writable
    missing, unexpected = model.load_state_dict(tensors, strict=False, assign=True)
    if unexpected or set(missing) - {"proj_out.weight"}:
        raise ValueError(f"{ct2_dir}: conversion left weights unmatched: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    model.generation_config.alignment_heads = [list(map(int, h)) for h in ct2_config.get("alignment_heads", [])]
    model.generation_config.no_timestamps_token_id = 50363 if config.vocab_size >= 51865 else 50362
    model.generation_config.is_multilingual = config.vocab_size >= 51865
    model.generation_config._from_model_config = False  # else from_pretrained rebuilds it without the heads
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    WhisperTokenizerFast(tokenizer_file=str(ct2_dir / "tokenizer.json")).save_pretrained(out_dir)
    WhisperFeatureExtractor(feature_size=config.num_mel_bins).save_pretrained(out_dir)
    return out_dir


def converted(ct2_dir: str | os.PathLike, cache_root: str | os.PathLike) -> Path:
    """The cached checkpoint for ct2_dir under cache_root, converted on first use (keyed by model.bin's
    content, written to a temporary folder and renamed, so a crash never leaves half a checkpoint)."""
    ct2_dir = Path(ct2_dir)
    digest = hashlib.sha256((ct2_dir / "model.bin").read_bytes()).hexdigest()[:16]
    target = Path(cache_root) / f"whisper-ct2-{digest}-v{FORMAT}"
    if (target / "model.safetensors").exists():
        return target
    log.info("converting CTranslate2 Whisper %s -> %s (once)", ct2_dir, target)
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    convert(ct2_dir, partial)
    try:
        partial.rename(target)
    except OSError:  # another process finished first: keep theirs
        shutil.rmtree(partial, ignore_errors=True)
    return target
