#!/usr/bin/env bash
# Builds the Flotilla images with the first working builder on PATH
# (docker with a reachable engine, podman, or buildah), tagged
# REGISTRY/NAME:VERSION. Without one it says so and exits 0: building
# images is optional on a development machine.
#
#   VERSION=v0.1.0 REGISTRY=ghcr.io/flotilla-hpc deploy/images/build.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${VERSION:?VERSION is required (the Makefile passes git describe)}"
REGISTRY="${REGISTRY:-ghcr.io/flotilla-hpc}"
GO_IMAGES=(flotilla-hub flotilla-agent flotilla-init flotilla-idmapper flotilla)

builder=""
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
	builder="docker build"
elif command -v podman >/dev/null 2>&1; then
	builder="podman build"
elif command -v buildah >/dev/null 2>&1; then
	builder="buildah build"
fi
if [ -z "$builder" ]; then
	if command -v docker >/dev/null 2>&1; then
		echo "images: skipped: the docker client is installed but no Docker engine answers (docker info failed), and neither podman nor buildah is on PATH"
	else
		echo "images: skipped: no image builder (docker with an engine, podman or buildah) on PATH"
	fi
	exit 0
fi

echo "images: building ${REGISTRY}/{${GO_IMAGES[*]// /,},flotilla-filer}:${VERSION} with ${builder%% *}"
for name in "${GO_IMAGES[@]}"; do
	$builder -f deploy/images/Dockerfile --target "$name" \
		--build-arg VERSION="$VERSION" --build-arg REGISTRY="$REGISTRY" \
		-t "${REGISTRY}/${name}:${VERSION}" .
done
$builder -f deploy/images/filer/Dockerfile --build-arg VERSION="$VERSION" \
	-t "${REGISTRY}/flotilla-filer:${VERSION}" deploy/images/filer
echo "images: built ${#GO_IMAGES[@]} + 1 images tagged ${VERSION}"
