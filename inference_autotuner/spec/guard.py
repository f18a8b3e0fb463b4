"""What a spec may never do to the host: set the flags the tuner owns, or environment that changes how programs load.

A spec arrives from a file, the CLI or any HTTP client, and the runner turns it into a process on this machine. So:
- `env` passes an allow-list of engine/runtime variables (CUDA_*, NCCL_*, VLLM_*, SGLANG_*, OMP_*, HF_*, ...). What
  changes how a program is found or loaded (LD_*, PYTHON*, PATH, BROWSER, HOME, ...) is refused, and so are the
  variables the tuner sets itself (CUDA_VISIBLE_DEVICES: its GPU allocation) and secrets that do not belong in a
  stored spec (HF_TOKEN: set it in the tuner's own environment, or kubernetes.hf_token_secret).
- Engine flags the tuner owns (host, port, the model, API keys) and flags that make the engine write files where it
  is told are never parameters, baseline flags or preset flags.
"""

from __future__ import annotations

import re
from typing import Any

ENV_PREFIXES = (
	"CUDA_",
	"NCCL_",
	"VLLM_",
	"SGLANG_",
	"OMP_",
	"KMP_",
	"MKL_",
	"GGML_",
	"LLAMA_",
	"TRTLLM_",
	"TLLM_",
	"TORCH_",
	"HF_",
	"NVTE_",
	"UCX_",
)
ENV_NAMES = frozenset(
	{
		"PYTORCH_CUDA_ALLOC_CONF",
		"TOKENIZERS_PARALLELISM",
		"TRANSFORMERS_OFFLINE",
		"NVIDIA_TF32_OVERRIDE",
	}
)
ENV_OWNED = frozenset({"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"})
ENV_SECRETS = frozenset({"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_TOKEN"})
ENV_VALUE_MAX = 4096
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,127}$")

# Flags the tuner sets for every launch (where it serves, what it serves, who may call it), and flags that make an
# engine write files or load code from a path the spec names. Named without dashes, every spelling an engine accepts.
OWNED_FLAGS = frozenset(
	{
		"host",
		"port",
		"model",
		"m",
		"model-path",
		"model_path",
		"model-url",
		"hf-repo",
		"hf-file",
		"api-key",
		"api_key",
		"api-key-file",
		"ssl-keyfile",
		"ssl-certfile",
		"ssl-ca-certs",
		"ssl-key-file",
		"ssl-cert-file",
		"root-path",
		"allowed-origins",
		"uds",
		"path",
		"log-file",
		"slot-save-path",
		"media-path",
	}
)


def env_problem(name: Any, value: Any) -> str | None:
	"""Why the spec may not set this environment variable for the engine, or None."""
	if not isinstance(name, str) or not _ENV_NAME.match(name):
		return f"environment variable name {str(name)[:60]!r} is not a plain NAME (A-Z, 0-9, _)"
	if name in ENV_OWNED:
		return f"{name} is set by the tuner (it gives each experiment its GPUs); it cannot come from a spec"
	if name in ENV_SECRETS:
		return f"{name} is a secret and would be stored with the task; set it in the tuner's own environment"
	if name not in ENV_NAMES and not name.startswith(ENV_PREFIXES):
		return f"{name} is not an engine/runtime variable the tuner passes (it could change how programs load)"
	if not isinstance(value, str) or "\x00" in value or len(value) > ENV_VALUE_MAX:
		return f"{name}: the value must be text without NUL, at most {ENV_VALUE_MAX} characters"
	return None


def check_env(env: dict[str, Any]) -> dict[str, Any]:
	"""A pydantic validator body: the env mapping as it is, or ValueError naming every refused variable."""
	found = [why for name, value in env.items() if (why := env_problem(name, value))]
	if found:
		allowed = f"{', '.join(p + '*' for p in ENV_PREFIXES)}, {', '.join(sorted(ENV_NAMES))}"
		raise ValueError("; ".join(found) + f" (allowed: {allowed})")
	return env


def owned_flag_problem(name: str) -> str | None:
	"""Why `name` (a flag without dashes) cannot be a parameter, or None."""
	if name.lstrip("-") in OWNED_FLAGS:
		return (
			f"'{name}' is set by the tuner for every launch (where the engine listens, what it serves, its keys and "
			"files) and cannot be a parameter"
		)
	return None
