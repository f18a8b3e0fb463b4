"""Serve the built web app (web/dist) at `/` with a single-page-app fallback; the API stays under /api."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Match

# The repository's web/dist (the package is installed editable from the repository); AUTOTUNER_WEB_DIST overrides.
DEFAULT_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"

NOT_BUILT = """<!doctype html><html><head><title>inference-autotuner</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>The web app is not built</h1>
<p>The API is running (<a href="/docs">/docs</a>, <a href="/api/system/health">/api/system/health</a>),
but no built web app was found at <code>{dist}</code>.</p>
<p>Build it once (needs Node.js 20+ and npm), then reload this page:</p>
<pre>make web/dist        # or: cd web &amp;&amp; npm ci &amp;&amp; npm run build</pre>
</body></html>"""


def web_dist() -> Path:
	env = os.environ.get("AUTOTUNER_WEB_DIST")
	return Path(env) if env else DEFAULT_DIST


def install(app: FastAPI, dist: Path | None = None) -> None:
	"""Add the catch-all route last, so every API, docs and WebSocket route is matched first."""
	root = (dist or web_dist()).resolve()

	@app.api_route("/api/{path:path}", methods=_METHODS, include_in_schema=False)
	def api_not_found(path: str, request: Request) -> Response:
		# The catch-all would hide Starlette's trailing-slash redirect (/api/tasks -> /api/tasks/): do it here.
		other = request.url.path[:-1] if request.url.path.endswith("/") else request.url.path + "/"
		if _routed(app, other, request.method, skip=(api_not_found, spa)):
			return RedirectResponse(request.url.replace(path=other), status_code=307)
		return JSONResponse({"detail": f"no API route {request.url.path}", "hint": "see /docs for the routes"}, 404)

	@app.get("/{path:path}", include_in_schema=False)
	def spa(path: str) -> Response:
		index = root / "index.html"
		if not index.is_file():
			return HTMLResponse(NOT_BUILT.format(dist=root), status_code=503)
		if path:
			file = (root / path).resolve()
			if file.is_relative_to(root) and file.is_file():
				cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else "no-cache"
				return FileResponse(file, headers={"Cache-Control": cache})
			if path.startswith("assets/"):
				return Response(status_code=404)
		return FileResponse(index, headers={"Cache-Control": "no-cache"})


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _routed(app: FastAPI, path: str, method: str, skip: tuple[object, ...]) -> bool:
	scope = {"type": "http", "path": path, "method": method, "root_path": ""}
	for route in app.router.routes:
		if getattr(route, "endpoint", None) in skip:
			continue
		match, _ = route.matches(scope)
		if match is not Match.NONE:
			return True
	return False
