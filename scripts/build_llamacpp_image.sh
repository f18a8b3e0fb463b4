#!/usr/bin/env bash
# Build the llama.cpp engine image for `deployment_mode: docker` with no image registry:
#   1. base: a minimal Debian rootfs (python3 + venv) made by debootstrap from Debian packages, `docker import`ed;
#   2. engine: the xllamacpp wheel (llama.cpp's own server) in a venv, plus a `llama-server` entry point that runs
#      inference_autotuner/engines/llamacpp_server.py (llama-server's flag names).
# Both steps are cached: a step is skipped when its image exists (the engine image carries a hash of its inputs
# and is rebuilt only when they change). Needs root (debootstrap) and a running Docker daemon.
#
#   scripts/build_llamacpp_image.sh            # builds inference-autotuner/llamacpp:latest
#   IMAGE=my/llamacpp:dev scripts/build_llamacpp_image.sh
#   FORCE=1 scripts/build_llamacpp_image.sh    # rebuild both
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${IMAGE:-inference-autotuner/llamacpp:latest}"
BASE_IMAGE="${BASE_IMAGE:-inference-autotuner/debian-python:bookworm}"
SUITE="${SUITE:-bookworm}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
BASE_PACKAGES="python3,python3-venv,libgomp1,ca-certificates"  # libgomp1: llama.cpp's OpenMP threads
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
export DOCKER_BUILDKIT=0  # the classic builder: no buildx plugin needed
start=$(date +%s)

if ! docker info >/dev/null 2>&1; then
	echo "error: the Docker daemon is not reachable (start it: dockerd --iptables=false --bridge=none &)" >&2
	exit 1
fi

XLLAMACPP_VERSION="${XLLAMACPP_VERSION:-$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("xllamacpp"))' 2>/dev/null || true)}"
if [ -z "$XLLAMACPP_VERSION" ]; then
	echo "error: xllamacpp is not installed in $PYTHON; set XLLAMACPP_VERSION" >&2
	exit 1
fi

# -- 1. the base rootfs ---------------------------------------------------------------------------------------
have_base=$(docker image inspect "$BASE_IMAGE" --format '{{ index .Config.Labels "autotuner.packages" }}' 2>/dev/null || true)
if [ -n "${FORCE:-}" ] || [ "$have_base" != "$SUITE:$BASE_PACKAGES" ]; then
	command -v debootstrap >/dev/null || { echo "error: debootstrap missing (apt-get install -y debootstrap)" >&2; exit 1; }
	rootfs=$(mktemp -d /tmp/autotuner-rootfs.XXXXXX)
	trap 'rm -rf "$rootfs"' EXIT
	echo "== debootstrap $SUITE (minbase + $BASE_PACKAGES) into $rootfs"
	debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" "$MIRROR" \
		>"$rootfs.log" 2>&1 || { tail -30 "$rootfs.log" >&2; exit 1; }
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
		"$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
	echo "== docker import -> $BASE_IMAGE"
	tar -C "$rootfs" -c . | docker import -c 'ENV LANG=C.UTF-8' -c 'CMD ["/bin/bash"]' \
		-c "LABEL autotuner.packages=$SUITE:$BASE_PACKAGES" - "$BASE_IMAGE" >/dev/null
	rm -rf "$rootfs" "$rootfs.log"
	trap - EXIT
else
	echo "== $BASE_IMAGE exists (cached)"
fi

# -- 2. the engine image --------------------------------------------------------------------------------------
ctx=$(mktemp -d /tmp/autotuner-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
cp inference_autotuner/engines/llamacpp_server.py "$ctx/llamacpp_server.py"
cat >"$ctx/llama-server" <<'EOF'
#!/bin/sh
exec /opt/venv/bin/python /opt/autotuner/llamacpp_server.py "$@"
EOF
chmod +x "$ctx/llama-server"
cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY wheels/ /tmp/wheels/
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-index --no-cache-dir /tmp/wheels/*.whl \\
	&& rm -rf /tmp/wheels && /opt/venv/bin/python -c "import xllamacpp"
COPY llamacpp_server.py /opt/autotuner/llamacpp_server.py
COPY llama-server /usr/local/bin/llama-server
ENTRYPOINT ["llama-server"]
EOF
hash=$( (cat "$ctx/Dockerfile" "$ctx/llamacpp_server.py" "$ctx/llama-server"; echo "xllamacpp==$XLLAMACPP_VERSION") \
	| sha256sum | cut -c1-16)
have=$(docker image inspect "$IMAGE" --format '{{ index .Config.Labels "autotuner.hash" }}' 2>/dev/null || true)
if [ -z "${FORCE:-}" ] && [ "$have" = "$hash" ]; then
	echo "== $IMAGE is up to date (hash $hash, cached)"
	exit 0
fi
echo "== fetching the xllamacpp==$XLLAMACPP_VERSION wheel (pip cache)"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
	--platform manylinux2014_x86_64 "xllamacpp==$XLLAMACPP_VERSION" -d "$ctx/wheels"
echo "== docker build -> $IMAGE"
docker build --force-rm --network host --label "autotuner.hash=$hash" \
	--label "autotuner.xllamacpp=$XLLAMACPP_VERSION" -t "$IMAGE" "$ctx" >"$ctx.log" 2>&1 || { tail -30 "$ctx.log" >&2; rm -f "$ctx.log"; exit 1; }
rm -f "$ctx.log"
docker image prune -f --filter "label=autotuner.hash" >/dev/null 2>&1 || true
echo "== built $IMAGE in $(($(date +%s) - start)) s"
