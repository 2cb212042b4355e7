"""`supportbot models list | download | import`, downloads against a loopback Hugging Face server.

The server (`tests/hf_server.py`) serves a tiny random T5 (saved in the Hugging Face layout) as
google/flan-t5-base at the catalogue's pinned commit, so a download is followed by a real load
through the T5 generator. Nothing leaves the machine: the network guard of conftest.py allows
loopback only.
"""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from chatbot.generators.protocol import Evidence, GenerationRequest
from chatbot.generators.t5 import T5Generator
from core.catalogue import CATALOGUE, spec
from core.errors import ChecksumError, ModelMissingError
from core.hub import MANIFEST, download
from core.models import ModelLocator
from tests.hf_server import FakeHub, HubServer
from tests.tiny_t5 import save_tiny_t5

T5 = spec("flan-t5-base")


@pytest.fixture(scope="module")
def tiny_t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_t5(tmp_path_factory.mktemp("served") / "flan-t5-base", wordy=True)


@pytest.fixture
def hub(tiny_t5_dir: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # loopback only (conftest guard)
    # huggingface_hub writes in 10 MiB chunks; the served files are smaller, so let a cut transfer keep
    # what arrived in 8 KiB steps (what a real 1 GB transfer does at its own chunk size).
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 8192)
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "*")
    fake = FakeHub()
    fake.add_folder(T5.repo, T5.revision, tiny_t5_dir)
    return fake


@pytest.fixture
def served(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with HubServer(hub) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        yield url


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_every_model_with_role_status_path_size_licence_and_loss(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _run(capsys, "models", "list", "--model-dir", str(tmp_path))
    assert code == 0
    for name in CATALOGUE:
        assert name in out, name
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    assert " missing " in lines["flan-t5-base"] and str(tmp_path / "flan-t5-base") in lines["flan-t5-base"]
    assert " bundled " in lines["bundled-tiny.en"] and " bundled " in lines["rapidocr"]
    assert "about 4.8 GB" in lines["imagebind_huge"] and "about 990 MB" in lines["flan-t5-base"]
    assert "CC BY-NC-SA 4.0" in out and "Apache-2.0" in out and "MIT" in out
    assert "without it: written answers" in out
    assert "supportbot models download NAME" in out


def test_download_then_the_generator_loads_it_by_name(
    served: str, hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        capsys, "models", "download", "flan-t5-base", "--model-dir", str(tmp_path), "--no-progress"
    )
    assert code == 0, err
    folder = tmp_path / "flan-t5-base"
    assert f"ready at {folder}" in out
    assert (folder / "model.safetensors").is_file() and (folder / MANIFEST).is_file()
    assert not list(folder.rglob("*.partial"))
    fetched = {path.rsplit("/", 1)[1] for method, path, _ in hub.requests if "/resolve/" in path}
    assert "model.safetensors" in fetched and all(T5.revision in p for _, p, _ in hub.requests)
    generator = T5Generator("google/flan-t5-base", model_dir=tmp_path, device="cpu", max_new_tokens=8)
    answer = generator.generate(GenerationRequest("How do I reset?", (), (Evidence(1, "d", "Hold reset."),)))
    assert answer.generator == "t5"
    _, out, _ = _run(capsys, "models", "list", "--model-dir", str(tmp_path))
    assert " present " in next(line for line in out.splitlines() if line.startswith("flan-t5-base"))
    code, out, _ = _run(
        capsys, "models", "download", "flan-t5-base", "--model-dir", str(tmp_path), "--no-progress"
    )
    assert code == 0 and sum("/resolve/" in p for _, p, _ in hub.requests) == len(
        fetched
    )  # nothing refetched


def test_an_interrupted_transfer_resumes_with_a_range_request(
    served: str, hub: FakeHub, tmp_path: Path
) -> None:
    size = (hub.repos[T5.repo].files["model.safetensors"]).__len__()
    hub.drop_after["model.safetensors"] = size // 3  # every response breaks off after a third
    path = download(T5, ModelLocator(tmp_path), endpoint=served, progress=False) / "model.safetensors"
    assert (
        hashlib.sha256(path.read_bytes()).hexdigest()
        == hashlib.sha256(hub.repos[T5.repo].files["model.safetensors"]).hexdigest()
    )
    ranges = [r for _, p, r in hub.requests if p.endswith("model.safetensors")]
    assert ranges[0] == "" and len(ranges) >= 2 and all(r.startswith("bytes=") for r in ranges[1:])


def test_a_partial_file_from_an_earlier_run_is_resumed(served: str, hub: FakeHub, tmp_path: Path) -> None:
    data = hub.repos[T5.repo].files["model.safetensors"]
    folder = tmp_path / "flan-t5-base"
    folder.mkdir()
    (folder / "model.safetensors.partial").write_bytes(data[: len(data) // 2])  # what a killed run left
    download(T5, ModelLocator(tmp_path), endpoint=served, progress=False)
    assert (folder / "model.safetensors").read_bytes() == data
    ranges = [r for _, p, r in hub.requests if p.endswith("model.safetensors")]
    assert ranges == [f"bytes={len(data) // 2}-"]


def test_a_checksum_mismatch_keeps_nothing_and_says_so(
    served: str, hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.corrupt.add("model.safetensors")
    with pytest.raises(ChecksumError, match="sha256 .* expected"):
        download(T5, ModelLocator(tmp_path), endpoint=served, progress=False)
    folder = tmp_path / "flan-t5-base"
    assert not (folder / "model.safetensors").exists() and not list(folder.rglob("*.partial"))
    code, _, err = _run(
        capsys, "models", "download", "flan-t5-base", "--model-dir", str(tmp_path), "--no-progress"
    )
    assert code == 1 and "not the published one" in err


def test_a_missing_file_is_a_clear_error(served: str, hub: FakeHub, tmp_path: Path) -> None:
    hub.vanished.add("spiece.model" if "spiece.model" in hub.repos[T5.repo].files else "tokenizer.json")
    with pytest.raises(ModelMissingError, match="could not download .*404") as info:
        download(T5, ModelLocator(tmp_path), endpoint=served, progress=False)
    assert "supportbot models import flan-t5-base PATH" in str(info.value)
    assert not list((tmp_path / "flan-t5-base").rglob("*.partial"))


def test_a_repo_without_the_required_files_is_refused(served: str, hub: FakeHub, tmp_path: Path) -> None:
    del hub.repos[T5.repo].files["model.safetensors"]
    with pytest.raises(ModelMissingError, match="has no model.safetensors"):
        download(T5, ModelLocator(tmp_path), endpoint=served, progress=False)
    hub.repos[T5.repo].revision = "0" * 40  # the pinned commit is not on the server
    with pytest.raises(ModelMissingError, match="could not list"):
        download(T5, ModelLocator(tmp_path), endpoint=served, progress=False)


def test_import_from_a_folder_an_archive_and_refusals(
    tiny_t5_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    code, out, err = _run(
        capsys, "models", "import", "flan-t5-base", str(tiny_t5_dir), "--model-dir", str(models)
    )
    assert code == 0, err
    assert (models / "flan-t5-base" / "model.safetensors").is_file()
    archive = tmp_path / "t5.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny_t5_dir, arcname="flan-t5-base")
    other = tmp_path / "other"
    assert main(["models", "import", "flan-t5-base", str(archive), "--model-dir", str(other)]) == 0
    assert T5Generator("google/flan-t5-base", model_dir=other).load() is None
    zipped = tmp_path / "t5.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for f in tiny_t5_dir.iterdir():
            z.write(f, f.name)
        z.writestr("../evil.txt", "x")
    capsys.readouterr()
    code, _, err = _run(
        capsys, "models", "import", "flan-t5-base", str(zipped), "--model-dir", str(tmp_path / "z")
    )
    assert code == 1 and "outside the model folder" in err and not (tmp_path / "evil.txt").exists()
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "config.json").write_text("{}")
    code, _, err = _run(
        capsys, "models", "import", "flan-t5-base", str(incomplete), "--model-dir", str(models)
    )
    assert code == 1 and "lacks model.safetensors" in err
    assert (models / "flan-t5-base" / "model.safetensors").is_file()  # the good copy is untouched
    wrong = tmp_path / "imagebind_huge.pth"
    wrong.write_bytes(b"not the weights")
    code, _, err = _run(capsys, "models", "import", "imagebind_huge", str(wrong), "--model-dir", str(models))
    assert code == 1 and "bytes" in err and not (models / "imagebind_huge").exists()


def test_unknown_and_bundled_names(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from core.catalogue import DOWNLOADABLE, FULL_PRODUCT

    assert set(FULL_PRODUCT) <= set(DOWNLOADABLE)
    assert all(len(spec(n).revision) == 40 for n in DOWNLOADABLE if spec(n).source == "hub")
    code, _, err = _run(capsys, "models", "download", "gpt-9", "--model-dir", str(tmp_path))
    assert code == 1 and "known models:" in err and "flan-t5-base" in err
    code, _, err = _run(capsys, "models", "download", "bundled-tiny.en", "--model-dir", str(tmp_path))
    assert code == 1 and "not downloaded" in err
    code, _, err = _run(capsys, "models", "import", "flan-t5-base", "--model-dir", str(tmp_path))
    assert code == 1 and "needs a PATH" in err
