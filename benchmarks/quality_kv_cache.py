"""Quality of llama.cpp's quantized KV cache vs f16 on the demo model (docs/quality.md's figures).

    python benchmarks/quality_kv_cache.py [--prompts 8] [--max-tokens 16]

Starts the real engine once per cache type (f16 reference, q8_0, q4_0; flash attention on, which a quantized V
cache needs), probes each with the shipped prompts and prints top-1 agreement, mean KL and exact match against f16,
and the probe's wall time (the cost the guardrail adds to an experiment).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from inference_autotuner.deploy.local import LocalProcessDeployer
from inference_autotuner.deploy.ports import free_port
from inference_autotuner.engines import get_engine
from inference_autotuner.models import resolve_model
from inference_autotuner.quality import compare, probe_prompts
from inference_autotuner.quality.guard import ProbeResult
from inference_autotuner.quality.requests import complete

CACHE_TYPES = ("f16", "f16 again", "q8_0", "q4_0")  # f16 twice: two engine starts, the noise of the figures


def probe(base_url: str, prompts: list[str], max_tokens: int, top_k: int) -> ProbeResult:
	import time

	t0 = time.monotonic()
	done = [complete("llamacpp", base_url, p, max_tokens=max_tokens, top_k=top_k) for p in prompts]
	return ProbeResult(completions=done, seconds=time.monotonic() - t0)


def main() -> None:
	ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--prompts", type=int, default=8)
	ap.add_argument("--max-tokens", type=int, default=16)
	ap.add_argument("--top-k", type=int, default=10)
	args = ap.parse_args()
	model = resolve_model("smollm2")
	engine, deployer = get_engine("llamacpp"), LocalProcessDeployer()
	prompts = list(probe_prompts()[: args.prompts])
	results: dict[str, ProbeResult] = {}
	with tempfile.TemporaryDirectory() as tmp:
		for cache in CACHE_TYPES:
			port = free_port()
			params = {"parallel": 4, "threads": 2, "ctx-size": 4096, "flash-attn": "on"}
			params |= {"cache-type-k": cache.split()[0], "cache-type-v": cache.split()[0]}
			dep = deployer.start(
				engine.launch_argv(str(model), params, host="127.0.0.1", port=port),
				port=port,
				health_path=engine.health_path,
				log_path=Path(tmp) / f"{cache}.log",
				env={},
				timeout=60,
				labels={"bench": "quality"},
			)
			try:  # one request first: an experiment's probe runs on an engine warmed by the load runs
				complete("llamacpp", dep.base_url, "Hello", max_tokens=8, top_k=0)
				results[cache] = probe(dep.base_url, prompts, args.max_tokens, args.top_k)
			finally:
				deployer.stop(dep)
	ref = results["f16"]
	print(f"{len(prompts)} prompts x {args.max_tokens} tokens, top-{args.top_k}, reference f16")
	print(f"{'cache':9} {'top-1':>7} {'KL nats':>9} {'exact':>6} {'positions':>9} {'probe s':>8}")
	for cache, r in results.items():
		c = compare(ref.completions, r.completions)
		print(f"{cache:9} {c.top1:7.4f} {c.kl:9.5f} {c.exact:6.2f} {c.positions:9d} {r.seconds:8.2f}")


if __name__ == "__main__":
	main()
