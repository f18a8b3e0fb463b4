"""Where workload files (datasets, traces) may be read from, their sha256, and fetching benchmark.dataset_url.

A spec names a workload file, and a spec may come from any API client: so a file is read only from a workload
folder, never from wherever a path points. The workload folders are, in order:
- <data dir>/workloads (~/.local/share/inference-autotuner/workloads, or $AUTOTUNER_DATA_DIR/workloads),
- <cache dir>/workloads (where benchmark.dataset_url files are fetched to),
- each folder of $AUTOTUNER_WORKLOAD_DIRS (os.pathsep-separated), set by whoever runs the tuner, never by a spec.
A relative path is looked up in each folder in turn; an absolute one must lie inside one of them once symlinks are
resolved. A fetched URL is stored once under <cache dir>/workloads/url-<sha256 of the URL>/<file name> and reused;
a file:// URL must name a file inside a workload folder too.
"""

from __future__ import annotations

import functools
import hashlib
import os
import urllib.parse
from pathlib import Path

import httpx

from ..errors import BenchmarkError
from ..paths import cache_dir, data_dir

WORKLOAD_DIRS_ENV = "AUTOTUNER_WORKLOAD_DIRS"
MAX_FILE_BYTES = 512 * 1024 * 1024
"""Largest workload file read or fetched."""
_FETCH_TIMEOUT_S = 120.0


def workload_dirs() -> list[Path]:
	"""The folders workload files may be read from (module docstring), resolved."""
	data = data_dir() / "workloads"
	data.mkdir(parents=True, exist_ok=True)
	cached = cache_dir() / "workloads"
	cached.mkdir(parents=True, exist_ok=True)
	dirs = [data, cached]
	for entry in os.environ.get(WORKLOAD_DIRS_ENV, "").split(os.pathsep):
		if entry.strip():
			dirs.append(Path(entry.strip()).expanduser())
	return [d.resolve() for d in dirs]


def _inside(path: Path, folder: Path) -> bool:
	return path == folder or folder in path.parents


def resolve(text: str, what: str = "workload file") -> Path:
	"""The file `text` names, inside a workload folder; BenchmarkError naming the folders otherwise."""
	dirs = workload_dirs()
	given = Path(text).expanduser()
	candidates = [given] if given.is_absolute() else [d / given for d in dirs]
	for cand in candidates:
		real = cand.resolve()
		if not any(_inside(real, d) for d in dirs):
			continue
		if real.is_file():
			return real
	where = ", ".join(str(d) for d in dirs)
	if given.is_absolute() and not any(_inside(given.resolve(), d) for d in dirs):
		raise BenchmarkError(
			f"{what} {text!r} is outside the workload folders ({where})",
			hint=f"copy it into {dirs[0]} or add its folder to ${WORKLOAD_DIRS_ENV} where the tuner runs",
		)
	raise BenchmarkError(
		f"{what} {text!r} not found in the workload folders ({where})",
		hint=f"copy it into {dirs[0]} or add its folder to ${WORKLOAD_DIRS_ENV} where the tuner runs",
	)


@functools.lru_cache(maxsize=64)
def _sha_of(path: str, mtime_ns: int, size: int) -> str:
	digest = hashlib.sha256()
	with open(path, "rb") as f:
		for block in iter(lambda: f.read(1 << 20), b""):
			digest.update(block)
	return digest.hexdigest()


def file_sha256(path: Path) -> str:
	"""The file's sha256, computed once per file version (path, modification time, size)."""
	st = path.stat()
	return _sha_of(str(path), st.st_mtime_ns, st.st_size)


def read_bytes(path: Path) -> bytes:
	size = path.stat().st_size
	if size > MAX_FILE_BYTES:
		raise BenchmarkError(f"workload file {path.name} is {size} bytes; at most {MAX_FILE_BYTES} are read")
	return path.read_bytes()


def sha256_hex(data: bytes) -> str:
	return hashlib.sha256(data).hexdigest()


def check_sha(data: bytes, expected: str | None, name: str) -> str:
	"""The data's sha256; BenchmarkError when `expected` is given and differs."""
	got = sha256_hex(data)
	if expected is not None and got != expected.lower():
		raise BenchmarkError(
			f"workload file {name} has sha256 {got}, not the {expected} the spec expects",
			hint="the file changed: restore it, or update the spec's sha256",
		)
	return got


def _file_name(url: str) -> str:
	name = Path(urllib.parse.urlparse(url).path).name
	cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._")
	return cleaned[:100] or "dataset"


def fetch(url: str, expected_sha256: str | None = None) -> Path:
	"""The local copy of `url` in the cache, fetched on first use (and checked against `expected_sha256`)."""
	folder = cache_dir() / "workloads" / f"url-{sha256_hex(url.encode())[:24]}"
	target = folder / _file_name(url)
	if target.is_file():
		check_sha(read_bytes(target), expected_sha256, target.name)
		return target
	folder.mkdir(parents=True, exist_ok=True)
	part = target.with_name(target.name + ".part")
	scheme = urllib.parse.urlparse(url).scheme
	if scheme == "file":
		source = resolve(urllib.parse.unquote(urllib.parse.urlparse(url).path), "dataset_url file")
		data = read_bytes(source)
		check_sha(data, expected_sha256, source.name)
		part.write_bytes(data)
	elif scheme in ("http", "https"):
		_download(url, part)
		check_sha(read_bytes(part), expected_sha256, target.name)
	else:
		raise BenchmarkError(f"dataset_url {url!r}: only file://, http:// and https:// are fetched")
	os.replace(part, target)
	return target


def _download(url: str, dest: Path) -> None:
	"""Stream `url` to `dest` (at most MAX_FILE_BYTES); BenchmarkError on any failure, `dest` removed."""
	try:
		with httpx.stream("GET", url, timeout=_FETCH_TIMEOUT_S, follow_redirects=True) as resp:
			if resp.status_code != 200:
				raise BenchmarkError(f"fetching {url}: HTTP {resp.status_code}")
			got = 0
			with dest.open("wb") as out:
				for chunk in resp.iter_bytes():
					got += len(chunk)
					if got > MAX_FILE_BYTES:
						raise BenchmarkError(f"fetching {url}: larger than {MAX_FILE_BYTES} bytes")
					out.write(chunk)
	except httpx.HTTPError as exc:
		dest.unlink(missing_ok=True)
		raise BenchmarkError(
			f"fetching {url}: {type(exc).__name__}: {exc}", hint="check the URL and the network"
		) from exc
	except BenchmarkError:
		dest.unlink(missing_ok=True)
		raise
