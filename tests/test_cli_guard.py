"""One error wrapper around every CLI command (cli/common.py _Guarded): a user's error is one clear line and its exit
status, a bug is one line, a log file and exit 70, never a raw traceback; for list/show/best/export/delete alike."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from summary_rows import seed_single
from typer.testing import CliRunner

from inference_autotuner.cli import app
from inference_autotuner.store import Store


@pytest.fixture
def broken_db(tmp_path: Path) -> str:
	"""A real database whose task row holds a spec that is not an object (a bug elsewhere could write one)."""
	path = tmp_path / "cli.db"
	seed_single(Store(f"sqlite:///{path}"), "noisy")
	with sqlite3.connect(path) as con:
		con.execute("UPDATE tasks SET spec = '[1, 2]', status = 'not-a-status'")
	return f"sqlite:///{path}"


def invoke(*args: str) -> tuple[int, str]:
	r = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
	return r.exit_code, r.stdout + r.stderr


@pytest.mark.parametrize("cmd", [["list"], ["show", "noisy"], ["best", "noisy"], ["export", "noisy"]])
def test_a_bug_is_one_line_and_a_log_not_a_traceback(broken_db: str, cmd: list[str], data_dir: Path) -> None:
	code, out = invoke(*cmd, "--db", broken_db)
	assert "Traceback" not in out, out
	assert code == 70, out
	assert out.startswith("internal error: ") and "internal-errors.log" in out
	assert "Traceback" in (data_dir / "logs" / "internal-errors.log").read_text()


def test_delete_refuses_a_task_in_an_unknown_state(broken_db: str) -> None:
	code, out = invoke("delete", "noisy", "--yes", "--db", broken_db)
	assert code == 1 and out.startswith("error: task 'noisy' is not-a-status") and "Traceback" not in out


def test_user_errors_are_one_line_with_their_exit_status(tmp_path: Path) -> None:
	db = f"sqlite:///{tmp_path / 'empty.db'}"
	for cmd in (["show", "nosuch"], ["best", "nosuch"], ["export", "nosuch"], ["delete", "nosuch", "--yes"]):
		code, out = invoke(*cmd, "--db", db)
		assert code == 2, (cmd, out)
		assert out.splitlines()[0] == "error: no task named or numbered 'nosuch'", (cmd, out)
		assert "Traceback" not in out
