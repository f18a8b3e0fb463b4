"""The web app signed in, in a real browser (Debian's Chromium via Playwright) against a real `autotuner serve` with users.

Issue 15: the sign-in page takes a token, the server keeps it in an HttpOnly cookie, the task WebSocket and the API
calls carry it; an operator sees actions on its own tasks only and no Containers page; a page on another origin cannot
drive the server even though the browser holds the cookie.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inference_autotuner import users
from inference_autotuner.store import Store

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("AUTOTUNER_CHROMIUM", "/usr/bin/chromium"))
DIST = REPO / "web" / "dist" / "index.html"
ARGS = [
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--no-first-run",
]
SPEC = {
	"model": {"id_or_path": "smollm2"},
	"base_runtime": "llama.cpp",
	"parameters": {"parallel": [1]},
	"optimization": {"baseline": False, "repeat_top_k": 0, "warm_start": False, "max_iterations": 1},
	"benchmark": {"traffic_scenarios": ["D(16,8)"], "num_concurrency": [1], "max_requests_per_iteration": 2},
}


@pytest.fixture
def served(data_dir: Path, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
	if not CHROMIUM.exists():
		pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium")
	pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
	if not DIST.exists():
		pytest.skip("web app not built: make web/dist (cd web && npm ci && npm run build)")
	from inference_autotuner.deploy.ports import free_port

	store = Store()
	tokens = {n: users.add_user(store, n, r)[1] for n, r in (("alice", "operator"), ("bob", "operator"))}
	store.engine.dispose()
	port = free_port()
	log = open(tmp_path / "serve.log", "w")  # noqa: SIM115
	proc = subprocess.Popen(
		[sys.executable, "-m", "inference_autotuner.cli", "serve", "--port", str(port), "--no-worker"],
		stdout=log,
		stderr=subprocess.STDOUT,
		env={**os.environ, "AUTOTUNER_DATA_DIR": str(data_dir)},
	)
	base = f"http://127.0.0.1:{port}"
	try:
		for _ in range(150):
			try:
				if httpx.get(f"{base}/api/system/health", timeout=1).status_code == 200:
					break
			except httpx.HTTPError:
				pass
			if proc.poll() is not None:
				pytest.fail(f"autotuner serve exited: {(tmp_path / 'serve.log').read_text()[-2000:]}")
			time.sleep(0.2)
		yield base, tokens
	finally:
		proc.terminate()
		try:
			proc.wait(timeout=20)
		except subprocess.TimeoutExpired:
			proc.kill()
		log.close()


def test_sign_in_then_own_tasks_only_and_no_cross_origin_writes(served: tuple[str, dict[str, str]]) -> None:
	from playwright.sync_api import expect, sync_playwright

	base, tokens = served
	auth = {n: {"Authorization": f"Bearer {t}"} for n, t in tokens.items()}
	mine = httpx.post(f"{base}/api/tasks/", json={**SPEC, "task_name": "alices"}, headers=auth["alice"]).json()
	theirs = httpx.post(f"{base}/api/tasks/", json={**SPEC, "task_name": "bobs"}, headers=auth["bob"]).json()
	with sync_playwright() as pw:
		browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
		page = browser.new_page()
		page.set_default_timeout(20_000)
		try:
			page.goto(f"{base}/tasks")
			page.get_by_label("API token").fill("atk_wrong")
			page.get_by_role("button", name="Sign in").click()
			expect(page.get_by_text("the API token is unknown or revoked")).to_be_visible()
			page.get_by_label("API token").fill(tokens["alice"])
			page.get_by_role("button", name="Sign in").click()
			expect(page.get_by_test_id("signed-in")).to_contain_text("alice (operator)")
			expect(page.get_by_role("link", name="Containers")).to_have_count(0)
			cookie = next(c for c in page.context.cookies() if c["name"] == "autotuner_token")
			assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
			assert page.evaluate("document.cookie") == ""  # no script can read the token

			row_mine = page.locator("tr", has_text="alices")
			row_theirs = page.locator("tr", has_text="bobs")
			expect(row_mine.get_by_role("button", name="Start")).to_be_visible()
			expect(row_theirs).to_be_visible()
			expect(row_theirs.get_by_role("button")).to_have_count(0)

			page.goto(f"{base}/tasks/{mine['id']}")  # the WebSocket authenticates with the cookie
			expect(page.get_by_text("● live")).to_be_visible()
			with page.expect_response(lambda r: r.url.endswith(f"/api/tasks/{mine['id']}/start")) as started:
				page.get_by_role("button", name="Start").click()
			assert started.value.status == 200  # the cookie signed the POST (no worker here: it stays queued)

			# A page on another origin, in the same signed-in browser: its write is refused (and sends no cookie).
			other = browser.new_context().new_page()
			other.goto("about:blank")
			status = other.evaluate(
				"""async (url) => {
					try {
						const r = await fetch(url, {method: "POST", mode: "no-cors", credentials: "include",
							headers: {"Content-Type": "text/plain"}, body: "{}"});
						return r.type;
					} catch (e) { return "error"; }
				}""",
				f"{base}/api/tasks/{theirs['id']}/start",
			)
			assert status in ("opaque", "error")
			page.get_by_role("button", name="Sign out").click()
			expect(page.get_by_label("API token")).to_be_visible()
		finally:
			browser.close()
	assert httpx.get(f"{base}/api/tasks/{theirs['id']}", headers=auth["bob"]).json()["status"] == "pending"
	assert httpx.get(f"{base}/api/tasks/{mine['id']}", headers=auth["alice"]).json()["status"] == "queued"
