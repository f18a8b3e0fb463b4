"""The quality guardrail's parts that need no engine: the figures' arithmetic, the eval set, the spec section, the
auto-enable rule and the verdict."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from inference_autotuner.errors import AutotunerError
from inference_autotuner.quality import (
	Completion,
	LogprobsUnavailable,
	Position,
	compare,
	complete,
	judge,
	load_eval,
	position_kl,
	probe_prompts,
	quality_spec,
)
from inference_autotuner.services.validate import parse_spec
from inference_autotuner.spec.quality import QualitySpec


def pos(token: str, **top: float) -> Position:
	return Position(token=token, top={k: math.log(v) for k, v in top.items()})


def spec(**extra: object) -> dict[str, object]:
	return {"task_name": "q", "model": {"id_or_path": "m.gguf"}, "base_runtime": "llama.cpp", **extra}


def test_kl_is_zero_for_the_same_distribution_and_matches_the_formula() -> None:
	a = pos("x", x=0.6, y=0.3, z=0.1)
	assert position_kl(a, a) == pytest.approx(0.0, abs=1e-12)
	b = pos("x", x=0.5, y=0.4, z=0.1)
	want = 0.6 * math.log(0.6 / 0.5) + 0.3 * math.log(0.3 / 0.4)
	assert position_kl(a, b) == pytest.approx(want, rel=1e-9)
	# top-2 of the reference only: x, y and an "other" bucket (0.1 on both sides)
	assert position_kl(pos("x", x=0.6, y=0.3), pos("x", x=0.5, y=0.4)) == pytest.approx(want, rel=1e-9)


def test_kl_gives_a_token_missing_from_the_candidates_top_k_its_leftover_mass() -> None:
	ref = pos("x", x=0.5, y=0.3)
	cand = pos("x", x=0.7, w=0.2)  # y is not in the candidate's top-k: it gets 1 - 0.9 = 0.1
	p = {"x": 0.5, "y": 0.3, "other": 0.2}
	q = {"x": 0.7, "y": 0.1, "other": 0.2}
	want = sum(p[t] * math.log(p[t] / q[t]) for t in p)
	assert position_kl(ref, cand) == pytest.approx(want, rel=1e-9)


def test_compare_stops_each_prompt_at_its_first_difference() -> None:
	ref = [
		Completion(text="a b c", positions=[pos("a", a=0.9), pos("b", b=0.9), pos("c", c=0.9)]),
		Completion(text="d e", positions=[pos("d", d=0.9), pos("e", e=0.9)]),
	]
	cand = [
		Completion(text="a x y", positions=[pos("a", a=0.9), pos("x", x=0.9), pos("y", y=0.9)]),
		Completion(text="d e", positions=[pos("d", d=0.9), pos("e", e=0.9)]),
	]
	c = compare(ref, cand)
	assert c.positions == 4  # a, x (the first difference, same context), d, e: never y
	assert c.top1 == pytest.approx(3 / 4)
	assert c.exact == pytest.approx(1 / 2)
	assert c.kl is not None and c.kl > 0


def test_the_shipped_probe_and_eval_sets_load_and_the_eval_answers_by_regex() -> None:
	assert len(probe_prompts()) >= 16 and len(set(probe_prompts())) == len(probe_prompts())
	items = load_eval("builtin")
	assert len(items) >= 20
	item = items[0]
	assert item.regex is not None
	assert item.correct(f" {item.expected}, of course.")
	assert not item.correct(" I do not know")


def test_a_bad_eval_line_is_named(tmp_path: Path) -> None:
	f = tmp_path / "e.jsonl"
	f.write_text(json.dumps({"prompt": "1+1=", "expected": "2"}) + "\n" + json.dumps({"prompt": "x"}) + "\n")
	with pytest.raises(AutotunerError, match="line 2: expected"):
		load_eval(str(f))
	f.write_text(json.dumps({"prompt": "1+1=", "expected": "2", "regex": "("}) + "\n")
	with pytest.raises(AutotunerError, match="line 1: regex"):
		load_eval(str(f))
	with pytest.raises(AutotunerError, match="no file"):
		load_eval(str(tmp_path / "missing.jsonl"))


def test_the_guardrail_turns_on_for_an_output_changing_knob_only() -> None:
	assert quality_spec(parse_spec(spec(parameters={"parallel": [1, 4]}))) is None
	on = quality_spec(parse_spec(spec(parameters={"parallel": [1, 4], "cache-type-k": ["f16", "q8_0"]})))
	assert on is not None and on.min_top1_agreement == 0.9
	assert quality_spec(parse_spec(spec(parameters={"cache-type-k": "q8_0"}))) is None  # fixed: the baseline's too
	off = spec(parameters={"cache-type-k": ["f16", "q8_0"]}, quality={"enabled": False})
	assert quality_spec(parse_spec(off)) is None
	given = quality_spec(parse_spec(spec(parameters={"parallel": [1, 4]}, quality={"max_kl": 0.05})))
	assert given is not None and given.max_kl == 0.05
	vllm = spec(base_runtime="vllm", parameters={"kv-cache-dtype": ["auto", "fp8"]})
	assert quality_spec(parse_spec(vllm)) is not None


def test_quality_objectives_come_after_a_speed_objective() -> None:
	ok = parse_spec(spec(optimization={"objectives": ["maximize_throughput", "maximize_quality_top1"]}))
	assert ok.optimization.objective == "maximize_throughput"
	with pytest.raises(AutotunerError, match="cannot be the first"):
		parse_spec(spec(optimization={"objective": "minimize_quality_kl"}))
	with pytest.raises(AutotunerError, match="min_top1_agreement"):
		parse_spec(spec(quality={"min_top1_agreement": 2}))


def test_judge_names_each_failed_threshold() -> None:
	q = QualitySpec(min_top1_agreement=0.98, max_kl=0.05, min_accuracy=0.5, eval={"path": "builtin"})
	good = {"quality_top1": 0.99, "quality_kl": 0.01, "quality_accuracy": 0.6}
	assert judge(q, good) == []
	bad = judge(q, {"quality_top1": 0.9, "quality_kl": 0.2, "quality_accuracy": 0.4})
	assert bad == ["top-1 agreement 0.9 < 0.98", "KL 0.2 > 0.05", "eval accuracy 0.4 < 0.5"]
	assert judge(QualitySpec(min_accuracy=0.5), {"quality_accuracy": 0.1}) == []  # no eval set: no accuracy check


def test_a_token_outside_the_candidates_top_k_is_no_likelier_than_its_kth_token() -> None:
	ref = pos("x", x=0.5, y=0.3)
	cand = pos("x", x=0.3, w=0.05)  # leftover 0.65, but y is below the candidate's 2nd token: 0.05
	p = {"x": 0.5, "y": 0.3, "other": 0.2}
	q = {"x": 0.3, "y": 0.05, "other": 0.65}
	want = sum(p[t] * math.log(p[t] / q[t]) for t in p)
	assert position_kl(ref, cand) == pytest.approx(want, rel=1e-9)


# vLLM, SGLang and TensorRT-LLM servers cannot run on this CPU-only machine: their answers are replayed by a small
# local HTTP server in the shapes their docs give (OpenAI completions logprobs; SGLang's /generate meta_info).
VLLM_ANSWER = {
	"choices": [
		{
			"text": " Paris.",
			"logprobs": {
				"tokens": [" Paris", "."],
				"token_logprobs": [-0.2, -0.4],
				"top_logprobs": [{" Paris": -0.2, " the": -2.0}, {".": -0.4, ",": -1.5}],
			},
		}
	]
}
SGLANG_ANSWER = {
	"text": " Paris.",
	"meta_info": {
		"output_token_logprobs": [[-0.2, 7042, None], [-0.4, 30, None]],
		"output_top_logprobs": [[[-0.2, 7042, None], [-2.0, 260, None]], [[-0.4, 30, None], [-1.5, 28, None]]],
	},
}


@pytest.fixture
def replay() -> Iterator[tuple[str, list[dict[str, Any]]]]:
	seen: list[dict[str, Any]] = []

	class Handler(BaseHTTPRequestHandler):
		def do_POST(self) -> None:  # noqa: N802 - http.server's name
			body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
			seen.append({"path": self.path, **body})
			answer = SGLANG_ANSWER if self.path == "/generate" else VLLM_ANSWER
			if self.path == "/v1/completions" and "logprobs" not in body:
				answer = {"choices": [{"text": " 12", "logprobs": None}]}
			data = json.dumps(answer).encode()
			self.send_response(200)
			self.send_header("Content-Type", "application/json")
			self.send_header("Content-Length", str(len(data)))
			self.end_headers()
			self.wfile.write(data)

		def log_message(self, *args: Any) -> None:
			pass

	server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
	thread = threading.Thread(target=server.serve_forever, daemon=True)
	thread.start()
	try:
		yield f"http://127.0.0.1:{server.server_address[1]}", seen
	finally:
		server.shutdown()
		server.server_close()


def test_each_engine_is_asked_in_its_own_shape(replay: tuple[str, list[dict[str, Any]]]) -> None:
	url, seen = replay
	v = complete("vllm", url, "The capital of France is", max_tokens=2, top_k=2, model="m")
	assert seen[-1]["path"] == "/v1/completions" and seen[-1]["logprobs"] == 2 and seen[-1]["temperature"] == 0
	assert [p.token for p in v.positions] == [" Paris", "."] and v.positions[0].top[" the"] == -2.0
	s = complete("sglang", url, "The capital of France is", max_tokens=2, top_k=2)
	assert seen[-1]["path"] == "/generate" and seen[-1]["return_logprob"] and seen[-1]["top_logprobs_num"] == 2
	assert [p.token for p in s.positions] == ["#7042", "#30"] and s.positions[1].top["#28"] == -1.5
	with pytest.raises(LogprobsUnavailable, match="not available"):
		complete("trtllm", url, "x", max_tokens=2, top_k=2)
	t = complete("trtllm", url, "What is 5 plus 7?", max_tokens=4, top_k=0)  # the eval's text still works
	assert t.text == " 12" and t.positions == []
