"""The task spec. The seed's task JSON shape loads unchanged; unknown fields are errors (with the closest name)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import limits as L
from ..names import check_name
from .quality import QualitySpec
from .workload import DatasetSpec, SessionsSpec, SharedPrefixSpec, TraceSpec

OBJECTIVES = (
	"minimize_latency",
	"maximize_throughput",
	"minimize_ttft",
	"minimize_tpot",
	"maximize_goodput",
	"minimize_p90_ttft",
	"minimize_p90_latency",
	"minimize_p90_tpot",
	"maximize_max_load",
	"minimize_cost_per_mtok",
	# the quality guardrail's figures (quality/, docs/quality.md): in `objectives`, after a speed objective
	"maximize_quality_top1",
	"minimize_quality_kl",
	"maximize_quality_accuracy",
)
STRATEGIES = ("auto", "gp", "grid_search", "random", "bayesian", "nsga2", "mo_tpe")
STRATEGY_ALIASES = {
	"grid": "grid_search",
	"tpe": "bayesian",
	"random_search": "random",
	"optuna": "bayesian",
	"nsgaii": "nsga2",
	"nsga-ii": "nsga2",
	"nsga_ii": "nsga2",
	"motpe": "mo_tpe",
	"mo-tpe": "mo_tpe",
}
PRUNERS = ("none", "successive_halving", "hyperband", "median")
DRIVERS = ("builtin", "genai-bench", "aiperf", "guidellm")  # bench/drivers/: keep in step with bench.drivers.DRIVERS
DEPLOYMENT_MODES = ("local", "docker", "ome", "kubernetes", "predict")
ENGINE_ALIASES = {
	"llama.cpp": "llamacpp",
	"llama-cpp": "llamacpp",
	"llama_cpp": "llamacpp",
	"llamacpp": "llamacpp",
	"llama-server": "llamacpp",
	"vllm": "vllm",
	"sglang": "sglang",
	"trtllm": "trtllm",
	"tensorrt-llm": "trtllm",
	"tensorrt_llm": "trtllm",
}


class _Strict(BaseModel):
	model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class ModelSpec(_Strict):
	"""Which model to serve: a cache name (`smollm2`), a local file/folder, or a Hugging Face repo id."""

	id_or_path: str | None = Field(None, description="Model cache name, local path, or Hugging Face repo id")
	name: str | None = Field(None, description="Seed alias of id_or_path")
	namespace: str | None = Field(None, description="Kubernetes namespace (OME/Kubernetes modes)")
	file: str | None = Field(None, description="GGUF file inside a Hugging Face repo (llama.cpp)")

	@model_validator(mode="after")
	def _need_id(self) -> ModelSpec:
		if not (self.id_or_path or self.name):
			raise ValueError("model needs id_or_path (a model cache name like 'smollm2', a local path, or a repo id)")
		if not self.id_or_path:
			self.id_or_path = self.name
		return self

	@property
	def ref(self) -> str:
		return self.id_or_path or self.name or ""


class RangeParam(_Strict):
	"""A numeric range to search: {type: integer|continuous, low, high, log, step}."""

	type: Literal["integer", "continuous", "int", "float"] = "integer"
	low: float = Field(ge=-L.MAX_INT, le=L.MAX_INT)
	high: float = Field(ge=-L.MAX_INT, le=L.MAX_INT)
	log: bool = False
	step: float | None = Field(None, gt=0, le=L.MAX_INT, description="Distance between values (> 0)")

	@model_validator(mode="after")
	def _check(self) -> RangeParam:
		if self.type == "int":
			self.type = "integer"
		if self.type == "float":
			self.type = "continuous"
		if self.low > self.high:
			raise ValueError(f"low ({self.low}) must be <= high ({self.high})")
		if self.log and self.low <= 0:
			raise ValueError("a log range needs low > 0")
		if self.log and self.step is not None:
			raise ValueError("step and log cannot be combined")
		if self.type == "integer" and self.step is not None and not float(self.step).is_integer():
			raise ValueError(f"an integer range takes a whole step, not {self.step}")
		return self


ParamValue = bool | int | float | str
ParamDef = list[ParamValue] | RangeParam | ParamValue
CHOICE_TYPES = ("choice", "categorical")  # the seed's categorical shape: {type: choice, values: [...]}


def normalize_parameters(parameters: Any) -> Any:
	"""The seed's parameter shapes as this spec reads them: `{type: choice|categorical, values|choices: [...]}` is
	the list of its values, and an empty list (a flag the seed's web form left blank) is not tuned at all. Anything
	else is returned as it is, for validation to judge."""
	if not isinstance(parameters, dict):
		return parameters
	out: dict[Any, Any] = {}
	for name, definition in parameters.items():
		if isinstance(definition, dict) and definition.get("type") in CHOICE_TYPES:
			values = choice_values(definition)
			if values is not None:
				definition = values
		if isinstance(definition, list) and not definition:
			continue
		out[name] = definition
	return out


def choice_values(definition: dict[str, Any]) -> list[Any] | None:
	"""The values of a well-formed `{type: choice, values: [...]}` (or `choices: [...]`); None when malformed."""
	keys = set(definition) - {"type"}
	if len(keys) != 1 or not keys <= {"values", "choices"}:
		return None
	values = definition[keys.pop()]
	return list(values) if isinstance(values, list) else None


class EarlyStopSpec(_Strict):
	"""Stop a load run as soon as a hard_fail SLO is clearly lost (see docs/search.md)."""

	enabled: bool = Field(True, description="Stop runs whose hard SLO is clearly lost; later load levels are skipped")
	min_requests: int = Field(
		8, ge=2, le=L.MAX_REQUESTS, description="Completed requests needed before a run may be judged"
	)
	margin: float = Field(
		0.25,
		ge=0,
		le=1000,
		description="Relative margin past the SLO's infeasibility point (fail_ratio) before stopping",
	)


class OptimizationSpec(_Strict):
	strategy: str = Field(
		"auto",
		description="auto (gp on a finite space with one objective, else TPE / MO-TPE) | gp (Gaussian process over "
		"ordered values, constraint-aware) | grid_search | random | bayesian (Optuna TPE) | nsga2 | mo_tpe",
	)
	objective: str = Field("maximize_throughput", description="One of: " + ", ".join(OBJECTIVES))
	objectives: list[str] | None = Field(
		None,
		description="Two or more objectives for a multi-objective search (Pareto front); overrides `objective`",
	)
	max_iterations: int = Field(
		10,
		ge=1,
		le=L.MAX_ITERATIONS,
		description="Most search experiments this task runs (baseline and repeats come on top)",
	)
	n_initial_random: int | None = Field(
		None, ge=0, le=L.MAX_ITERATIONS, description="Random trials before TPE models the space"
	)
	timeout_per_iteration: float = Field(
		600,
		gt=0,
		le=L.MAX_SECONDS,
		description="Seconds the load runs of one experiment may take, from engine ready (startup_timeout apart)",
	)
	study_name: str | None = Field(
		None,
		min_length=1,
		max_length=240,
		description="Name of the task's Optuna study (default: autotuner-task-ID); fixed when the task is created",
	)
	storage: str | None = Field(
		None,
		min_length=1,
		description="Optuna storage URL for the task's study (e.g. sqlite:///optuna.db, postgresql://...); "
		"default: the autotuner database",
	)
	seed: int | None = Field(None, ge=0, le=L.MAX_SEED, description="Sampler seed for reproducible searches")
	pruner: str = Field(
		"none",
		description="Multi-fidelity for single-objective searches: none | successive_halving | hyperband | median; "
		"steps are the experiment's load levels",
	)
	early_stop: EarlyStopSpec = Field(default_factory=EarlyStopSpec)
	max_parallel: int = Field(
		1,
		ge=1,
		le=L.MAX_PARALLEL,
		description="Experiments at once, capped by resources (GPUs by world size, CPU cores)",
	)
	warm_start: bool = Field(
		True,
		description="First measure the best configurations of earlier similar tasks (engine, model family+size, GPU type)",
	)
	warm_start_top_k: int = Field(
		3, ge=0, le=L.MAX_REPEATS, description="Most earlier configurations a warm start enqueues"
	)
	baseline: bool | dict[str, Any] = Field(
		True,
		description="Measure the engine's default config first (true), or your current config (a dict of flags); "
		"`best` reports the gain over it",
	)
	repeat_top_k: int = Field(
		2, ge=0, le=L.MAX_REPEATS, description="After the search, measure the K best configurations again"
	)
	repeats: int = Field(
		2,
		ge=0,
		le=L.MAX_REPEATS,
		description="Most extra measurements of each top configuration, interleaved with the baseline's (ABAB), "
		"made only while their 95% intervals overlap",
	)
	gain_precision: float | None = Field(
		0.10,
		gt=0,
		le=1,
		description="The repeats go on (up to `repeats` rounds) until the paired gain over the baseline is known to "
		"this relative 95% half-width, e.g. 0.10: +-10 points; null: only until the verdict is decided (the gain's "
		"interval excludes 0)",
	)
	noise_runs: int = Field(
		3,
		ge=1,
		le=L.MAX_REPEATS,
		description="Measurements of the baseline at the start: its spread is the task's noise floor (±% at 95%), "
		"under which differences are ties",
	)
	stop_after: int | None = Field(
		None,
		ge=0,
		le=L.MAX_ITERATIONS,
		description="End the search after this many experiments in a row without beating the best by more than the "
		"noise floor (1%); 0: never; unset: 10 for strategies auto and gp, never for the others (grid never stops)",
	)
	prior: str | None = Field(
		None,
		min_length=1,
		max_length=4096,
		description="Predicted figures to start from: 'predict' (aiconfigurator, for vllm/sglang/trtllm on a known GPU), "
		"'roofline' (an estimate from the model's shape and the GPU's datasheet, for vllm/sglang/trtllm) or a CSV path "
		"(param:NAME columns, status, objective_value); the predicted top configurations are measured first and the "
		"ranking is the search's prior, corrected by each measurement. Unset: 'predict' for strategy auto on a "
		"docker/kubernetes/ome deployment of vllm/sglang/trtllm with hardware.gpu set, falling back to 'roofline' "
		"(with a log line) where aiconfigurator cannot predict; 'none': no prior",
	)

	@field_validator("objectives")
	@classmethod
	def _objectives(cls, v: list[str] | None) -> list[str] | None:
		if v is None:
			return v
		bad = [o for o in v if o not in OBJECTIVES]
		if bad:
			raise ValueError(f"unknown objective {bad[0]!r}; valid: {', '.join(OBJECTIVES)}")
		if len(set(v)) != len(v):
			raise ValueError("objectives are listed twice")
		if not v:
			raise ValueError("objectives needs at least one objective")
		return v

	@field_validator("storage")
	@classmethod
	def _storage(cls, v: str | None) -> str | None:
		if v is None:
			return v
		from sqlalchemy.engine import make_url
		from sqlalchemy.exc import ArgumentError, NoSuchModuleError

		try:
			url = make_url(v)
			url.get_dialect()
		except (ArgumentError, NoSuchModuleError, ValueError):
			raise ValueError(
				"not a database URL Optuna can store a study in; use e.g. sqlite:///optuna.db or "
				"postgresql://user:password@host/db"
			) from None
		if url.get_backend_name() == "sqlite":
			from ..store.db import sqlite_study_path

			sqlite_study_path(url.database)  # a file inside the data directory, or ValueError
		return v

	@field_validator("pruner")
	@classmethod
	def _pruner(cls, v: str) -> str:
		if v not in PRUNERS:
			raise ValueError(f"unknown pruner {v!r}; valid: {', '.join(PRUNERS)}")
		return v

	@property
	def objective_list(self) -> list[str]:
		"""The objectives scored: `objectives` when given, else [`objective`]."""
		return list(self.objectives) if self.objectives else [self.objective]

	@property
	def multi_objective(self) -> bool:
		return len(self.objective_list) > 1

	@model_validator(mode="after")
	def _check_mo(self) -> OptimizationSpec:
		if self.strategy in ("nsga2", "mo_tpe") and not self.multi_objective:
			raise ValueError(f"strategy {self.strategy} needs two or more `objectives`")
		if self.multi_objective and self.pruner != "none":
			raise ValueError("a pruner works on single-objective searches only; set pruner: none")
		if "_quality_" in self.objective_list[0]:
			raise ValueError(
				f"{self.objective_list[0]} cannot be the first (scored) objective: list a speed objective first, "
				"e.g. objectives: [maximize_throughput, maximize_quality_top1]"
			)
		if self.objectives:
			self.objective = self.objectives[0]  # the primary objective: the score, the repeats, `best`
		return self

	@field_validator("strategy")
	@classmethod
	def _strategy(cls, v: str) -> str:
		v = STRATEGY_ALIASES.get(v, v)
		if v not in STRATEGIES:
			raise ValueError(f"unknown strategy {v!r}; valid: {', '.join(STRATEGIES)}")
		return v

	@field_validator("objective")
	@classmethod
	def _objective(cls, v: str) -> str:
		if v not in OBJECTIVES:
			raise ValueError(f"unknown objective {v!r}; valid: {', '.join(OBJECTIVES)}")
		return v


class LoadSearchSpec(_Strict):
	"""Max load under SLO: on the running engine, double the load from `start` until an SLO fails (or `limit`),
	then bisect between the last pass and the first fail until they are `tolerance` apart. Load levels never
	restart the engine."""

	mode: Literal["concurrency", "rate", "speedup"] = Field(
		"concurrency",
		description="concurrency (closed loop), rate (Poisson arrivals, req/s) or speedup (benchmark.trace replayed "
		"this many times faster)",
	)
	start: float = Field(1, gt=0, le=L.MAX_REQUEST_RATE, description="First load probed")
	limit: float = Field(256, gt=0, le=L.MAX_REQUEST_RATE, description="Highest load probed")
	tolerance: float = Field(
		1,
		gt=0,
		le=L.MAX_REQUEST_RATE,
		description="Stop bisecting when pass and fail are this close (concurrency: requests; rate: req/s)",
	)
	max_probes: int = Field(12, ge=1, le=L.MAX_PROBES, description="Most load levels measured per configuration")

	@model_validator(mode="after")
	def _check(self) -> LoadSearchSpec:
		if self.start > self.limit:
			raise ValueError(f"start ({self.start}) must be <= limit ({self.limit})")
		if self.mode == "concurrency" and self.limit > L.MAX_CONCURRENCY:
			raise ValueError(f"a concurrency limit of {self.limit:g} is more than {L.MAX_CONCURRENCY}")
		return self


class BenchmarkSpec(_Strict):
	task: str = Field("text-to-text", description="Seed field; text-to-text is the one kind supported")
	model_name: str | None = Field(
		None, description="Model name sent in requests (defaults to what the server reports)"
	)
	model_tokenizer: str | None = Field(None, description="Local tokenizer folder or repo id (optional)")
	traffic_scenarios: list[str] = Field(default_factory=lambda: ["D(100,100)"], min_length=1, max_length=L.MAX_LEVELS)
	num_concurrency: list[int] = Field(default_factory=lambda: [1, 4], min_length=1, max_length=L.MAX_LEVELS)
	max_time_per_iteration: float = Field(
		60, gt=0, le=L.MAX_SECONDS, description="Most SECONDS one run (scenario x concurrency) lasts"
	)
	max_requests_per_iteration: int = Field(50, ge=1, le=L.MAX_REQUESTS, description="Most requests one run sends")
	warmup_requests: int = Field(
		2,
		ge=0,
		le=L.MAX_REQUESTS,
		description="Requests per warm-up round before each run (not counted); rounds go on until two in a row have "
		"mean E2E latencies within 25% (steady state), at most 3 rounds or a quarter of the run's time; 0: no warm-up",
	)
	precision: float | None = Field(
		0.05,
		gt=0,
		le=1,
		description="A run ends once its objective's relative 95% half-width (batch means over its requests) is at "
		"most this, or at max_time_per_iteration / max_requests_per_iteration; null: always run to those caps",
	)
	endpoint: Literal["completions", "chat"] = Field(
		"completions", description="/v1/completions or /v1/chat/completions"
	)
	additional_params: dict[str, Any] = Field(default_factory=dict, description="Extra fields for each request body")
	driver: str = Field("builtin", description="Load driver; builtin is the built-in async streaming client")
	request_rates: list[float] | None = Field(
		None,
		max_length=L.MAX_LEVELS,
		description="Open-loop load: Poisson arrivals at these request rates (req/s) instead of num_concurrency",
	)
	load_search: LoadSearchSpec | None = Field(
		None, description="Find each configuration's highest load that meets every SLO (doubling, then bisection)"
	)
	audit_retries: int = Field(
		2,
		ge=0,
		le=L.MAX_REPEATS,
		description="A run its audit calls suspect (the client fell behind, other processes or CPU steal took the "
		"machine) is measured again up to this many more times; the least suspect attempt is kept",
	)
	client_processes: int = Field(
		1,
		ge=1,
		le=64,
		description="Built-in driver: processes the client's load is split over (each takes an equal share of the "
		"concurrency or request rate; their requests are merged before any figure is computed). One streams about "
		"170k tokens/s per core here; raise it when a fast server at high load would make one process the bottleneck "
		"(the run audit says so: client-bound), with a free core per process",
	)
	dataset_url: str | None = Field(
		None,
		description="Seed field: a dataset fetched once into the cache (file:// inside a workload folder, http(s)://),"
		" read as benchmark.dataset says (format, sample; sha256 checked when given)",
	)
	dataset: DatasetSpec | None = Field(None, description="Prompts from a file instead of synthetic ones (workloads)")
	sessions: SessionsSpec | None = Field(
		None, description="Multi-turn sessions: each re-sends its history turn after turn (workloads)"
	)
	shared_prefix: SharedPrefixSpec | None = Field(
		None, description="Requests in groups that share a prefix (system prompt) of prefix_tokens (workloads)"
	)
	trace: TraceSpec | None = Field(
		None, description="Replay a trace open-loop at its recorded times, scaled by speedup (workloads)"
	)

	@field_validator("dataset_url")
	@classmethod
	def _dataset_url(cls, v: str | None) -> str | None:
		if v is not None and not v.startswith(("file://", "http://", "https://")):
			raise ValueError("dataset_url must be a file://, http:// or https:// URL")
		if v is not None and (len(v) > 2048 or any(c in v for c in "\x00\n\r")):
			raise ValueError("dataset_url: at most 2048 characters, no NUL or line breaks")
		return v

	@model_validator(mode="after")
	def _workload(self) -> BenchmarkSpec:
		if self.dataset_url is not None and self.dataset is None:
			self.dataset = DatasetSpec()
		if self.dataset is not None:
			if self.dataset.path is None and self.dataset_url is None:
				raise ValueError("benchmark.dataset needs a path (or benchmark.dataset_url)")
			if self.dataset.path is not None and self.dataset_url is not None:
				raise ValueError("give benchmark.dataset.path or benchmark.dataset_url, not both")
		kinds = [k for k in ("dataset", "shared_prefix", "trace") if getattr(self, k) is not None]
		if len(kinds) > 1:
			raise ValueError(f"one workload at a time: {' and '.join(kinds)} were both given")
		if self.sessions is not None and kinds and kinds[0] != "dataset":
			raise ValueError(f"sessions go with a dataset (its conversations) or alone, not with {kinds[0]}")
		if self.trace is not None and self.request_rates:
			raise ValueError("a trace sets its own arrival times: remove request_rates (trace.speedup scales them)")
		if self.trace is not None and self.load_search is not None and self.load_search.mode != "speedup":
			raise ValueError("with a trace the max-load search scales its speed: set load_search.mode: speedup")
		if self.load_search is not None and self.load_search.mode == "speedup" and self.trace is None:
			raise ValueError("load_search.mode speedup needs benchmark.trace")
		if self.sessions is not None and self.request_rates:
			raise ValueError("sessions are closed-loop (concurrency = sessions at once): remove request_rates")
		if self.workload_kind is not None and self.client_processes > 1:
			raise ValueError(f"client_processes > 1 does not yet run a {self.workload_kind} workload; set it to 1")
		return self

	@property
	def workload_kind(self) -> str | None:
		"""sessions, dataset, shared_prefix, trace, or None (the traffic scenarios' synthetic prompts)."""
		if self.sessions is not None:
			return "sessions"
		return next((k for k in ("dataset", "shared_prefix", "trace") if getattr(self, k) is not None), None)

	@field_validator("request_rates")
	@classmethod
	def _rates(cls, v: list[float] | None) -> list[float] | None:
		if v is not None and (not v or any(r <= 0 for r in v)):
			raise ValueError("request rates must be > 0 (requests/s)")
		if v is not None and any(r > L.MAX_REQUEST_RATE for r in v):
			raise ValueError(f"request rates must be at most {L.MAX_REQUEST_RATE:g} requests/s")
		return v

	@field_validator("driver")
	@classmethod
	def _driver(cls, v: str) -> str:
		if v not in DRIVERS:
			raise ValueError(f"unknown load driver {v!r}; available: {', '.join(DRIVERS)}")
		return v

	@field_validator("num_concurrency")
	@classmethod
	def _positive(cls, v: list[int]) -> list[int]:
		if any(c < 1 for c in v):
			raise ValueError("concurrency levels must be >= 1")
		if any(c > L.MAX_CONCURRENCY for c in v):
			raise ValueError(f"concurrency levels must be at most {L.MAX_CONCURRENCY}")
		return v

	@model_validator(mode="after")
	def _client_processes(self) -> BenchmarkSpec:
		if self.client_processes > 1 and self.driver != "builtin":
			raise ValueError(
				f"client_processes applies to the builtin driver only ({self.driver} runs its own workers); "
				"remove it or use driver: builtin"
			)
		return self


class SLOTarget(_Strict):
	threshold: float = Field(gt=0, description="Seconds")
	weight: float = Field(1.0, ge=0)
	hard_fail: bool = False
	fail_ratio: float = Field(
		0.5, ge=0, description="Relative violation past which a hard_fail SLO makes it infeasible"
	)


class LatencySLO(_Strict):
	p50: SLOTarget | None = None
	p90: SLOTarget | None = None
	p99: SLOTarget | None = None


class SLOSpec(_Strict):
	"""Seed SLO shape: latency (E2E) by percentile; ttft and tpot on means; exponential penalty steepness."""

	latency: LatencySLO | None = None
	ttft: SLOTarget | None = None
	tpot: SLOTarget | None = None
	steepness: float = Field(0.1, gt=0)
	attainment: float | None = Field(
		None,
		gt=0,
		le=1,
		description="Tail SLO: at least this share of a run's requests must meet every per-request threshold (TTFT, "
		"TPOT, the loosest latency percentile's); a run below it is infeasible, a max-load probe fails (docs/workloads.md)",
	)

	@model_validator(mode="after")
	def _attainment_needs_a_threshold(self) -> SLOSpec:
		has = self.ttft is not None or self.tpot is not None
		has = has or (self.latency is not None and any((self.latency.p50, self.latency.p90, self.latency.p99)))
		if self.attainment is not None and not has:
			raise ValueError("slo.attainment needs a threshold to attain: set slo.ttft, slo.tpot or slo.latency")
		return self


class HardwareSpec(_Strict):
	"""The GPUs a deployment offers: used to check world size and memory fit before any launch."""

	gpu: str | None = Field(None, description="GPU model, e.g. H100, H200, A100, L40S (sets gpu_memory_gib)")
	gpu_count: int | None = Field(None, ge=0, le=L.MAX_GPUS, description="GPUs the deployment can give one experiment")
	gpu_memory_gib: float | None = Field(None, gt=0, le=1e6, description="Memory of one GPU in GiB (overrides gpu)")


class CostSpec(_Strict):
	"""Prices for the cost figures: US dollars per million output tokens of each configuration."""

	gpu_hour_usd: float | None = Field(
		None,
		gt=0,
		le=1e6,
		description="Price of one GPU-hour in US dollars; a configuration pays it per GPU (world size). With "
		"gpu_hour_usd_by_type: the price of GPU types it does not list (and the price picked for the task's GPU)",
	)
	gpu_hour_usd_by_type: dict[str, Annotated[float, Field(gt=0, le=1e6)]] = Field(
		default_factory=dict,
		max_length=64,
		description="Price of one GPU-hour per GPU type, e.g. {H100: 2.5, H200: 3.8}: the task's hardware.gpu picks "
		"one (case-insensitive)",
	)

	@model_validator(mode="after")
	def _a_price(self) -> CostSpec:
		if self.gpu_hour_usd is None and not self.gpu_hour_usd_by_type:
			raise ValueError("cost needs gpu_hour_usd (e.g. 2.5) or gpu_hour_usd_by_type (e.g. {H100: 2.5})")
		return self

	def price_for(self, gpu: str | None) -> float | None:
		"""The GPU-hour price of GPU type `gpu`: its entry in gpu_hour_usd_by_type, else gpu_hour_usd (None: none)."""
		if gpu:
			for name, price in self.gpu_hour_usd_by_type.items():
				if name.strip().lower() == gpu.strip().lower():
					return float(price)
		return self.gpu_hour_usd


class KubernetesSpec(_Strict):
	"""Where experiments run in `ome` and `kubernetes` modes: namespace, scheduling, model storage, how to reach them."""

	namespace: str | None = Field(
		None, description="Namespace of the per-experiment resources (default: model.namespace or 'default')"
	)
	node_selector: dict[str, str] = Field(default_factory=dict, description="Node labels the engine pod must match")
	tolerations: list[dict[str, Any]] = Field(default_factory=list, description="Pod tolerations (Kubernetes shape)")
	model_pvc: str | None = Field(None, description="PersistentVolumeClaim holding the model (kubernetes mode)")
	model_subpath: str | None = Field(None, description="Sub-path inside the PVC to mount")
	model_mount_path: str = Field("/mnt/models", description="Where the model volume is mounted in the engine pod")
	model_path: str | None = Field(
		None,
		description="Model argument the engine gets in the pod (default: the mount path with a PVC, else the model id)",
	)
	container_port: int = Field(8080, ge=1, le=65535, description="Port the engine listens on inside the pod")
	access: Literal["port-forward", "in-cluster"] = Field(
		"port-forward", description="Reach the engine by kubectl port-forward from the tuner, or by cluster DNS"
	)
	gpu_resource: str = Field("nvidia.com/gpu", description="Extended resource name of a GPU")
	resources: dict[str, str] = Field(
		default_factory=dict, description="Extra requests = limits, e.g. {cpu: '8', memory: 64Gi}"
	)
	service_account: str | None = Field(None, description="Service account of the engine pod")
	image_pull_secrets: list[str] = Field(default_factory=list, description="Secrets to pull the engine image")
	hf_token_secret: str | None = Field(None, description="Secret whose key HF_TOKEN becomes the pod's HF_TOKEN")
	runtime: str | None = Field(None, description="OME: ClusterServingRuntime to use (default: OME selects one)")
	base_model: str | None = Field(
		None, description="OME: ClusterBaseModel to serve (default: a name from the model id)"
	)
	context: str | None = Field(None, description="kubeconfig context (default: the current one, or in-cluster config)")
	unschedulable_timeout: float = Field(
		300, gt=0, le=L.MAX_SECONDS, description="Seconds a pod may stay unschedulable before failing"
	)
	benchmark_output: str | None = Field(
		None, description="OME BenchmarkJob: where genai-bench writes results (storage URI, e.g. pvc://results/task)"
	)


class TaskSpec(_Strict):
	task_name: str = Field(min_length=1, max_length=200, description="Unique name; re-running it resumes the task")
	description: str | None = Field(None, max_length=L.MAX_TEXT)
	model: ModelSpec
	base_runtime: str = Field("llamacpp", description="Engine: llamacpp, vllm, sglang, trtllm")
	runtime_image_tag: str | None = None
	runtime_image: str | None = None
	deployment_mode: str = Field("local", description="local | docker | ome | kubernetes | predict")
	parameters: dict[str, ParamDef] = Field(default_factory=dict, description="Engine flags (no dashes) to tune")
	optimization: OptimizationSpec = Field(default_factory=OptimizationSpec)
	benchmark: BenchmarkSpec = Field(default_factory=BenchmarkSpec)
	slo: SLOSpec | None = None
	quant_config: dict[str, Any] | None = Field(
		None, description="Quantization intent: {presets: [...]} and/or fields gemm_dtype, kvcache_dtype, ..."
	)
	parallel_config: dict[str, Any] | None = Field(
		None, description="Parallelism intent: {presets: [...]} and/or fields tp, pp, dp, dcp, cp, ep, moe_tp, moe_ep"
	)
	hardware: HardwareSpec | None = Field(None, description="GPUs per deployment (checks world size, memory fit)")
	cost: CostSpec | None = Field(
		None,
		description="Prices: {gpu_hour_usd} and/or {gpu_hour_usd_by_type}; gives $ per million output tokens "
		"(objective minimize_cost_per_mtok)",
	)
	clusterbasemodel_config: dict[str, Any] | None = None
	clusterservingruntime_config: dict[str, Any] | None = None
	storage: dict[str, Any] | None = None
	kubernetes: KubernetesSpec | None = Field(
		None, description="ome / kubernetes modes: namespace, nodes, model storage"
	)
	env: dict[str, str] = Field(default_factory=dict, description="Environment for the engine process")
	startup_timeout: float = Field(
		120, gt=0, le=L.MAX_SECONDS, description="Seconds to wait for the engine to become ready"
	)
	engine_port: int | None = Field(None, ge=1, le=65535, description="Fixed engine port (default: a free one)")
	quality: QualitySpec | None = Field(
		None, description="Quality guardrail: thresholds, reference, eval set (docs/quality.md)"
	)

	@field_validator("parameters", mode="before")
	@classmethod
	def _seed_parameters(cls, v: Any) -> Any:
		v = normalize_parameters(v)
		if isinstance(v, dict):
			if len(v) > L.MAX_PARAMETERS:
				raise ValueError(f"{len(v)} tuned flags is more than {L.MAX_PARAMETERS}")
			long = next((k for k, d in v.items() if isinstance(d, list) and len(d) > L.MAX_CHOICES), None)
			if long is not None:
				raise ValueError(f"'{long}' lists more than {L.MAX_CHOICES} values; give a range instead")
		return v

	@field_validator("task_name")
	@classmethod
	def _name(cls, v: str) -> str:
		return check_name(v, "task name")

	@field_validator("env")
	@classmethod
	def _env(cls, v: dict[str, str]) -> dict[str, str]:
		from .guard import check_env

		return check_env(v)

	@field_validator("base_runtime")
	@classmethod
	def _engine(cls, v: str) -> str:
		key = v.strip().lower()
		if key not in ENGINE_ALIASES:
			raise ValueError(f"unknown engine {v!r}; valid: llamacpp, vllm, sglang, trtllm")
		return ENGINE_ALIASES[key]

	@field_validator("deployment_mode")
	@classmethod
	def _mode(cls, v: str) -> str:
		if v not in DEPLOYMENT_MODES:
			raise ValueError(f"unknown deployment_mode {v!r}; valid: {', '.join(DEPLOYMENT_MODES)}")
		return v

	@model_validator(mode="after")
	def _cost_has_a_price(self) -> TaskSpec:
		gpu = self.hardware.gpu if self.hardware is not None else None
		if self.cost is not None and self.cost.gpu_hour_usd_by_type:
			# the price of this task's GPU type becomes its price (what the runner and the report use)
			self.cost.gpu_hour_usd = self.cost.price_for(gpu)
		if "minimize_cost_per_mtok" in self.optimization.objective_list and (
			self.cost is None or self.cost.gpu_hour_usd is None
		):
			where = f" (gpu_hour_usd_by_type has no price for hardware.gpu {gpu!r})" if self.cost is not None else ""
			raise ValueError(f"objective minimize_cost_per_mtok needs a price: cost: {{gpu_hour_usd: 2.5}}{where}")
		return self

	@model_validator(mode="after")
	def _search_fits_load(self) -> TaskSpec:
		if self.benchmark.load_search is not None and self.optimization.pruner != "none":
			raise ValueError(
				"optimization.pruner cannot be combined with benchmark.load_search: the load search's probes are "
				"not fidelity steps (set pruner: none; early_stop still stops lost probes)"
			)
		return self
