"""The fakes of `tests/fakes.py` are real implementations of their protocols: the in-memory store passes
the same store contract as Milvus, and the scripted readers and generator satisfy their protocols."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from chatbot.generators.protocol import Evidence, GenerationRequest, Generator
from core.types import Waveform
from retrieval.asr.protocol import Transcriber
from retrieval.ocr.protocol import ScreenshotReader
from tests.contract_vector_store import DIM, VectorStoreContract
from tests.fakes import InMemoryStore, ScriptedGenerator, ScriptedReader, ScriptedTranscriber


class TestInMemoryStoreContract(VectorStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryStore:
        return InMemoryStore(DIM)


def test_scripted_generator_is_a_generator_grounded_by_the_real_check() -> None:
    generator = ScriptedGenerator({"reset": "Hold the reset button for ten seconds [1]."})
    assert isinstance(generator, Generator)
    evidence = (Evidence(1, "reset.md", "Hold the reset button for ten seconds.", "Reset"),)
    answer = generator.generate(GenerationRequest("how do I reset it?", evidence=evidence))
    assert answer.grounded and answer.citations == (1,) and answer.text.endswith("[1].")
    off = generator.generate(GenerationRequest("what is the weather?", evidence=evidence))
    assert off.abstained and not off.grounded


def test_scripted_readers_follow_their_protocols() -> None:
    asr = ScriptedTranscriber("my router shows error 42", confidence=0.8)
    assert isinstance(asr, Transcriber)
    heard = asr.transcribe(Waveform(np.zeros(32000, dtype=np.float32), 16000))
    assert heard.text == "my router shows error 42" and heard.confidence == 0.8 and heard.duration_s == 2.0
    ocr = ScriptedReader(["Error E-42", "Mesh link lost"], known_products=("X200",))
    assert isinstance(ocr, ScreenshotReader)
    read = ocr.read(Image.new("RGB", (8, 8)))
    assert read.fields.error_codes == ("E-42",) and read.text == "Error E-42\nMesh link lost"
    assert ScriptedReader().read(Image.new("RGB", (8, 8))).empty
