"""The in-process replay of benchmarks/search_efficiency.py (`--fast`): the same samplers, prior and tell, no runner.

The full replay goes through the TaskRunner, its SQLite store and events: faithful, but ~1 s per experiment on a busy
2-core machine, so 10 seeds of random search on one landscape take minutes. This replay keeps every part that
decides which configuration is proposed next and drops the bookkeeping around it:

- the sampler is search/strategies.py's make_sampler for the spec the full replay builds (same seed, same
  strategy, same n_initial_random), the study is open_study's (directions, pruner) on Optuna's in-memory storage;
- the prior, held dimensions and refused configurations are search/prior.py's prepare (the perturbed CSV: top-k
  enqueued, or the gp's mean; the landscape's skipped rows refused by the real launch plan of ReplayEngine);
- each result is told by runner/tell.py's tell (the score, the slo / failure constraints, the worst value so far
  for an infeasible one), as the runner does;
- a configuration the sampler proposes again is answered with its earlier result and does not count, and after
  EXPLORE_AFTER_DUPLICATES repeats in a row an unmeasured one is enqueued (seeded), as runner/search_loop.py does.

Serial only (max_parallel 1). Same return as search_efficiency.replay.
"""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING, Any

import optuna

from inference_autotuner.runner.search_loop import EXPLORE_AFTER_DUPLICATES
from inference_autotuner.runner.tell import tell
from inference_autotuner.search.prior import prepare
from inference_autotuner.search.strategies import make_sampler, open_study
from inference_autotuner.space import build_task_space, params_key

if TYPE_CHECKING:
	from inference_autotuner.spec.models import TaskSpec


def fast_replay(
	landscape: Any, spec: TaskSpec, share: float, patience: int, stop_point: Any, engine: Any
) -> tuple[int, int, int, bool]:
	opt = spec.optimization
	space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
	study = open_study(optuna.storages.InMemoryStorage(), "replay", make_sampler(opt, space), opt=opt)
	prepare(study, spec, space, engine, lambda _msg: None, model_path=spec.model.ref)
	seen: list[float | None] = []
	measured: dict[str, float | None] = {}
	hits: dict[float, int] = {}
	duplicates = 0
	lock = threading.Lock()
	size = landscape.size
	while len(measured) < size:
		with lock:
			trial = study.ask(space.distributions)
		key = params_key(space.full(trial.params))
		if key in measured:
			_tell(study, trial, opt, measured[key], landscape.maximize, key in landscape.refused)
			duplicates += 1
			if duplicates >= EXPLORE_AFTER_DUPLICATES:
				todo = [c for c in space.iter_combinations() if params_key(space.full(c)) not in measured]
				rng = random.Random(f"{opt.seed}-{len(measured)}")
				study.enqueue_trial(dict(rng.choice(todo)))
				duplicates = 0
			continue
		duplicates = 0
		value = landscape.values.get(key)
		measured[key] = value
		seen.append(value)
		_tell(study, trial, opt, value, landscape.maximize, key in landscape.refused)
		if value is not None:
			for target in (share, 0.95):
				if target not in hits and landscape.reached(value, target):
					hits[target] = len(seen)
		if share in hits and stop_point(seen, landscape.maximize, patience) is not None:
			break
	stop = stop_point(seen, landscape.maximize, patience) or len(seen)
	found = share in hits and hits[share] <= stop
	return hits.get(share, size), hits.get(0.95, size), stop, found


def _tell(
	study: optuna.Study, trial: optuna.trial.Trial, opt: Any, value: float | None, maximize: bool, refused: bool
) -> None:
	"""As the runner tells a predicted experiment: the score (throughput: its negative), a configuration the launch
	plan refused (skipped), or an infeasible one."""
	if refused:
		tell(study, trial, opt, status="skipped", score=None, figures=None, scoring=None)
		return
	if value is None:
		tell(study, trial, opt, status="infeasible", score=None, figures=None, scoring={"violations": []})
		return
	score = -value if maximize else value
	tell(study, trial, opt, status="success", score=score, figures={}, scoring={"violations": []})
