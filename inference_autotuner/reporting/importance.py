"""Parameter importance (Optuna's PED-ANOVA evaluator on a task's study), per objective: the report, GET
/api/tasks/{id}/importance and the web's What mattered card show these figures."""

from __future__ import annotations

import warnings
from typing import Any

from ..store import Store
from ..store.db import study_storage_url


def _study_exists(store: Store, spec: dict[str, Any], study_name: str) -> bool:
	"""Whether the task's study is in its storage, asked with plain SQL: opening Optuna's storage on a database that
	has none of its tables yet would create them (a read should not write, and it races the runner doing the same).
	True when it cannot tell (Optuna then says what is wrong)."""
	from sqlalchemy import create_engine, inspect, text

	url = study_storage_url(spec)
	engine = store.engine if url is None else create_engine(url)
	try:
		with engine.connect() as conn:
			if not inspect(conn).has_table("studies"):
				return False
			found = conn.execute(text("SELECT 1 FROM studies WHERE study_name = :n"), {"n": study_name}).first()
			return found is not None
	except Exception:  # noqa: BLE001
		return True
	finally:
		if engine is not store.engine:
			engine.dispose()


def param_importance(
	store: Store, spec: dict[str, Any], study_name: str, objective: int = 0
) -> tuple[dict[str, float] | None, str | None]:
	"""Parameter importance (PED-ANOVA, Optuna's evaluator that needs no scikit-learn) on the task's study, for its
	objective number `objective` (0: the primary one; a multi-objective study keeps one value per objective):
	({parameter: share of the total}, most important first, None), or (None, why) when it cannot be computed. The
	report and GET /api/tasks/{id}/importance both show this."""
	import optuna

	if not _study_exists(store, spec, study_name):
		return None, "the task has no study yet: importance comes once its experiments have run"
	try:
		optuna.logging.set_verbosity(optuna.logging.WARNING)
		study = optuna.load_study(study_name=study_name, storage=store.study_storage(spec))
	except Exception as exc:  # noqa: BLE001 - a missing or foreign study only means no importance
		return None, f"the task's study could not be opened ({type(exc).__name__}: {exc})"
	complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
	if len(complete) < 4:
		return None, f"{len(complete)} completed trial(s) in the study: too few to judge parameter importance"
	names = {k for t in complete for k in t.params}
	varied = [k for k in names if len({repr(t.params.get(k)) for t in complete}) > 1]
	if not varied:
		return None, "no parameter took more than one value"
	if not 0 <= objective < len(study.directions):
		return None, f"the study has {len(study.directions)} objective(s): no objective number {objective + 1}"
	maximize = study.directions[objective] == optuna.study.StudyDirection.MAXIMIZE

	def target(t: optuna.trial.FrozenTrial) -> float:
		v = float(t.values[objective])
		return -v if maximize else v  # PED-ANOVA ranks what leads to LOW target values

	try:
		with warnings.catch_warnings():
			warnings.simplefilter("ignore")
			found = optuna.importance.get_param_importances(
				study,
				evaluator=optuna.importance.PedAnovaImportanceEvaluator(),
				target=target,
				params=sorted(varied),
			)
	except Exception as exc:  # noqa: BLE001
		return None, f"importance could not be computed ({type(exc).__name__}: {exc})"
	shares = {k: float(v) for k, v in found.items()}
	if len(shares) == 1:
		return shares, f"only {next(iter(shares))} took more than one value: its share is 1 by construction"
	return shares, None
