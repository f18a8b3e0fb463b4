"""Runtime-agnostic parallelism: eight normalized fields, six presets per engine, constraints and world size.

Fields: tp (tensor), pp (pipeline), dp (data: model replicas), dcp (decode context), cp (context), ep (expert),
moe_tp / moe_ep (TensorRT-LLM's MoE tensor / expert split). Each engine maps the fields it has to its own flags and
refuses the others with a reason. World size (GPUs one server uses) follows each engine's own rule, read from the
final flags, so a flag set by hand (e.g. SGLang `tp-size`) counts the same as one derived here:
vLLM tp x pp x dp (dcp shards the KV cache over the tp GPUs); SGLang tp x pp x dp (dcp and attention cp reuse the tp
GPUs); TensorRT-LLM tp x pp x cp (MoE tp/ep split the tp GPUs); llama.cpp 1.

Sources read: vLLM `vllm/engine/arg_utils.py` (main: -tp/-pp/-dp/-dcp, --enable-expert-parallel: EP size = tp x dp),
SGLang 0.5.23 `sglang/srt/arg_groups/fields/parallel.py` (--tp-size, --pp-size, --dp-size, --dcp-size,
--attn-cp-size, --ep-size, --moe-dense-tp-size), TensorRT-LLM `tensorrt_llm/commands/serve.py` (--tp_size, --pp_size,
--cp_size, --ep_size; moe_tensor_parallel_size in the LLM-API YAML).
"""

from __future__ import annotations

from typing import Any

from .quant import Derived

PARALLEL_FIELDS = ("tp", "pp", "dp", "dcp", "cp", "ep", "moe_tp", "moe_ep")
DEFAULT_PARALLEL = {f: 1 for f in PARALLEL_FIELDS}


def _p(**kw: int) -> dict[str, int]:
	return {**DEFAULT_PARALLEL, **kw}


PARALLEL_PRESETS: dict[str, dict[str, dict[str, int]]] = {
	"vllm": {
		"single-gpu": _p(),
		"high-throughput": _p(dp=4),
		"large-model-tp": _p(tp=8),
		"large-model-tp-pp": _p(tp=4, pp=2),
		"moe-optimized": _p(tp=4, dp=2, ep=8),
		"long-context": _p(tp=4, dcp=4),
	},
	"sglang": {
		"single-gpu": _p(),
		"high-throughput": _p(dp=4),
		"large-model-tp": _p(tp=8),
		"large-model-tp-pp": _p(tp=4, pp=2),
		"moe-optimized": _p(tp=8, ep=8),
		"balanced": _p(tp=2, dp=2),
	},
	"trtllm": {
		"single-gpu": _p(),
		"balanced": _p(tp=2),
		"large-model-tp": _p(tp=8),
		"large-model-tp-pp": _p(tp=4, pp=2),
		"moe-optimized": _p(tp=8, moe_tp=2, moe_ep=4),
		"long-context": _p(tp=4, cp=2),
	},
	"llamacpp": {"single-gpu": _p()},
}

# normalized field -> the engine's flag (its canonical catalogue name)
PARALLEL_FLAGS: dict[str, dict[str, str]] = {
	"vllm": {
		"tp": "tensor-parallel-size",
		"pp": "pipeline-parallel-size",
		"dp": "data-parallel-size",
		"dcp": "decode-context-parallel-size",
	},
	"sglang": {"tp": "tp-size", "pp": "pp-size", "dp": "dp-size", "dcp": "dcp-size", "cp": "attn-cp-size"},
	"trtllm": {"tp": "tp_size", "pp": "pp_size", "cp": "cp_size", "ep": "ep_size", "moe_ep": "ep_size"},
	"llamacpp": {},
}


def normalize_parallel(values: dict[str, Any]) -> dict[str, int]:
	out = dict(DEFAULT_PARALLEL)
	for name, value in values.items():
		if name not in DEFAULT_PARALLEL:
			raise ValueError(f"unknown parallel field '{name}'; valid: {', '.join(PARALLEL_FIELDS)}")
		if isinstance(value, bool) or not isinstance(value, int) or value < 1:
			raise ValueError(f"{name} takes a whole number >= 1, got {value!r}")
		out[name] = value
	return out


def _unsupported(engine: str, p: dict[str, int], fields: tuple[str, ...], why: str) -> str | None:
	bad = [f"{f}={p[f]}" for f in fields if p[f] != 1]
	return f"{engine} has no {', '.join(bad)}: {why}" if bad else None


def map_parallel(engine: str, parallel: dict[str, Any]) -> Derived:
	"""Engine flags for a normalized parallel config, or the reason the engine cannot run it."""
	p = normalize_parallel(parallel)
	d = Derived()
	table = PARALLEL_FLAGS[engine]
	if engine == "llamacpp":
		why = _unsupported("llama.cpp", p, PARALLEL_FIELDS, "one server process; it splits layers over GPUs by itself")
		return d.refuse(why) if why else d
	if engine == "vllm":
		why = _unsupported("vLLM", p, ("cp", "moe_tp", "moe_ep"), "use dcp for context parallelism, ep for experts")
		if why:
			return d.refuse(why)
		if p["ep"] > 1 and p["ep"] != p["tp"] * p["dp"]:
			return d.refuse(
				f"vLLM's expert parallel size is tp x dp = {p['tp'] * p['dp']}, not ep={p['ep']}: set ep to that"
			)
		if p["ep"] > 1:
			d.flags["enable-expert-parallel"] = True
	elif engine == "sglang":
		why = _unsupported("SGLang", p, ("moe_tp", "moe_ep"), "SGLang splits experts with ep (moe tp = tp / ep)")
		if why:
			return d.refuse(why)
		if p["ep"] > 1:
			d.flags["ep-size"] = p["ep"]
	elif engine == "trtllm":
		why = _unsupported(
			"TensorRT-LLM",
			p,
			("dp", "dcp"),
			"trtllm-serve runs one replica (use attention DP in its YAML, or replicas)",
		)
		if why:
			return d.refuse(why)
		if p["ep"] > 1 and p["moe_ep"] > 1 and p["ep"] != p["moe_ep"]:
			return d.refuse(f"ep ({p['ep']}) and moe_ep ({p['moe_ep']}) are the same TensorRT-LLM setting (--ep_size)")
		if p["moe_tp"] > 1:
			d.options["moe_tensor_parallel_size"] = p["moe_tp"]
	for name, flag in table.items():
		if p[name] > 1 and flag not in d.flags:
			d.flags[flag] = p[name]
	return d


def effective_parallel(engine: str, flags: dict[str, Any], options: dict[str, Any] | None = None) -> dict[str, int]:
	"""The normalized parallel config that final engine flags (derived or set by hand) amount to."""
	p = dict(DEFAULT_PARALLEL)
	for name, flag in PARALLEL_FLAGS.get(engine, {}).items():
		value = flags.get(flag)
		if isinstance(value, int | float) and not isinstance(value, bool):
			p[name] = int(value)
	if engine == "vllm" and flags.get("enable-expert-parallel") is True:
		p["ep"] = p["tp"] * p["dp"]
	if engine == "sglang" and isinstance(flags.get("ep-size"), int):
		p["ep"] = int(flags["ep-size"])
	if engine == "trtllm":
		p["moe_ep"] = p["ep"]
		p["moe_tp"] = int((options or {}).get("moe_tensor_parallel_size", 1))
	return p


def check_constraints(engine: str, p: dict[str, int], flags: dict[str, Any]) -> str | None:
	"""Why an engine refuses this parallel layout, or None."""
	tp = p["tp"]
	if engine == "vllm":
		if tp % p["dcp"]:
			return f"vLLM needs tp divisible by dcp (decode context parallel shards KV over the tp GPUs): tp={tp}"
	if engine == "sglang":
		if tp % p["dcp"] or tp % p["cp"]:
			return f"SGLang needs tp divisible by dcp and cp (they split the tp GPUs): tp={tp}, dcp={p['dcp']}, cp={p['cp']}"
		if p["ep"] > 1 and tp % p["ep"]:
			return f"SGLang needs tp divisible by ep (experts split the tp GPUs): tp={tp}, ep={p['ep']}"
		attn_dp = flags.get("attn-dp-size", 1)
		if isinstance(attn_dp, int) and attn_dp > 1 and tp % attn_dp:
			return f"SGLang DP attention needs tp % dp == 0 (attn-dp-size splits the tp GPUs): tp={tp}, dp={attn_dp}"
	if engine == "trtllm":
		moe = p["moe_tp"] * max(p["ep"], p["moe_ep"])
		if (p["moe_tp"] > 1 or p["ep"] > 1) and moe != tp:
			return f"TensorRT-LLM needs moe_tp x moe_ep == tp: {p['moe_tp']} x {max(p['ep'], p['moe_ep'])} != {tp}"
	return None


def world_size(engine: str, p: dict[str, int]) -> int:
	if engine in ("vllm", "sglang"):
		return p["tp"] * p["pp"] * p["dp"]
	if engine == "trtllm":
		return p["tp"] * p["pp"] * p["cp"]
	return 1
