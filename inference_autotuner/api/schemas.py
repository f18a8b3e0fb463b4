"""API schemas: Create / Update / Public models per resource (Public models are what the routes return)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field

from ..names import check_name
from ..services.summary import ObjectiveRef, ParetoFront
from ..services.views import ExperimentPublic, TaskPublic, UtcDatetime, as_utc
from .presets_data import spec_name

__all__ = [
	"ExperimentPublic",
	"ParetoFront",
	"TaskPublic",
	"UtcDatetime",
	"as_utc",
]  # the task views live in services/views.py


# a preset's name: printable, not blank (no control, NUL or bidirectional characters)
PresetName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(lambda v: check_name(v, "preset name"))]


class _Public(BaseModel):
	model_config = ConfigDict(from_attributes=True)


class Problem(BaseModel):
	"""One problem with a request: where (field path) and what."""

	loc: list[str | int] = Field(description="Location: 'body' then the field path")
	path: str = Field(description="Field path in dotted form, e.g. benchmark.num_concurrency[0]")
	msg: str
	type: str = "value_error"
	hint: str | None = None


class ErrorBody(BaseModel):
	detail: str | list[Problem]
	hint: str | None = None


class TaskUpdate(BaseModel):
	"""Fields to change on a task that is not running; `spec` replaces the whole spec (validated like create)."""

	model_config = ConfigDict(extra="forbid")
	description: str | None = Field(None, max_length=10000)
	spec: dict[str, Any] | None = None


class ActionResult(BaseModel):
	task_id: int
	status: str
	message: str


class TaskLogs(BaseModel):
	task_id: int
	logs: str
	lines: int


class PresetCategory:
	VALUES = ("parameters", "quantization", "parallel")


class PresetCreate(BaseModel):
	model_config = ConfigDict(extra="forbid")
	name: PresetName
	description: str | None = Field(None, max_length=10000)
	category: Literal["parameters", "quantization", "parallel"] = "parameters"
	runtime: str | None = Field(None, max_length=40, description="Engine it is meant for (None: any)")
	parameters: dict[str, Any] = Field(description="flag -> value or list of values (or a quant/parallel config)")


class PresetUpdate(BaseModel):
	model_config = ConfigDict(extra="forbid")
	name: PresetName | None = None
	description: str | None = Field(None, max_length=10000)
	category: Literal["parameters", "quantization", "parallel"] | None = None
	runtime: str | None = Field(None, max_length=40)
	parameters: dict[str, Any] | None = None


class PresetPublic(_Public):
	id: int
	name: str
	description: str | None
	category: str
	runtime: str | None
	parameters: dict[str, Any]
	is_system: bool
	created_at: UtcDatetime
	updated_at: UtcDatetime
	owner_id: int | None = Field(None, description="Id of the user who created it (null: system or single-user)")

	@computed_field(  # type: ignore[prop-decorator]
		description="The name a task spec's quant_config / parallel_config `presets` takes for this preset "
		"(e.g. kv-cache-fp8 for quant-kv-cache-fp8); null when a spec cannot name it: put its parameters in instead"
	)
	@property
	def spec_name(self) -> str | None:
		return spec_name(self.name, self.is_system)


class PresetMerge(BaseModel):
	model_config = ConfigDict(extra="forbid")
	preset_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(min_length=1, max_length=100)
	strategy: Literal["union", "intersection", "last_wins"] = "union"


class MergeResult(BaseModel):
	strategy: str
	parameters: dict[str, Any]
	conflicts: list[str] = Field(description="Flags whose values differed between presets")


class ImportResult(BaseModel):
	imported: list[PresetPublic]
	skipped: list[str] = Field(
		description="Names that already existed: system presets, other users' presets, or any without ?overwrite=true"
	)


class FlagPublic(BaseModel):
	name: str
	type: str
	help: str
	choices: list[str] | None
	default: Any
	tuned: bool
	aliases: list[str]


class EnginePublic(BaseModel):
	name: str
	version: str
	flags: int


class ParamValidate(BaseModel):
	model_config = ConfigDict(extra="forbid")
	parameters: dict[str, Any] = Field(description="flag -> value, list of values or range, as in a task spec")


class ParamValidation(BaseModel):
	engine: str
	valid: bool
	problems: list[Problem]


class ParamImportance(BaseModel):
	"""Which parameters mattered for the primary objective: PED-ANOVA on the task's Optuna study (the report's
	parameter importance, from the same function)."""

	task_id: int
	objective: ObjectiveRef = Field(description="The objective the importance is about (the task's primary one)")
	evaluator: str = Field("PED-ANOVA", description="Optuna's importance evaluator used")
	importances: dict[str, float] = Field(
		description="Parameter -> share of the total importance (sums to 1), most important first; empty when they "
		"cannot be computed"
	)
	note: str | None = Field(
		None,
		description="Why there are no importances (no study yet, too few completed trials, nothing varied), "
		"or a caveat about them",
	)
	predicted: bool = Field(
		description="Some figures come from a performance model (aiconfigurator), not from measurements"
	)
