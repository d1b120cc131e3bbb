"""Whisper's log-mel features for a batch of clips in one pass on the model's device (torch.stft).

Each clip is featurised as faster-whisper's batched pipeline does it: the clip plus 10 ms of zeros, alone,
so its own loudest frame sets the 80 dB floor; frames past its end are zeros up to 30 s (padding the audio to
30 s first, as openai-whisper and transformers do by default, gave other no-speech probabilities: 0.012
against faster-whisper's 0.134 on sample.wav's first clip). One call per clip
through transformers' feature extractor did the same with a round trip to the host for every clip; here
the reflect padding is made on the host (cheap), and STFT, mel projection, floor and normalisation run
batched on the device."""

from __future__ import annotations

import numpy as np

N_FFT, HOP = 400, 160


def log_mel(pieces: list[np.ndarray], filters: np.ndarray, device, frames: int = 3000):
    """[len(pieces), n_mels, frames] float32 on `device`. filters: the extractor's mel_filters [201, n_mels]."""
    import torch

    # at most 30 s of samples, as the extractor truncates its input
    rows = [_reflect(np.concatenate([np.asarray(p, np.float32), np.zeros(HOP, np.float32)])[: frames * HOP])
            for p in pieces]
    valid = torch.tensor([(r.size - N_FFT) // HOP for r in rows], device=device)  # frames, the last one dropped
    width = max(r.size for r in rows)
    batch = np.zeros((len(rows), width), np.float32)
    for i, r in enumerate(rows):
        batch[i, : r.size] = r
    audio = torch.from_numpy(batch).to(device)
    window = torch.hann_window(N_FFT, device=device)
    stft = torch.stft(audio, N_FFT, HOP, window=window, center=False, return_complex=True)
    mel = torch.from_numpy(filters).to(device, torch.float32).T @ (stft.abs() ** 2)
    spec = torch.clamp(mel, min=1e-10).log10()
    inside = torch.arange(spec.shape[-1], device=device)[None, :] < valid[:, None]  # [clips, frames]
    peak = spec.masked_fill(~inside[:, None, :], float("-inf")).amax(dim=(1, 2), keepdim=True)
    spec = (torch.maximum(spec, peak - 8.0) + 4.0) / 4.0
    spec = spec.masked_fill(~inside[:, None, :], 0.0)[..., :frames]
    return torch.nn.functional.pad(spec, (0, frames - spec.shape[-1]))


def _reflect(x: np.ndarray) -> np.ndarray:
    """torch.stft's centre padding (reflect, n_fft / 2 each side) of one clip, so the batch's zero padding
    never reaches a clip's own frames. A clip shorter than the padding is zero-extended first."""
    if x.size <= N_FFT // 2:
        x = np.pad(x, (0, N_FFT // 2 + 1 - x.size))
    return np.pad(x, N_FFT // 2, mode="reflect")
