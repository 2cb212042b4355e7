"""ImageBind's input preprocessing, applied to already decoded inputs instead of file paths.

Mirrors `imagebind/data.py` (load_and_transform_vision_data / _audio_data / _text) so embeddings match
the reference pipeline, but takes PIL images and `Waveform`s from `retrieval.media` (which did the safe
decoding) and never opens files. One deliberate difference: the reference subtracts each clip's mean
in place on a view of the whole waveform, so overlapping clips of audio shorter than 8 s see each
other's mean removed; here every clip is centred on its own samples only. For audio of 8 s or more the
clips do not overlap and the results are identical.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
import torch
from PIL import Image

from core.errors import InputError
from core.types import Waveform

IMAGE_SIZE = 224
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

AUDIO_SAMPLE_RATE = 16000
AUDIO_CLIP_SECONDS = 2
AUDIO_CLIPS = 3
AUDIO_MEL_BINS = 128
AUDIO_TARGET_FRAMES = 204
AUDIO_MEAN = -4.268
AUDIO_STD = 9.138
AUDIO_FRAME_SHIFT_MS = 10.0
AUDIO_FRAME_LENGTH_MS = 25.0
# kaldi.fbank needs at least one 25 ms window of samples.
_MIN_CLIP_SAMPLES = int(AUDIO_SAMPLE_RATE * AUDIO_FRAME_LENGTH_MS / 1000)

TEXT_CONTEXT = 77

Tokenizer = Callable[[str], torch.Tensor]


def image_transform() -> Callable[[Image.Image], torch.Tensor]:
    """Resize(224, bicubic) + CenterCrop(224) + ToTensor + Normalize(CLIP mean/std), as ImageBind."""
    from torchvision import transforms

    return transforms.Compose(
        [
            transforms.Resize(IMAGE_SIZE, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(IMAGE_SIZE),
            transforms.ToTensor(),
            transforms.Normalize(mean=CLIP_MEAN, std=CLIP_STD),
        ]
    )


def images_to_tensor(images: Sequence[Image.Image]) -> torch.Tensor:
    """A batch of RGB images as a float32 tensor of shape (N, 3, 224, 224)."""
    transform = image_transform()
    out = []
    for i, image in enumerate(images):
        if not isinstance(image, Image.Image):
            raise InputError(f"image {i}: expected a PIL image, got {type(image).__name__}")
        out.append(transform(image.convert("RGB") if image.mode != "RGB" else image))
    if not out:
        return torch.empty((0, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=torch.float32)
    return torch.stack(out, dim=0)


def clip_timepoints(duration: float) -> list[tuple[Fraction, Fraction]]:
    """(start, end) seconds of the 3 clips of 2 s spread evenly over `duration`.

    Same arithmetic as pytorchvideo's ConstantClipsPerVideoSampler used by ImageBind: starts at
    k * max(duration - 2, 0) / 3 for k = 0, 1, 2, as exact fractions of the float duration, so the
    sample indices match the reference to the sample.
    """
    max_start = Fraction(max(duration - AUDIO_CLIP_SECONDS, 0))
    step = max_start / AUDIO_CLIPS
    return [(step * k, step * k + AUDIO_CLIP_SECONDS) for k in range(AUDIO_CLIPS)]


def _melspec(clip: torch.Tensor) -> torch.Tensor:
    """One clip (1, samples) -> normalised log-mel fbank of shape (1, 128, 204)."""
    from torchaudio.compliance.kaldi import fbank

    clip = clip - clip.mean()
    if clip.shape[1] < _MIN_CLIP_SAMPLES:
        clip = torch.nn.functional.pad(clip, (0, _MIN_CLIP_SAMPLES - clip.shape[1]))
    feats = fbank(
        clip,
        htk_compat=True,
        sample_frequency=AUDIO_SAMPLE_RATE,
        use_energy=False,
        window_type="hanning",
        num_mel_bins=AUDIO_MEL_BINS,
        dither=0.0,
        frame_length=AUDIO_FRAME_LENGTH_MS,
        frame_shift=AUDIO_FRAME_SHIFT_MS,
    ).transpose(0, 1)
    missing = AUDIO_TARGET_FRAMES - feats.shape[1]
    if missing > 0:
        feats = torch.nn.functional.pad(feats, (0, missing), mode="constant", value=0.0)
    elif missing < 0:
        feats = feats[:, :AUDIO_TARGET_FRAMES]
    return ((feats - AUDIO_MEAN) / AUDIO_STD).unsqueeze(0)


def waveform_to_tensor(waveform: Waveform) -> torch.Tensor:
    """One 16 kHz mono waveform -> (3, 1, 128, 204): fbanks of 3 clips of 2 s sampled across it."""
    if waveform.sample_rate != AUDIO_SAMPLE_RATE:
        raise InputError(
            f"audio must be {AUDIO_SAMPLE_RATE} Hz for ImageBind, got {waveform.sample_rate} Hz; "
            "decode it with retrieval.media.load_audio(..., target_rate=16000)"
        )
    samples = np.asarray(waveform.samples, dtype=np.float32)
    if samples.ndim != 1 or samples.size == 0:
        raise InputError(f"audio must be a non-empty mono waveform, got shape {samples.shape}")
    signal = torch.from_numpy(np.ascontiguousarray(samples)).unsqueeze(0)
    duration = samples.size / AUDIO_SAMPLE_RATE  # a float, as in the reference
    clips = []
    for start, end in clip_timepoints(duration):
        lo, hi = int(start * AUDIO_SAMPLE_RATE), int(end * AUDIO_SAMPLE_RATE)
        clips.append(_melspec(signal[:, lo:hi]))
    return torch.stack(clips, dim=0)


def waveforms_to_tensor(waveforms: Sequence[Waveform]) -> torch.Tensor:
    """A batch of waveforms as float32 (N, 3, 1, 128, 204)."""
    out = []
    for i, waveform in enumerate(waveforms):
        if not isinstance(waveform, Waveform):
            raise InputError(f"audio {i}: expected a Waveform, got {type(waveform).__name__}")
        out.append(waveform_to_tensor(waveform))
    if not out:
        return torch.empty((0, AUDIO_CLIPS, 1, AUDIO_MEL_BINS, AUDIO_TARGET_FRAMES), dtype=torch.float32)
    return torch.stack(out, dim=0)


def texts_to_tokens(texts: Sequence[str], tokenizer: Tokenizer) -> torch.Tensor:
    """Token ids (N, 77) from ImageBind's SimpleTokenizer (longer texts are cut, keeping the end token)."""
    rows = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"text {i}: expected a string, got {type(text).__name__}")
        rows.append(tokenizer(text).reshape(1, -1))
    if not rows:
        return torch.empty((0, TEXT_CONTEXT), dtype=torch.long)
    return torch.cat(rows, dim=0)
