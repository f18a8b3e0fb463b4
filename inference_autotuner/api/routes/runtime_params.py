"""/api/runtime-params: engine flag catalogues, commonly tuned flags, validation of a parameter set."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ...engines import ENGINES
from ...errors import SpecError
from ...services.validate import parse_spec
from ...spec.models import ENGINE_ALIASES
from ..errors import NotFound, problem_dicts
from ..schemas import EnginePublic, ErrorBody, FlagPublic, ParamValidate, ParamValidation

router = APIRouter(prefix="/api/runtime-params", tags=["runtime-params"])
ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}


def _engine(name: str) -> Any:
	key = ENGINE_ALIASES.get(name.strip().lower(), name)
	if key not in ENGINES:
		raise NotFound(f"unknown engine '{name}'", hint=f"available engines: {', '.join(sorted(ENGINES))}")
	return ENGINES[key]()


def _flags(engine: Any, tuned_only: bool) -> list[FlagPublic]:
	return [
		FlagPublic(
			name=f.name,
			type=f.type,
			help=f.help,
			choices=list(f.choices) if f.choices else None,
			default=f.default,
			tuned=f.tuned,
			aliases=list(f.aliases),
		)
		for f in engine.catalogue().values()
		if f.tuned or not tuned_only
	]


@router.get("/", operation_id="list_engines", response_model=list[EnginePublic])
def list_engines() -> list[EnginePublic]:
	out = []
	for name, cls in ENGINES.items():
		eng = cls()
		out.append(EnginePublic(name=name, version=str(eng.version), flags=len(eng.catalogue())))
	return out


@router.get("/{engine}", operation_id="get_engine_params", response_model=list[FlagPublic], responses=ERRORS)
def engine_params(engine: str) -> list[FlagPublic]:
	"""Every flag the engine accepts (names without dashes)."""
	return _flags(_engine(engine), tuned_only=False)


@router.get(
	"/{engine}/commonly-tuned", operation_id="get_commonly_tuned", response_model=list[FlagPublic], responses=ERRORS
)
def commonly_tuned(engine: str) -> list[FlagPublic]:
	return _flags(_engine(engine), tuned_only=True)


@router.post("/{engine}/validate", operation_id="validate_params", response_model=ParamValidation, responses=ERRORS)
def validate_params(engine: str, body: ParamValidate) -> ParamValidation:
	"""Check a parameter set as a task spec's `parameters` would be checked (200 with the problems, if any)."""
	eng = _engine(engine)
	try:
		parse_spec(
			{
				"task_name": "check",
				"model": {"id_or_path": "check"},
				"base_runtime": eng.name,
				"parameters": body.parameters,
			}
		)
		problems = []
	except SpecError as exc:
		problems = [p for p in exc.problems if p.path.startswith("parameters")]
	dicts = problem_dicts(problems)
	return ParamValidation(engine=eng.name, valid=not problems, problems=dicts)  # type: ignore[arg-type]
