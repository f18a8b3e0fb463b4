"""The web app's typed client cannot drift from the API: web/openapi.json is what the app publishes now, and
web/src/api/schema.d.ts is what openapi-typescript makes of it (regenerate both with `cd web && npm run gen:api`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from inference_autotuner.api.app import create_app

WEB = Path(__file__).resolve().parents[1] / "web"
FIX = "regenerate with: cd web && npm run gen:api"


def test_openapi_json_is_the_apps_schema() -> None:
	published = (WEB / "openapi.json").read_text(encoding="utf-8")
	now = json.dumps(create_app().openapi(), indent=1, sort_keys=True) + "\n"
	assert published == now, f"web/openapi.json differs from the app's OpenAPI schema; {FIX}"


def test_typescript_types_are_generated_from_it(tmp_path: Path) -> None:
	tool = WEB / "node_modules" / ".bin" / "openapi-typescript"
	if not tool.exists():
		pytest.skip("web/node_modules is not installed (make web)")
	out = tmp_path / "schema.d.ts"
	subprocess.run([str(tool), str(WEB / "openapi.json"), "-o", str(out)], check=True, capture_output=True, timeout=120)
	committed = (WEB / "src" / "api" / "schema.d.ts").read_text(encoding="utf-8")
	assert committed == out.read_text(encoding="utf-8"), f"web/src/api/schema.d.ts is stale; {FIX}"
