"""Voice embeddings (resemblyzer's bundled encoder) and speaker profiles (voices/NAME.json)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from chaffee_assets.speech.audio import SAMPLE_RATE
from chaffee_assets.speech.vad import Region

ENCODER_NAME = "resemblyzer-ge2e-256"
ENCODER_DIM = 256
WINDOW_S = 1.6  # the encoder's partial-utterance length (160 mel frames)
HOP_S = 0.75


class ProfileError(ValueError):
    """A voice profile that cannot be used: unreadable, malformed, or made with another encoder."""


@dataclass
class Windows:
    """Voice embeddings of fixed windows inside speech regions."""

    spans: np.ndarray  # (n, 2) start/end seconds
    vectors: np.ndarray  # (n, dim), L2-normalised

    def __len__(self) -> int:
        return len(self.spans)


def window_spans(regions: list[Region], window_s: float = WINDOW_S, hop_s: float = HOP_S) -> np.ndarray:
    """Windows of window_s every hop_s inside each region; a short region gets one centred window."""
    spans = []
    for r in regions:
        if r.duration < 0.5:
            continue
        if r.duration <= window_s:
            mid = (r.start + r.end) / 2
            spans.append((max(0.0, mid - window_s / 2), mid + window_s / 2))
            continue
        t = r.start
        while t + window_s <= r.end + 1e-6:
            spans.append((t, t + window_s))
            t += hop_s
        if spans[-1][1] < r.end - hop_s / 2:  # cover the region's tail
            spans.append((r.end - window_s, r.end))
    return np.array(spans, dtype=np.float64).reshape(-1, 2)


class VoiceEncoder:
    """Loaded once per process; embeds many windows in batched forward passes."""

    name = ENCODER_NAME
    dim = ENCODER_DIM

    def __init__(self, device: str = "cpu", batch_size: int = 256) -> None:
        from resemblyzer import VoiceEncoder as _Encoder

        self.model = _Encoder(device=device, verbose=False)
        self.batch_size = batch_size
        self.compute_s = 0.0

    def mels(self, audio: np.ndarray, spans: np.ndarray) -> np.ndarray:
        """The encoder's input for each span: (n, 160, 40) mel frames of a volume-normalised window."""
        from resemblyzer.audio import normalize_volume, wav_to_mel_spectrogram

        n = int(WINDOW_S * SAMPLE_RATE)
        mels = []
        for start, _end in spans:
            a = int(start * SAMPLE_RATE)
            clip = audio[a : a + n]
            if clip.size < n:
                clip = np.pad(clip, (0, n - clip.size))
            clip = normalize_volume(clip, -30, increase_only=True)
            mels.append(wav_to_mel_spectrogram(clip)[:160])
        return np.stack(mels).astype(np.float32) if mels else np.zeros((0, 160, 40), dtype=np.float32)

    def embed_mels(self, mels: np.ndarray) -> np.ndarray:
        """L2-normalised embeddings of mel windows, batch_size windows per forward pass."""
        import torch

        if len(mels) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for i in range(0, len(mels), self.batch_size):
            started = time.perf_counter()
            with torch.no_grad():
                batch = torch.from_numpy(mels[i : i + self.batch_size]).to(self.model.device)
                out.append(self.model(batch).cpu().numpy())
            self.compute_s += time.perf_counter() - started
        return np.concatenate(out)

    def embed_spans(self, audio: np.ndarray, spans: np.ndarray) -> np.ndarray:
        """Embeddings of windows of one recording; mels are made a batch at a time (memory)."""
        if len(spans) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        step = self.batch_size
        return np.concatenate([self.embed_mels(self.mels(audio, spans[i : i + step])) for i in range(0, len(spans), step)])

    def windows(self, audio: np.ndarray, regions: list[Region]) -> Windows:
        spans = window_spans(regions)
        return Windows(spans, self.embed_spans(audio, spans))


def unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norm, 1e-12)


@dataclass
class Profile:
    name: str
    encoder: str
    dim: int
    centroid: list[float]
    threshold: float  # cosine similarity a window must reach to count as this voice
    clips: list[list[float]] = field(default_factory=list)  # per-clip embeddings
    sources: list[str] = field(default_factory=list)
    created_at: str = ""

    @property
    def vector(self) -> np.ndarray:
        return np.asarray(self.centroid, dtype=np.float32)

    def check_encoder(self, encoder_name: str, dim: int) -> None:
        if self.encoder != encoder_name or self.dim != dim:
            raise ProfileError(
                f"voice profile {self.name!r} was made with encoder {self.encoder} ({self.dim}-d) "
                f"but embeddings come from {encoder_name} ({dim}-d); re-enroll it with `chaffee voices enroll`"
            )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> Profile:
        try:
            data = json.loads(Path(path).read_text())
            profile = cls(**data)
            vec = profile.vector
        except (OSError, ValueError, TypeError) as exc:
            raise ProfileError(f"voice profile {Path(path).name}: unreadable or malformed ({exc})") from None
        if vec.shape != (profile.dim,) or not np.isfinite(vec).all() or np.linalg.norm(vec) < 1e-6:
            raise ProfileError(f"voice profile {Path(path).name}: centroid is not a usable {profile.dim}-d vector")
        return profile


def load_profiles(voices_dir: Path) -> tuple[dict[str, Profile], list[str]]:
    """All readable profiles in voices_dir, plus one message per profile that could not be used."""
    profiles, problems = {}, []
    for path in sorted(Path(voices_dir).glob("*.json")):
        try:
            p = Profile.load(path)
            p.check_encoder(ENCODER_NAME, ENCODER_DIM)
            profiles[p.name] = p
        except ProfileError as exc:
            problems.append(str(exc))
    return profiles, problems


def find_profile(profiles: dict[str, Profile], name: str) -> Profile | None:
    """The profile called `name`, ignoring case (CHAFFEE_HOST_NAME=host finds a profile named HOST);
    labels then carry the profile's own spelling."""
    wanted = name.casefold()
    return next((p for key, p in profiles.items() if key.casefold() == wanted), None)


def enroll(name: str, clips: list[tuple[str, np.ndarray]], encoder: VoiceEncoder, regions_of) -> Profile:
    """Build a profile from clips of one speaker.

    The threshold is calibrated from the enrollment windows themselves: a low percentile of their
    similarity to the centroid, so ordinary windows of this voice pass and other voices do not.
    """
    per_clip, all_windows, sources = [], [], []
    for source, audio in clips:
        w = encoder.windows(audio, regions_of(audio))
        if len(w) == 0:
            raise ProfileError(f"enroll {name}: no speech found in {source}")
        per_clip.append(unit(w.vectors.mean(axis=0)))
        all_windows.append(w.vectors)
        sources.append(source)
    centroid = unit(np.mean(np.vstack(all_windows), axis=0))
    sims = np.vstack(all_windows) @ centroid
    threshold = float(np.clip(np.percentile(sims, 1) - 0.05, 0.55, 0.9))
    return Profile(
        name=name,
        encoder=encoder.name,
        dim=encoder.dim,
        centroid=[round(float(x), 6) for x in centroid],
        threshold=round(threshold, 4),
        clips=[[round(float(x), 6) for x in c] for c in per_clip],
        sources=sources,
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
