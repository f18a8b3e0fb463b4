"""The demo model in Hugging Face format (what vLLM loads): converted once from the GGUF, checksummed, cached.

The conversion runs in the vLLM tools venv (transformers + gguf + torch); `make test` builds it. The first run here
converts (about 35 s on 2 cores); later runs find the folder and check its checksums.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from inference_autotuner.models.cache import KNOWN_MODELS, MANIFEST, cached_path, converter_python, hf_folder_ok

REPO = Path(__file__).resolve().parents[1]


def test_pull_hf_format_converts_once_and_checks_checksums(model_path: Path) -> None:
	if converter_python() is None:
		pytest.skip("no converter: build the vLLM tools venv (make .tools/vllm/.installed) and set AUTOTUNER_TOOLS_DIR")
	cmd = [sys.executable, "-m", "inference_autotuner.cli", "models", "pull", "smollm2", "--format", "hf"]
	p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=900)
	assert p.returncode == 0, p.stdout + p.stderr
	folder = cached_path("smollm2", "hf")
	assert str(folder) in " ".join(p.stdout.split())
	config = json.loads((folder / "config.json").read_text())
	assert config["model_type"] == "llama" and "quantization_config" not in config  # a plain bf16 checkpoint
	manifest = json.loads((folder / MANIFEST).read_text())
	assert manifest["source"]["sha256"] == KNOWN_MODELS["smollm2"].sha256
	weights = manifest["files"]["model.safetensors"]
	assert weights["sha256"] == KNOWN_MODELS["smollm2"].hf_weights_sha256 and weights["size"] > 250_000_000
	assert {"tokenizer.json", "tokenizer_config.json"} <= set(manifest["files"])
	assert hf_folder_ok(folder, checksums=True)
	mtime = (folder / "model.safetensors").stat().st_mtime
	again = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
	assert again.returncode == 0 and "converting" not in again.stdout, "made once, then reused"
	assert (folder / "model.safetensors").stat().st_mtime == mtime


def test_a_damaged_folder_is_not_used(tmp_path: Path) -> None:
	folder = tmp_path / "hf"
	folder.mkdir()
	(folder / "config.json").write_text('{"model_type": "llama"}')
	from inference_autotuner.models.cache import sha256_of

	entry = {"size": (folder / "config.json").stat().st_size, "sha256": sha256_of(folder / "config.json")}
	(folder / MANIFEST).write_text(json.dumps({"files": {"config.json": entry}}))
	assert hf_folder_ok(folder, checksums=True)
	(folder / "config.json").write_text('{"model_type": "LLAMA"}')  # same size, other bytes
	assert hf_folder_ok(folder) and not hf_folder_ok(folder, checksums=True)
	(folder / "config.json").write_text("{}")
	assert not hf_folder_ok(folder)
	shutil.rmtree(folder)
	assert not hf_folder_ok(folder)


def test_no_converter_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
	from inference_autotuner.errors import ModelNotFoundError
	from inference_autotuner.models.cache import _pull_hf_folder

	monkeypatch.delenv("AUTOTUNER_CONVERT_PYTHON", raising=False)
	monkeypatch.setenv("AUTOTUNER_TOOLS_DIR", str(tmp_path))  # no vllm venv there
	monkeypatch.setenv("AUTOTUNER_CACHE_DIR", str(tmp_path / "cache"))
	with pytest.raises(ModelNotFoundError) as info:
		_pull_hf_folder("smollm2", tmp_path / "x.gguf", force=False, say=lambda _: None)
	assert "make .tools/vllm/.installed" in str(info.value)
	assert not os.listdir(tmp_path / "cache" / "models")
