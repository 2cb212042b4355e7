"""ImageBind embedder backend on a tiny random ImageBindModel: contract, preprocessing parity with the
reference `imagebind.data`, checkpoint loading, device/dtype choice, the factory and lazy imports."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from core.checkpoints import Checkpoint
from core.config import Limits, Settings
from core.devices import best_device, default_dtype
from core.errors import ConfigError, InputError, ModelMissingError
from core.types import Waveform
from retrieval.embedders import preprocess
from retrieval.embedders.factory import DEFAULT_DIM, make_embedder
from retrieval.embedders.imagebind import HUGE, ImageBindEmbedder, build_imagebind, import_imagebind_model
from retrieval.embedders.protocol import Embedder
from retrieval.media import load_audio, load_image
from tests.contract_embedder import EmbedderContract, sample_images, sample_texts, sample_waveforms
from tests.tiny_models import TINY_ARCH, TINY_SEED, tiny_imagebind_embedder, tiny_imagebind_model

pytestmark = pytest.mark.slow  # the ImageBind backend on a tiny real config

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny() -> ImageBindEmbedder:
    return tiny_imagebind_embedder()


class TestImageBindContract(EmbedderContract):
    @pytest.fixture
    def embedder(self, tiny: ImageBindEmbedder) -> Embedder:
        return tiny


def test_tiny_model_is_the_real_class_and_runs_fp32_on_cpu(tiny: ImageBindEmbedder) -> None:
    module = import_imagebind_model()
    model = tiny_imagebind_model()
    assert type(model) is module.ImageBindModel
    assert tiny.dim == 32
    assert tiny.device == torch.device("cpu")
    assert tiny._model is not None
    assert {p.dtype for p in tiny._model.parameters()} == {torch.float32}


def test_precision_int8_quantises_the_linear_layers_on_cpu_and_agrees_with_float32() -> None:
    fp32 = ImageBindEmbedder(model=tiny_imagebind_model(), device="cpu")
    int8 = ImageBindEmbedder(model=tiny_imagebind_model(), device="cpu", precision="int8")
    int8.load()
    int8.load()  # idempotent: quantised once
    assert int8._model is not None
    assert any(type(m).__module__.startswith("torch.ao.nn.quantized.dynamic") for m in int8._model.modules())
    assert not any(type(m) is torch.nn.Linear for m in int8._model.modules())
    texts, images, clips = sample_texts()[:3], sample_images()[:2], sample_waveforms()[:2]
    for a, b in (
        (fp32.embed_text(texts), int8.embed_text(texts)),
        (fp32.embed_images(images), int8.embed_images(images)),
        (fp32.embed_audio(clips), int8.embed_audio(clips)),
    ):
        assert b.dtype == np.float32 and b.shape == a.shape
        np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
        assert float(np.sum(a * b, axis=1).min()) > 0.99


def test_same_seed_same_vectors_other_seed_other_vectors(tiny: ImageBindEmbedder) -> None:
    again = tiny_imagebind_embedder()
    other = tiny_imagebind_embedder(seed=99)
    texts = sample_texts()[:2]
    np.testing.assert_array_equal(tiny.embed_text(texts), again.embed_text(texts))
    assert not np.allclose(tiny.embed_text(texts), other.embed_text(texts), atol=1e-3)


def test_embed_before_load_loads_implicitly_and_empty_input_does_not() -> None:
    embedder = ImageBindEmbedder(model=tiny_imagebind_model(), device="cpu", batch_size=2)
    assert not embedder.loaded
    assert embedder.embed_images([]).shape == (0, 32)
    assert not embedder.loaded
    vectors = embedder.embed_text(["hello", "world", "again"])
    assert embedder.loaded and vectors.shape == (3, 32)


def test_batch_size_does_not_change_results() -> None:
    waves = sample_waveforms()
    one = ImageBindEmbedder(model=tiny_imagebind_model(), device="cpu", batch_size=1)
    many = ImageBindEmbedder(model=tiny_imagebind_model(), device="cpu", batch_size=16)
    np.testing.assert_allclose(one.embed_audio(waves), many.embed_audio(waves), atol=1e-5)


def test_bad_inputs_are_input_errors(tiny: ImageBindEmbedder) -> None:
    with pytest.raises(InputError, match="16000 Hz"):
        tiny.embed_audio([Waveform(samples=np.zeros(8000, dtype=np.float32), sample_rate=8000)])
    with pytest.raises(InputError, match="PIL image"):
        tiny.embed_images([np.zeros((4, 4, 3))])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        tiny.embed_text("one string, not a list")


def test_constructor_is_cheap_and_validates() -> None:
    embedder = ImageBindEmbedder()  # no model read, no imagebind import needed
    assert embedder.dim == HUGE.out_embed_dim == DEFAULT_DIM == 1024
    assert embedder.name == "imagebind_huge" and not embedder.loaded
    with pytest.raises(ConfigError, match="imagebind_huge"):
        ImageBindEmbedder(checkpoint="imagebind_giant")
    with pytest.raises(ConfigError, match="batch_size"):
        ImageBindEmbedder(batch_size=0)


def test_missing_weights_name_file_url_and_destination(tmp_path: Path) -> None:
    embedder = ImageBindEmbedder(model_dir=tmp_path, device="cpu")
    with pytest.raises(ModelMissingError) as info:
        embedder.load()
    message = str(info.value)
    assert "imagebind_huge.pth" in message
    assert "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth" in message
    assert str(tmp_path / "imagebind_huge" / "imagebind_huge.pth") in message
    assert not embedder.loaded


def _tiny_checkpoint(tmp_path: Path) -> Checkpoint:
    checkpoint = Checkpoint(
        name="tiny_test",
        filename="tiny.pth",
        url="http://127.0.0.1:9/tiny.pth",
        sha256=None,
        size_bytes=None,
        licence="test only",
        description="tiny random ImageBind for tests",
    )
    (tmp_path / "tiny_test").mkdir()
    torch.save(_full_tiny_state(), tmp_path / "tiny_test" / "tiny.pth")
    return checkpoint


ALL_MODALITIES = ("vision", "text", "audio", "depth", "thermal", "imu")


def _full_tiny_state() -> dict[str, torch.Tensor]:
    """A checkpoint like the published one: every modality, the used ones as `tiny_imagebind_model()`."""
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(TINY_SEED)
        return build_imagebind(TINY_ARCH, modalities=ALL_MODALITIES).state_dict()
    finally:
        torch.random.set_rng_state(state)


def test_only_the_used_trunks_are_built_and_the_strict_check_covers_them(tmp_path: Path) -> None:
    model = tiny_imagebind_model()
    for part in ("modality_preprocessors", "modality_trunks", "modality_heads", "modality_postprocessors"):
        assert set(getattr(model, part)) == {"vision", "text", "audio"}, part
    checkpoint = _tiny_checkpoint(tmp_path)
    state = _full_tiny_state()
    assert any(k.startswith("modality_trunks.depth.") for k in state)  # ignored, not loaded
    del state[next(k for k in state if k.startswith("modality_trunks.vision."))]
    torch.save(state, tmp_path / "tiny_test" / "tiny.pth")
    with pytest.raises(ConfigError, match="does not hold the weights"):
        ImageBindEmbedder(checkpoint=checkpoint, model_dir=tmp_path, device="cpu", arch=TINY_ARCH).load()


def test_load_reads_checkpoint_file_into_the_architecture(tmp_path: Path, tiny: ImageBindEmbedder) -> None:
    checkpoint = _tiny_checkpoint(tmp_path)
    register = torch.nn.Module.register_parameter
    from_file = ImageBindEmbedder(checkpoint=checkpoint, model_dir=tmp_path, device="cpu", arch=TINY_ARCH)
    from_file.load()
    assert torch.nn.Module.register_parameter is register  # the build-time patch is undone
    assert from_file._model is not None
    assert all(p.device.type == "cpu" for p in from_file._model.parameters())
    for modality, inputs in (
        ("text", sample_texts()),
        ("image", sample_images()),
        ("audio", sample_waveforms()),
    ):
        method = {"text": "embed_text", "image": "embed_images", "audio": "embed_audio"}[modality]
        np.testing.assert_allclose(
            getattr(from_file, method)(inputs), getattr(tiny, method)(inputs), atol=1e-6, err_msg=modality
        )


def test_checkpoint_for_another_architecture_is_a_config_error(tmp_path: Path) -> None:
    checkpoint = _tiny_checkpoint(tmp_path)
    wider = TINY_ARCH.__class__(**{**TINY_ARCH.__dict__, "out_embed_dim": 64})
    with pytest.raises(ConfigError, match="does not hold the weights"):
        ImageBindEmbedder(checkpoint=checkpoint, model_dir=tmp_path, device="cpu", arch=wider).load()
    (tmp_path / "tiny_test" / "tiny.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="could not be read"):
        ImageBindEmbedder(checkpoint=checkpoint, model_dir=tmp_path, device="cpu", arch=TINY_ARCH).load()


# --- preprocessing parity with the reference imagebind.data -------------------------------------


def _reference_data() -> Any:
    import_imagebind_model()
    return importlib.import_module("imagebind.data")


def test_image_preprocessing_matches_reference(tmp_path: Path) -> None:
    data = _reference_data()
    for i, image in enumerate(sample_images()[:3]):
        path = tmp_path / f"img{i}.png"
        image.save(path)
        ours = preprocess.images_to_tensor([load_image(path, Limits())])
        reference = data.load_and_transform_vision_data([str(path)], "cpu")
        assert ours.shape == (1, 3, 224, 224)
        torch.testing.assert_close(ours, reference)


def test_text_tokens_match_reference(tiny: ImageBindEmbedder) -> None:
    data = _reference_data()
    assert tiny._tokenizer is not None
    texts = sample_texts()
    ours = preprocess.texts_to_tokens(texts, tiny._tokenizer)
    assert ours.shape == (len(texts), 77) and ours.dtype == torch.long
    torch.testing.assert_close(ours, data.load_and_transform_text(texts, "cpu"))


def test_audio_preprocessing_matches_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _reference_data()

    # Fake (not the subject here): the reference reads files with torchaudio.load, which needs an
    # extra decoder package in this torchaudio; read the same WAV with soundfile instead.
    def fake_load(path: str) -> tuple[torch.Tensor, int]:
        samples, rate = sf.read(path, dtype="float32", always_2d=True)
        return torch.from_numpy(samples.T.copy()), rate

    monkeypatch.setattr(data.torchaudio, "load", fake_load)
    rng = np.random.default_rng(3)
    # 9.3 s: the three clips do not overlap, so the reference's in-place centring cannot interfere.
    signal = np.clip(0.3 * rng.standard_normal(int(9.3 * 16000)), -1.0, 1.0).astype(np.float32)
    path = tmp_path / "clip.wav"
    sf.write(path, signal, 16000, subtype="FLOAT")
    ours = preprocess.waveforms_to_tensor([load_audio(path, Limits())])
    reference = data.load_and_transform_audio_data([str(path)], "cpu")
    assert ours.shape == (1, 3, 1, 128, 204)
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-4)


def test_short_audio_is_padded_to_three_full_clips() -> None:
    short = Waveform(samples=np.full(100, 0.1, dtype=np.float32), sample_rate=16000)
    out = preprocess.waveform_to_tensor(short)
    assert out.shape == (3, 1, 128, 204)
    assert torch.all(torch.isfinite(out))
    padding = (0.0 - preprocess.AUDIO_MEAN) / preprocess.AUDIO_STD
    torch.testing.assert_close(out[0, 0, :, -1], torch.full((128,), padding))


def test_clip_timepoints_spread_evenly() -> None:
    assert [(float(a), float(b)) for a, b in preprocess.clip_timepoints(8.0)] == [(0, 2), (2, 4), (4, 6)]
    assert [(float(a), float(b)) for a, b in preprocess.clip_timepoints(1.0)] == [(0, 2)] * 3


# --- devices, factory, imports ------------------------------------------------------------------


def test_best_device_and_dtype() -> None:
    expected = (
        "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    )
    assert best_device(None).type == expected
    assert best_device("cpu") == torch.device("cpu")
    assert default_dtype(torch.device("cpu")) == torch.float32
    assert default_dtype(torch.device("cuda")) == torch.float16
    with pytest.raises(ConfigError, match="not supported|is not cpu"):
        best_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_requesting_cuda_without_cuda_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match="no CUDA GPU.*--device cpu"):
        best_device("cuda")
    with pytest.raises(ConfigError):
        ImageBindEmbedder(model=tiny_imagebind_model(), device="cuda:0").load()


def test_factory_builds_imagebind_lazily_and_rejects_unknown_names(tmp_path: Path) -> None:
    embedder = make_embedder(Settings(model_dir=tmp_path, batch_size=3))
    assert isinstance(embedder, ImageBindEmbedder) and isinstance(embedder, Embedder)
    assert embedder.dim == DEFAULT_DIM and embedder.batch_size == 3 and not embedder.loaded
    with pytest.raises(ConfigError, match="known embedders: imagebind"):
        make_embedder(Settings(embedder="clip"))


def test_importing_the_backend_imports_neither_torch_nor_imagebind() -> None:
    code = (
        "import sys, retrieval.embedders.factory, retrieval.embedders.imagebind, core.checkpoints, "
        "core.devices, retrieval.media\n"
        "bad = [m for m in ('torch', 'imagebind', 'pytorchvideo') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


def test_compat_alias_points_at_torchvision_functional() -> None:
    import torchvision.transforms.functional as functional

    import_imagebind_model()
    assert sys.modules["torchvision.transforms.functional_tensor"] is functional


def test_build_huge_without_init_has_the_published_size() -> None:
    def size(model: torch.nn.Module) -> int:
        return sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())

    full = size(build_imagebind("huge", empty=True, modalities=ALL_MODALITIES))
    # imagebind_huge.pth holds float32 tensors: ~4 bytes per element plus pickle overhead.
    assert 4_790_000_000 < 4 * full < 4_803_584_173
    used = size(build_imagebind("huge", empty=True))  # vision, text and audio only
    assert 4 * (full - used) > 0.45 * 2**30


@pytest.mark.gpu
def test_cuda_runs_fp16_and_matches_cpu(tiny: ImageBindEmbedder) -> None:
    gpu = ImageBindEmbedder(model=tiny_imagebind_model(), device="cuda", batch_size=4)
    gpu.load()
    assert gpu._model is not None and next(gpu._model.parameters()).dtype == torch.float16
    for method, inputs in (
        ("embed_text", sample_texts()),
        ("embed_images", sample_images()),
        ("embed_audio", sample_waveforms()),
    ):
        on_gpu = getattr(gpu, method)(inputs)
        on_cpu = getattr(tiny, method)(inputs)
        assert on_gpu.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(on_gpu, axis=1), 1.0, atol=1e-3)
        assert np.all(np.sum(on_gpu * on_cpu, axis=1) > 0.99), method
