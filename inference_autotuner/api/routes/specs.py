"""/api/specs: a draft task spec explained without storing it: every configuration it implies and the argv each one
launches, from the same `explain` the CLI's `autotuner explain` prints (so the web wizard shows the engine's own
flag mapping, never a copy of it)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ...explain import explain
from ...services.validate import parse_spec
from ..deps import SPEC_BODY, read_document
from ..schemas import ErrorBody

router = APIRouter(prefix="/api/specs", tags=["specs"])


class ExplainedConfig(BaseModel):
	"""One configuration of the spec's space and what it launches."""

	model_config = ConfigDict(extra="allow")
	number: int = Field(description="1-based position in the explained list")
	origin: str | None = Field(None, description="search, or baseline (the engine's defaults or your flags)")
	params: dict[str, Any] = Field(description="The parameter set (flags, __quant__/__parallel__ choices)")
	status: str = Field(description="ok, or why it would not launch (skipped, infeasible)")
	reason: str | None = Field(None, description="Why it is not launched, when status is not ok")
	argv: list[str] | None = Field(None, description="What the deployer starts; null when nothing is launched")
	serve_command: list[str] | None = Field(
		None, description="The engine's own command on a host (also for predicted and container rows)"
	)
	world_size: int | None = Field(None, description="GPUs one server of this configuration uses")
	quant: dict[str, Any] | None = None
	parallel: dict[str, Any] | None = None
	memory: dict[str, Any] | None = None
	notes: list[str] = Field(default_factory=list)


class ExplainResult(BaseModel):
	model_config = ConfigDict(extra="allow")
	task_name: str
	engine: str
	engine_version: str | None = None
	model: str
	hardware: dict[str, Any] = Field(default_factory=dict)
	space_size: int | None = Field(None, description="Configurations in the space; null for a continuous one")
	shown: int = Field(description="How many are listed (at most `limit`)")
	experiments: list[ExplainedConfig]


@router.post(
	"/explain",
	operation_id="explain_spec",
	response_model=ExplainResult,
	responses={422: {"model": ErrorBody}},
	openapi_extra=SPEC_BODY,
	summary="Explain a draft spec (JSON or YAML): each configuration's engine argv; nothing is stored or started",
)
async def explain_spec(
	request: Request,
	limit: Annotated[int, Query(ge=1, le=500, description="List at most this many configurations")] = 20,
) -> Any:
	data = await read_document(request)

	def run() -> dict[str, Any]:
		return explain(parse_spec(data), limit)

	return await asyncio.to_thread(run)
