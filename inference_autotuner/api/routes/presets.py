"""/api/presets: CRUD, import/export as files, merge. System presets are read-only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from ...errors import SpecError, SpecProblem
from ...store.models import Preset, utcnow
from ..auth import Operator, check_owner
from ..deps import PresetId, StoreDep, read_document
from ..errors import Conflict, NotFound
from ..presets_data import merge_parameters
from ..schemas import ErrorBody, ImportResult, MergeResult, PresetCreate, PresetMerge, PresetPublic, PresetUpdate

router = APIRouter(prefix="/api/presets", tags=["presets"])
ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}, 409: {"model": ErrorBody}}
IMPORT_BODY = {
	"requestBody": {
		"required": True,
		"content": {
			"application/json": {"schema": {"description": "A preset or a list of presets (as exported)"}},
			"application/yaml": {"schema": {"type": "string"}},
		},
	}
}


def _get(s: Any, preset_id: int) -> Preset:
	p = s.get(Preset, preset_id)
	if p is None:
		raise NotFound(f"preset {preset_id} not found", hint="GET /api/presets/ lists the presets")
	return p


@router.get("/", operation_id="list_presets", response_model=list[PresetPublic])
def list_presets(
	store: StoreDep,
	category: Annotated[str | None, Query(max_length=40)] = None,
	runtime: Annotated[str | None, Query(max_length=40, description="Presets for this engine (and for any)")] = None,
) -> list[Any]:
	query = select(Preset).order_by(Preset.is_system.desc(), Preset.name)
	if category:
		query = query.where(Preset.category == category)
	if runtime:
		query = query.where((Preset.runtime == runtime) | Preset.runtime.is_(None))
	with store.session() as s:
		rows = list(s.scalars(query))
		s.expunge_all()
	return rows


@router.post("/", operation_id="create_preset", status_code=201, response_model=PresetPublic, responses=ERRORS)
def create_preset(body: PresetCreate, store: StoreDep, user: Operator) -> Any:
	with store.session() as s:
		if s.scalar(select(Preset.id).where(Preset.name == body.name)) is not None:
			raise Conflict(f"a preset named '{body.name}' already exists", hint="pick another name or update it")
		p = Preset(**body.model_dump(), is_system=False, owner_id=user.user_id)
		s.add(p)
		s.flush()
		s.expunge(p)
	return p


@router.post("/merge", operation_id="merge_presets", response_model=MergeResult, responses=ERRORS)
def merge_presets(body: PresetMerge, store: StoreDep) -> MergeResult:
	"""Merge presets in the given order: union, intersection, or last_wins."""
	with store.session() as s:
		sets = [dict(_get(s, i).parameters) for i in body.preset_ids]
	merged, conflicts = merge_parameters(sets, body.strategy)
	return MergeResult(strategy=body.strategy, parameters=merged, conflicts=conflicts)


@router.post(
	"/import",
	operation_id="import_presets",
	status_code=201,
	response_model=ImportResult,
	responses={422: {"model": ErrorBody}},
	openapi_extra=IMPORT_BODY,
)
async def import_presets(
	request: Request,
	store: StoreDep,
	user: Operator,
	overwrite: Annotated[bool, Query(description="Replace user presets of the same name")] = False,
) -> ImportResult:
	"""Import a preset file (JSON or YAML; one preset or a list, as export writes them)."""
	data = await read_document(request, "preset file")
	items = data if isinstance(data, list) else [data]
	try:
		presets = TypeAdapter(list[PresetCreate]).validate_python(
			[{k: v for k, v in i.items() if k not in _EXPORT_ONLY} if isinstance(i, dict) else i for i in items]
		)
	except ValidationError as exc:
		problems = [SpecProblem(".".join(str(p) for p in e["loc"][1:]) or "", e["msg"], None) for e in exc.errors()]
		raise SpecError(problems, "preset file") from None
	imported: list[Preset] = []
	skipped: list[str] = []
	with store.session() as s:
		for body in presets:
			old = s.scalar(select(Preset).where(Preset.name == body.name))
			if old is not None and (old.is_system or not overwrite or not user.owns(old.owner_id)):
				skipped.append(body.name)
				continue
			if old is not None:
				for k, v in body.model_dump().items():
					setattr(old, k, v)
				imported.append(old)
			else:
				p = Preset(**body.model_dump(), is_system=False, owner_id=user.user_id)
				s.add(p)
				imported.append(p)
		s.flush()
		out = [PresetPublic.model_validate(p) for p in imported]
	return ImportResult(imported=out, skipped=skipped)


_EXPORT_ONLY = ("id", "is_system", "created_at", "updated_at")


@router.get("/export", operation_id="export_presets", responses={200: {"content": {"application/json": {}}}})
def export_presets(store: StoreDep, category: Annotated[str | None, Query(max_length=40)] = None) -> Response:
	"""Every preset (or one category) as a JSON file that import reads back."""
	with store.session() as s:
		query = select(Preset).order_by(Preset.name)
		if category:
			query = query.where(Preset.category == category)
		data = [_export(p) for p in s.scalars(query)]
	return JSONResponse(data, headers={"Content-Disposition": 'attachment; filename="presets.json"'})


def _export(p: Preset) -> dict[str, Any]:
	return {
		"name": p.name,
		"description": p.description,
		"category": p.category,
		"runtime": p.runtime,
		"parameters": p.parameters,
	}


@router.get("/{preset_id}", operation_id="get_preset", response_model=PresetPublic, responses=ERRORS)
def get_preset(preset_id: PresetId, store: StoreDep) -> Any:
	with store.session() as s:
		p = _get(s, preset_id)
		s.expunge(p)
	return p


@router.get("/{preset_id}/export", operation_id="export_preset", responses=ERRORS)
def export_preset(preset_id: PresetId, store: StoreDep) -> Response:
	with store.session() as s:
		p = _get(s, preset_id)
		data, name = _export(p), p.name
	safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
	return JSONResponse(data, headers={"Content-Disposition": f'attachment; filename="{safe}.json"'})


@router.put("/{preset_id}", operation_id="update_preset", response_model=PresetPublic, responses=ERRORS)
def update_preset(preset_id: PresetId, body: PresetUpdate, store: StoreDep, user: Operator) -> Any:
	with store.session() as s:
		p = _get(s, preset_id)
		if p.is_system:
			raise Conflict(f"preset '{p.name}' is a system preset and cannot change", hint="copy it under a new name")
		check_owner(user, p.owner_id, f"preset '{p.name}'")
		changes = body.model_dump(exclude_unset=True)
		if changes.get("name") and changes["name"] != p.name:
			if s.scalar(select(Preset.id).where(Preset.name == changes["name"])) is not None:
				raise Conflict(f"a preset named '{changes['name']}' already exists")
		for k, v in changes.items():
			if v is not None or k in ("description", "runtime"):
				setattr(p, k, v)
		p.updated_at = utcnow()
		s.flush()
		s.expunge(p)
	return p


@router.delete("/{preset_id}", operation_id="delete_preset", status_code=204, responses=ERRORS)
def delete_preset(preset_id: PresetId, store: StoreDep, user: Operator) -> Response:
	with store.session() as s:
		p = _get(s, preset_id)
		if p.is_system:
			raise Conflict(f"preset '{p.name}' is a system preset and cannot be deleted")
		check_owner(user, p.owner_id, f"preset '{p.name}'")
		s.delete(p)
	return Response(status_code=204)
