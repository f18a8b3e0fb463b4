"""Priors from predictions, dimensions that cannot matter, and the start of a search.

`optimization.prior` (unset: `predict` for strategy auto on a GPU deployment of vLLM / SGLang / TensorRT-LLM with a
named GPU, falling back to `roofline` where aiconfigurator cannot predict, see effective_prior; `none`: no prior):
- `predict`: aiconfigurator predicts every configuration of the space (ms each; vLLM / SGLang / TensorRT-LLM on a
  GPU it has data for), scored with the task's objective and SLOs as a predicted experiment would be;
- `roofline`: a roofline estimate from the model's shape and the GPU's datasheet (search/roofline.py), scored the
  same way; rough, but it needs no performance database;
- a CSV path: a landscape or `autotuner export` file (param:NAME columns, status ok/success, objective_value in the
  objective's natural unit); rows that are not ok are predicted infeasible.

A prior is never trusted blindly. Every strategy measures the predicted top configurations first (PRIOR_TOP_K,
enqueued on a fresh study); the gp strategy also uses the whole ranking as its model's mean after a fitted scale and
offset, so measurements that disagree with the prediction take over (search/structured.py). Predicted-infeasible
configurations are only less likely to be proposed, never excluded.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from ..scoring import OBJECTIVE_INFO
from ..space import Space, params_key
from .structured import StructuredSampler

PRIOR_TOP_K = 2  # predicted-best configurations measured first (the gp sampler then continues from its model)
MAX_PREDICTED = 5000  # larger spaces: no `predict` prior (a few ms per configuration)


def _value(text: str) -> Any:
	for cast in (int, float):
		try:
			return cast(text)
		except ValueError:
			pass
	return {"True": True, "False": False, "true": True, "false": False}.get(text, text)


def prior_from_csv(path: Path, space: Space, direction: str) -> dict[str, float | None]:
	"""Predicted scores (lower is better) by params_key of the full configuration, from a landscape CSV."""
	out: dict[str, float | None] = {}
	names = {d.name for d in space.dimensions}
	with path.open(newline="") as f:
		for row in csv.DictReader(f):
			params = {k.removeprefix("param:"): _value(v) for k, v in row.items() if k and k.startswith("param:")}
			if not names <= set(params):
				continue
			searched = {k: v for k, v in params.items() if k in names}
			ok = row.get("status") in ("ok", "success") and row.get("objective_value") not in ("", None)
			value = float(row["objective_value"]) if ok else None
			if value is not None and not math.isfinite(value):
				value = None
			out[params_key(space.full(searched))] = (
				None if value is None else (-value if direction == "maximize" else value)
			)
	return out


def prior_from_predictions(
	spec: Any, space: Space, engine: Any, predictor: Any = None, model_path: Any = None
) -> dict[str, float | None]:
	"""Predicted scores of every configuration of the space from `predictor` (default: aiconfigurator,
	deploy/predict.py; or search/roofline.py's RooflinePredictor), scored with the task's objective and SLOs."""
	from ..deploy.predict import AiconfiguratorPredictor, PredictionInfeasible
	from ..engines.plan import plan_for
	from ..scoring import goodput_slo_from, score_experiment
	from .roofline import RooflineInfeasible

	size = space.size()
	if size is None or size > MAX_PREDICTED:
		raise ValueError(f"a predicted prior needs a finite space of at most {MAX_PREDICTED} configurations")
	if predictor is None:
		predictor = AiconfiguratorPredictor.from_spec(spec)
		predictor.preflight()
	opt = spec.optimization
	out: dict[str, float | None] = {}
	for c in space.iter_combinations():
		params = space.full(c)
		plan = plan_for(engine, params, spec, Path(str(model_path or spec.model.ref)))
		score: float | None = None
		if plan.status == "ok":
			try:
				runs, _ = predictor.predict(spec=spec, plan=plan, goodput=goodput_slo_from(spec.slo))
				scored = score_experiment(runs, opt.objective, spec.slo, world_size=plan.world_size)
				score = scored.score if scored.feasible else None
			except (PredictionInfeasible, RooflineInfeasible):
				score = None
		out[params_key(params)] = score
	return out


def prior_from_roofline(spec: Any, space: Space, engine: Any, model_path: Any = None) -> dict[str, float | None]:
	"""Predicted scores of every configuration from the roofline estimate (search/roofline.py)."""
	from .roofline import RooflinePredictor

	predictor = RooflinePredictor.from_spec(spec, model_path)
	return prior_from_predictions(spec, space, engine, predictor, model_path)


AUTO_PRIOR_MODES = ("docker", "kubernetes", "ome")  # deployments whose experiments cost GPU time


def effective_prior(spec: Any) -> str | None:
	"""The prior a task uses: `optimization.prior` as set ('none': no prior); unset with strategy auto, one
	objective, a GPU deployment (docker, kubernetes, ome) of vLLM / SGLang / TensorRT-LLM and a named GPU: 'predict'
	(aiconfigurator predicts the space in seconds where one experiment costs minutes; where it cannot, prepare()
	falls back to 'roofline' and logs why). Otherwise none."""
	opt = spec.optimization
	if opt.prior == "none" or opt.multi_objective:
		return None
	if opt.prior:
		return str(opt.prior)
	from ..deploy.predict import BACKENDS

	gpu = getattr(getattr(spec, "hardware", None), "gpu", None)
	if opt.strategy == "auto" and spec.deployment_mode in AUTO_PRIOR_MODES and spec.base_runtime in BACKENDS and gpu:
		return "predict"
	return None


def load_prior(spec: Any, space: Space, engine: Any, name: str | None = None, model_path: Any = None) -> dict:
	"""The prior `name` (default: the task's effective prior) as {params_key: predicted score or None}."""
	prior = name or effective_prior(spec)
	if not prior:
		return {}
	if prior == "predict":
		return prior_from_predictions(spec, space, engine, model_path=model_path)
	if prior == "roofline":
		return prior_from_roofline(spec, space, engine, model_path)
	return prior_from_csv(Path(prior).expanduser(), space, OBJECTIVE_INFO[spec.optimization.objective].direction)


def cannot_matter(spec: Any, space: Space) -> dict[str, Any]:
	"""Dimensions whose value cannot change a prediction, held at their first value: in deployment_mode predict,
	values of the engine's batch cap at or above the largest concurrency are one configuration (the batch never
	exceeds the concurrency), so only the smallest of them is searched. Returned as {name: value to hold} only when
	the whole dimension collapses to one value; partial collapses are left to the model."""
	if getattr(spec, "deployment_mode", None) != "predict":
		return {}
	from ..deploy.predict import BATCH_FLAGS

	flag = BATCH_FLAGS.get(str(spec.base_runtime), (None, None))[0]
	levels = list(getattr(spec.benchmark, "num_concurrency", None) or [])
	if flag is None or not levels or getattr(spec.benchmark, "load_search", None) is not None:
		return {}
	top = max(levels)
	for d in space.dimensions:
		if d.name == flag and d.choices is not None:
			nums = [v for v in d.choices if isinstance(v, int | float) and not isinstance(v, bool)]
			if len(nums) == len(d.choices) and min(nums) >= top:
				return {d.name: min(nums)}
	return {}


def refused_before_launch(spec: Any, space: Space, engine: Any, model_path: Any) -> dict[str, str]:
	"""Configurations the launch plan refuses (engines/plan.py: a quantization or parallel field the engine cannot
	honour, a world size above the GPUs, a model that does not fit): {params_key: reason}. The runner would record
	each as skipped/infeasible without launching it, so a search that proposes one learns only what the plan knew.
	Finite spaces of at most MAX_PREDICTED configurations; {} for larger ones or without an engine."""
	size = space.size()
	if engine is None or size is None or size > MAX_PREDICTED:
		return {}
	from ..engines.memory import find_model_config
	from ..engines.plan import hardware_for, plan_launch

	ref = str(model_path) if model_path is not None else str(getattr(spec.model, "ref", ""))
	config = find_model_config(ref) if ref else None
	hardware = hardware_for(spec)
	out: dict[str, str] = {}
	for c in space.iter_combinations():
		params = space.full(c)
		plan = plan_launch(engine, params, model_ref=ref, model_config=config, hardware=hardware)
		if plan.status != "ok":
			out[params_key(params)] = plan.reason or plan.status
	return out


def prepare(
	study: optuna.Study,
	spec: Any,
	space: Space,
	engine: Any,
	log: Callable[[str], None],
	*,
	model_path: Any = None,
) -> None:
	"""Before the search: hand the sampler its prior, held dimensions and the configurations the launch plan refuses,
	and measure the predicted top first."""
	opt = spec.optimization
	sampler = study.sampler
	held = cannot_matter(spec, space)
	if held and isinstance(sampler, StructuredSampler):
		sampler.hold(held)
		log(f"held (cannot change a prediction): {', '.join(f'{k}={v}' for k, v in held.items())}")
	if isinstance(sampler, StructuredSampler):
		try:
			refused = refused_before_launch(spec, space, engine, model_path)
		except Exception as exc:  # a help, never a reason to fail the task: the runner still checks each plan
			refused = {}
			log(f"launch plans not checked before the search: {exc}")
		if refused and sampler.exclude(refused):
			first = next(iter(refused.values()))
			log(f"left out of the search: {len(refused)} configurations the launch plan refuses (e.g. {first})")
	name = effective_prior(spec)
	if not name:
		return
	default = not opt.prior
	label = (
		repr(name) if not default else f"{name!r} (the default of strategy auto; optimization.prior: none turns it off)"
	)
	prior: dict[str, float | None] = {}
	try:
		prior = load_prior(spec, space, engine, name, model_path)
		if default and not any(v is not None for v in prior.values()):
			raise ValueError("aiconfigurator predicted no configuration of this space feasible")
	except Exception as exc:  # a prior is a help, never a reason to fail the task
		if not default:
			log(f"prior {label} not used: {exc}")
			return
		name = "roofline"
		label = "'roofline' (strategy auto's fallback; optimization.prior: none turns it off)"
		log(f"prior 'predict' (the default of strategy auto) not used: {_first_line(exc)}; falling back to {label}")
		try:
			prior = load_prior(spec, space, engine, name, model_path)
		except Exception as exc2:
			log(f"prior {label} not used either: {_first_line(exc2)}; searching without a prior")
			return
	if not prior:
		log(f"prior {label}: no configuration of this space in it; searching without")
		return
	feasible = sorted((v, k) for k, v in prior.items() if v is not None)
	log(
		f"prior {label}: {len(prior)} configurations predicted, {len(feasible)} feasible; the top "
		f"{min(PRIOR_TOP_K, len(feasible))} measured first, the ranking corrected by each measurement"
	)
	if isinstance(sampler, StructuredSampler):
		sampler.set_prior(prior)
		return  # its start-up measures the predicted best itself, skipping what is measured already
	if study.get_trials(deepcopy=False):
		return  # resumed: the top was enqueued the first time
	by_key = {params_key(space.full(c)): c for c in space.iter_combinations()} if space.size() else {}
	for _, key in feasible[:PRIOR_TOP_K]:
		if key in by_key:
			study.enqueue_trial(dict(by_key[key]), skip_if_exists=True)


def _first_line(exc: BaseException) -> str:
	"""An error's message with its hint (AutotunerError's str has both) on one line."""
	return " ".join(str(exc).split()) or type(exc).__name__
