"""Provenance: what produced an experiment's figures, stored with it (Experiment.provenance) so that a result can be
trusted, reproduced and compared: the engine and its version (the image in docker mode), the tools' versions, the host
(name, CPU model and cores, GPU model / driver / count), the exact argv and environment, a hash of the workload, the
tuner's version and git revision.

The host and tool part is gathered once per tuner process (`host_and_tools`), the engine's version once per engine
(`engine_version`); `for_experiment` adds what differs per experiment. Secrets in the environment are never stored.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__

SECRET_MARKERS = ("TOKEN", "SECRET", "PASSWORD", "KEY", "CREDENTIAL")
TOOLS = (
	"optuna",
	"sqlalchemy",
	"pydantic",
	"httpx",
	"xllamacpp",
	"aiconfigurator",
	"genai-bench",
	"aiperf",
	"guidellm",
)
# Fields that differ between experiments of one task by design; not a provenance difference.
PER_EXPERIMENT = ("argv", "experiment")


def _dist_version(name: str) -> str | None:
	try:
		return metadata.version(name)
	except metadata.PackageNotFoundError:
		return None


@functools.cache
def git_revision() -> dict[str, Any] | None:
	"""The tuner's git revision when it runs from a checkout (None from an installed wheel)."""
	root = Path(__file__).resolve().parents[1]
	if not (root / ".git").exists() or shutil.which("git") is None:
		return None
	try:
		rev = subprocess.run(
			["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
		).stdout.strip()
		dirty = subprocess.run(
			["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", "inference_autotuner"],
			capture_output=True,
			text=True,
			timeout=10,
		).stdout.strip()
	except (OSError, subprocess.SubprocessError):
		return None
	return {"revision": rev, "dirty": bool(dirty)}


def _cpu_model() -> str | None:
	try:
		for line in Path("/proc/cpuinfo").read_text().splitlines():
			if line.lower().startswith("model name"):
				return line.split(":", 1)[1].strip()
	except OSError:
		pass
	return platform.processor() or None


def _gpu_driver() -> str | None:
	try:
		import pynvml  # type: ignore[import-not-found]

		pynvml.nvmlInit()
		try:
			v = pynvml.nvmlSystemGetDriverVersion()
			return v.decode() if isinstance(v, bytes) else str(v)
		finally:
			pynvml.nvmlShutdown()
	except Exception:  # noqa: BLE001 - no NVML: try nvidia-smi
		pass
	exe = shutil.which("nvidia-smi")
	if exe is None:
		return None
	try:
		out = subprocess.run(
			[exe, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=10
		).stdout
	except (OSError, subprocess.SubprocessError):
		return None
	return out.strip().splitlines()[0].strip() if out.strip() else None


@functools.cache
def host_and_tools() -> dict[str, Any]:
	"""The host (name, OS, CPU, GPUs and driver) and the tools' versions, once per process."""
	from .gpus import discover

	gpus = discover()
	return {
		"tuner": {"version": __version__, "git": git_revision()},
		"host": {
			"name": socket.gethostname(),
			"os": f"{platform.system()} {platform.release()}",
			"cpu": _cpu_model(),
			"cpu_count": os.cpu_count(),
			"gpus": [{"name": g.name, "memory_mib": g.memory_total // (1024 * 1024)} for g in gpus],
			"gpu_count": len(gpus),
			"driver": _gpu_driver() if gpus else None,
		},
		"tools": {
			"python": platform.python_version(),
			**{name: v for name in TOOLS if (v := _dist_version(name)) is not None},
		},
	}


def engine_version(engine: Any, deployment_mode: str, image: str | None = None) -> dict[str, Any]:
	"""The engine's name and version as far as it can be known without launching it: the installed distribution
	(llama.cpp: xllamacpp; vLLM / SGLang: asked of the engine's own Python), the image in docker and cluster modes."""
	name = getattr(engine, "name", str(engine))
	out: dict[str, Any] = {"name": name, "version": None, "distribution": None}
	if image:
		out["image"] = image
		if deployment_mode == "docker":
			out["image_digest"] = image_digest(image)
	if deployment_mode == "predict":
		return out  # the performance model's backend version is in the experiment's prediction record
	if name == "llamacpp":
		out["distribution"], out["version"] = "xllamacpp", _dist_version("xllamacpp")
		return out
	python = None
	with_python = getattr(engine, "python", None)
	if callable(with_python) and deployment_mode == "local":
		try:
			python = with_python()
		except Exception:  # noqa: BLE001
			python = None
	if python:
		from .engines.catalog import probe

		try:
			found = probe(python, "version", name, timeout=30)
			out["distribution"], out["version"] = found.get("distribution"), found.get("version")
		except Exception:  # noqa: BLE001 - unknown version is recorded as unknown
			pass
	return out


def image_digest(image: str, client: Any = None) -> str | None:
	"""The local image's registry digest (`repo@sha256:...`, what `docker pull` can fetch again), else its image id
	(`sha256:...`, a locally built image); None when the daemon or the image cannot be reached (never raises)."""
	try:
		if client is None:
			from .deploy.docker import connect

			client = connect(timeout=5.0)
		found = client.images.get(image)
		digests = (getattr(found, "attrs", None) or {}).get("RepoDigests") or []
		return str(digests[0]) if digests else (str(found.id) if getattr(found, "id", None) else None)
	except Exception:  # noqa: BLE001 - provenance records what it can
		return None


def safe_env(env: dict[str, str]) -> dict[str, str]:
	"""The environment as stored: values of names that look secret replaced by '***'."""
	return {k: ("***" if any(m in k.upper() for m in SECRET_MARKERS) else v) for k, v in sorted(env.items())}


def workload_hash(spec: Any) -> str:
	"""sha256 of the benchmark section, the SLOs and the workload file's content (a dataset or trace,
	docs/workloads.md): two tasks with the same hash ran the same workload."""
	from .bench.workload import workload_file_sha256

	bench = spec.benchmark.model_dump(mode="json")
	slo = spec.slo.model_dump(mode="json") if spec.slo else None
	data = {"benchmark": bench, "slo": slo}
	if spec.benchmark.workload_kind is not None:
		data["file_sha256"] = workload_file_sha256(spec.benchmark)
	text = json.dumps(data, sort_keys=True)
	return hashlib.sha256(text.encode()).hexdigest()[:16]


def for_experiment(
	base: dict[str, Any],
	engine: dict[str, Any],
	spec: Any,
	*,
	argv: list[str] | None,
	prediction: dict[str, Any] | None = None,
) -> dict[str, Any]:
	"""One experiment's provenance: the host and tools, the engine, the exact argv and env, the workload hash."""
	eng = dict(engine)
	if prediction:  # predicted: the performance model and the backend version its database was measured on
		eng["version"] = prediction.get("version")
		eng["performance_model"] = prediction.get("source")
		eng["system"] = prediction.get("system")
	return {
		**base,
		"engine": eng,
		"deployment_mode": spec.deployment_mode,
		"argv": list(argv) if argv else None,
		"env": safe_env(dict(spec.env)),
		"workload_hash": workload_hash(spec),
		"model": spec.model.ref,
		"hardware": spec.hardware.model_dump(mode="json", exclude_none=True) if spec.hardware else None,
		"tuner_argv": list(sys.argv),
	}


def flatten(prov: dict[str, Any], prefix: str = "") -> dict[str, Any]:
	out: dict[str, Any] = {}
	for k, v in prov.items():
		key = f"{prefix}{k}"
		if isinstance(v, dict):
			out.update(flatten(v, key + "."))
		else:
			out[key] = json.dumps(v, sort_keys=True, default=str) if isinstance(v, list) else v
	return out


def differences(provs: list[dict[str, Any]], ignore: tuple[str, ...] = PER_EXPERIMENT) -> list[str]:
	"""Fields (dotted) whose value differs between the given provenance records, ignoring per-experiment ones."""
	flat = [flatten(p) for p in provs if p]
	keys = sorted({k for f in flat for k in f})
	skip = tuple(ignore) + ("tuner_argv",)
	return [
		k
		for k in keys
		if not any(k == s or k.startswith(s + ".") for s in skip) and len({repr(f.get(k)) for f in flat}) > 1
	]


def compare(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[tuple[str, Any, Any]]:
	"""(field, a's value, b's value) for every provenance field two tasks' results differ in (argv excluded)."""
	if not a or not b:
		return []
	fa, fb = flatten(a), flatten(b)
	return [(k, fa.get(k), fb.get(k)) for k in differences([a, b])]
