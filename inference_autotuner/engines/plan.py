"""From one experiment's parameters to what is launched: engine flags, world size, memory fit, or a refusal.

An experiment's parameters hold engine flags plus `__quant__NAME` / `__parallel__NAME` values (a field such as
`__quant__kvcache_dtype`, or `__quant__preset` / `__parallel__preset` naming a preset; a field overrides the preset's
value). `plan_launch` maps them to the engine's own flags; a flag the user set by hand wins over a derived one.
Outcomes: `ok` (launch `flags`), `skipped` (the engine cannot honour a field or a constraint, or the deployment has too
few GPUs) and `infeasible` (the memory estimate says it cannot fit). Neither of the last two is ever launched.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from .memory import GPU_MEMORY_GIB, MemoryEstimate, estimate_memory, find_model_config
from .parallel import PARALLEL_FIELDS, PARALLEL_PRESETS, check_constraints, map_parallel, normalize_parallel
from .quant import QUANT_FIELDS, QUANT_PRESETS, QUANT_VALUES, is_offline_quantized, map_quant, normalize_quant
from .trtllm import OPTIONS_KEY

QUANT_PREFIX = "__quant__"
PARALLEL_PREFIX = "__parallel__"
ENV_PREFIX = "env:"  # a parameter `env:VLLM_CPU_KVCACHE_SPACE` is an environment variable of the engine, not a flag


def env_value(value: Any) -> str:
	"""A parameter value as an environment variable's text (true/false -> 1/0, 4.0 -> 4)."""
	if isinstance(value, bool):
		return "1" if value else "0"
	if isinstance(value, float) and value.is_integer():
		return str(int(value))
	return str(value)


@dataclass(frozen=True)
class Hardware:
	"""The GPUs one deployment offers (None: unknown, not checked)."""

	gpu_count: int | None = None
	gpu_memory_gib: float | None = None
	gpu_model: str | None = None

	@classmethod
	def of(cls, gpu_model: str | None, gpu_count: int | None, gpu_memory_gib: float | None) -> Hardware:
		memory = gpu_memory_gib or (GPU_MEMORY_GIB.get(gpu_model.upper()) if gpu_model else None)
		return cls(gpu_count, memory, gpu_model)


class LaunchPlan(BaseModel):
	engine: str
	status: Literal["ok", "skipped", "infeasible"] = "ok"
	reason: str | None = None
	flags: dict[str, Any] = Field(default_factory=dict, description="Engine flags launch_argv gets")
	quant: dict[str, str] | None = Field(None, description="Normalized quantization (None: not asked)")
	parallel: dict[str, int] = Field(default_factory=dict, description="Normalized parallelism of the final flags")
	world_size: int = 1
	notes: list[str] = Field(default_factory=list)
	memory: MemoryEstimate | None = None
	env: dict[str, str] = Field(default_factory=dict, description="Environment variables from env:NAME parameters")

	def record(self) -> dict[str, Any]:
		"""What the experiment record keeps beside its params and argv."""
		return self.model_dump(mode="json", exclude={"flags"})


def split_params(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
	"""(engine flags, __quant__ values, __parallel__ values) with the prefixes removed."""
	flags, quant, parallel = {}, {}, {}
	for key, value in params.items():
		if key.startswith(QUANT_PREFIX):
			quant[key.removeprefix(QUANT_PREFIX)] = value
		elif key.startswith(PARALLEL_PREFIX):
			parallel[key.removeprefix(PARALLEL_PREFIX)] = value
		else:
			flags[key] = value
	return flags, quant, parallel


def resolve_quant(selection: dict[str, Any]) -> dict[str, str]:
	chosen = dict(selection)
	preset = chosen.pop("preset", None)
	base = dict(QUANT_PRESETS[str(preset)]) if preset is not None else {}
	return normalize_quant({**base, **chosen})


def resolve_parallel(engine: str, selection: dict[str, Any]) -> dict[str, int]:
	chosen = dict(selection)
	preset = chosen.pop("preset", None)
	base = dict(PARALLEL_PRESETS.get(engine, {})[str(preset)]) if preset is not None else {}
	return normalize_parallel({**base, **chosen})


def plan_launch(
	engine: Any,
	params: dict[str, Any],
	*,
	model_ref: str = "",
	model_config: dict[str, Any] | None = None,
	hardware: Hardware | None = None,
) -> LaunchPlan:
	"""Map one experiment's parameters to `engine`'s flags and check them (no engine is started)."""
	name = str(engine.name)
	env = {k.removeprefix(ENV_PREFIX): env_value(v) for k, v in params.items() if k.startswith(ENV_PREFIX)}
	user, qsel, psel = split_params({k: v for k, v in params.items() if not k.startswith(ENV_PREFIX)})
	canonical = getattr(engine, "canonical", lambda n: n)
	user = {canonical(k): v for k, v in user.items()}
	plan = LaunchPlan(engine=name, env=env)
	config = model_config if model_config is not None else (find_model_config(model_ref) if model_ref else None)
	derived: dict[str, Any] = {}
	options: dict[str, Any] = {}
	skips: list[str] = []
	try:
		if qsel:
			plan.quant = resolve_quant(qsel)
			q = map_quant(name, plan.quant, offline=is_offline_quantized(model_ref, config))
			derived.update(q.flags)
			options.update(q.options)
			plan.notes += q.notes
			skips += [q.skip] if q.skip else []
		if psel:
			p = map_parallel(name, resolve_parallel(name, psel))
			derived.update(p.flags)
			options.update(p.options)
			skips += [p.skip] if p.skip else []
	except (KeyError, ValueError) as exc:
		return plan.model_copy(update={"status": "skipped", "reason": f"no {name} mapping: {exc}"})
	flags = dict(derived)
	for key, value in user.items():
		if key in derived and derived[key] != value:
			plan.notes.append(f"{key}={value!r} set by hand wins over the derived {derived[key]!r}")
		flags[key] = value
	if options:
		if "config" in user:
			skips.append(f"config is set by hand, so the derived LLM-API options {options} cannot be applied")
		flags[OPTIONS_KEY] = options
	plan.flags = flags
	if skips:
		return plan.model_copy(update={"status": "skipped", "reason": skips[0]})
	parallel_of = getattr(engine, "parallel", None)
	plan.parallel = parallel_of(flags) if parallel_of else {f: 1 for f in PARALLEL_FIELDS}
	why = check_constraints(name, plan.parallel, flags)
	if why:
		return plan.model_copy(update={"status": "skipped", "reason": why})
	plan.world_size = int(engine.world_size(flags))
	hw = hardware or Hardware()
	if hw.gpu_count is not None and plan.world_size > hw.gpu_count:
		reason = f"needs {plan.world_size} GPUs (world size) but the deployment has {hw.gpu_count}"
		return plan.model_copy(update={"status": "skipped", "reason": reason})
	settings = getattr(engine, "memory_settings", None)
	if config and hw.gpu_memory_gib and settings:
		fraction, of_free, max_len = settings(flags)
		try:
			plan.memory = estimate_memory(
				config,
				quant=plan.quant or {},
				tp=plan.parallel["tp"],
				pp=plan.parallel["pp"],
				gpu_memory_gib=hw.gpu_memory_gib,
				fraction=fraction,
				max_len=max_len,
				fraction_of_free=of_free,
			)
		except (KeyError, TypeError, ValueError) as exc:
			plan.notes.append(f"memory not estimated: config.json lacks {exc}")
		if plan.memory is not None and not plan.memory.fits:
			return plan.model_copy(update={"status": "infeasible", "reason": plan.memory.reason})
	return plan


def config_problems(engine: str, quant_config: Any, parallel_config: Any) -> list[tuple[str, str, str | None]]:
	"""Problems in a spec's quant_config / parallel_config as (field path, message, hint)."""
	out: list[tuple[str, str, str | None]] = []
	quant_fields = {f: QUANT_VALUES[f] for f in QUANT_FIELDS}
	parallel_presets = PARALLEL_PRESETS.get(engine, {})
	for section, cfg, fields, presets in (
		("quant_config", quant_config, quant_fields, QUANT_PRESETS),
		("parallel_config", parallel_config, dict.fromkeys(PARALLEL_FIELDS, None), parallel_presets),
	):
		if cfg is None:
			continue
		for key, value in cfg.items():
			path = f"{section}.{key}"
			values = value if isinstance(value, list) else [value]
			if key in ("presets", "preset"):
				for i, v in enumerate(values):
					if str(v) not in presets:
						near = difflib.get_close_matches(str(v), list(presets), n=1, cutoff=0.5)
						hint = f"did you mean '{near[0]}'?" if near else f"valid: {', '.join(presets)}"
						out.append((f"{path}[{i}]", f"unknown {engine} preset {v!r}", hint))
				continue
			if key not in fields:
				near = difflib.get_close_matches(key, [*fields, "presets"], n=1, cutoff=0.5)
				hint = f"did you mean '{near[0]}'?" if near else f"valid fields: {', '.join(fields)}, presets"
				out.append((path, f"unknown field '{key}'", hint))
				continue
			allowed = fields[key]
			for i, v in enumerate(values):
				where = f"{path}[{i}]" if isinstance(value, list) else path
				if allowed is None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
					out.append((where, f"{key} takes whole numbers >= 1, got {v!r}", None))
				elif allowed is not None and str(v) not in allowed:
					out.append((where, f"{key} takes one of {', '.join(allowed)}, got {v!r}", None))
	return out


def hardware_for(spec: Any) -> Hardware:
	"""The GPUs a task's deployment offers: its `hardware` section, else (local/docker) the GPUs this host has."""
	hw = getattr(spec, "hardware", None)
	if hw is not None:
		return Hardware.of(hw.gpu, hw.gpu_count, hw.gpu_memory_gib)
	if getattr(spec, "deployment_mode", "local") not in ("local", "docker"):
		return Hardware()
	try:
		from ..gpus import discover
	except ImportError:
		return Hardware()
	found = discover()
	if not found:
		return Hardware()  # no GPU here: a CPU engine runs as it is; GPU engines fail to start with their own error
	return Hardware(len(found), min(g.memory_total for g in found) / 1024**3, found[0].name)


def plan_for(engine: Any, params: dict[str, Any], spec: Any, model_path: Any) -> LaunchPlan:
	"""plan_launch for one experiment of a task (model shape from the model's config.json, GPUs from the spec)."""
	return plan_launch(engine, params, model_ref=str(model_path), hardware=hardware_for(spec))
