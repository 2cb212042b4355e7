"""Reusable contract tests every `Transcriber` backend must pass.

Subclass in a `test_*.py` file and provide `transcriber` (loaded) and `spoken` (a 16 kHz `Waveform`
of speech, e.g. espeak-ng's):

    class TestMyTranscriberContract(TranscriberContract):
        @pytest.fixture
        def transcriber(self): ...

        @pytest.fixture
        def spoken(self, speak): return speak("my router shows error forty two")

Real models run here (tiny ones), so the contract is marked `slow`.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.types import Waveform
from retrieval.asr.protocol import Transcriber, Transcript

RATE = 16_000


def check_transcript(result: Transcript, duration: float, model_name: str) -> None:
    assert isinstance(result, Transcript)
    assert result.model == model_name
    assert result.duration_s == pytest.approx(duration)
    assert 0.0 <= result.confidence <= 1.0
    assert result.text == " ".join(s.text for s in result.segments if s.text)
    previous_start = 0.0
    for segment in result.segments:
        assert 0.0 <= segment.start <= segment.end <= duration + 1e-6
        assert segment.start >= previous_start
        previous_start = segment.start


@pytest.mark.slow
class TranscriberContract:
    """The behaviour `retrieval.asr.protocol.Transcriber` promises; subclasses supply the fixtures."""

    @pytest.fixture
    def transcriber(self) -> Transcriber:
        raise NotImplementedError("subclasses provide a loaded transcriber")

    @pytest.fixture
    def spoken(self) -> Waveform:
        raise NotImplementedError("subclasses provide a 16 kHz clip of speech")

    def test_is_a_transcriber_and_loads_twice(self, transcriber: Transcriber) -> None:
        assert isinstance(transcriber, Transcriber) and transcriber.name
        transcriber.load()  # safe twice

    def test_speech_gives_a_well_formed_transcript(self, transcriber: Transcriber, spoken: Waveform) -> None:
        result = transcriber.transcribe(spoken)
        check_transcript(result, spoken.seconds, transcriber.name)
        assert result.segments and result.text

    def test_a_clip_at_another_rate_is_refused(self, transcriber: Transcriber) -> None:
        with pytest.raises(InputError, match="16000 Hz"):
            transcriber.transcribe(Waveform(np.zeros(44_100, np.float32), 44_100))
