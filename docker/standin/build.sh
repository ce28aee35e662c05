#!/usr/bin/env bash
# Build local stand-ins for the public base images the Dockerfile and docker-compose.yml name, for a host
# that cannot reach Docker Hub but can reach a Debian mirror and PyPI:
#   scale-standin/debian:bookworm         debootstrap --variant=minbase bookworm, `docker import`ed
#   scale-standin/python:3.11-bookworm    Debian's python3 (3.11) + venv, as python:3.11-slim-bookworm
#   scale-standin/redis:7-bookworm        Debian's redis-server (7.0), as redis:7
#   scale-standin/nginx:1-bookworm        Debian's nginx (1.22), as nginx:1.27-alpine (profile scale-out)
# The Debian mirror is the one apt on this host is configured with (read at run time, not hardcoded).
# The host's CA bundle is copied into the images so TLS through a site proxy verifies inside builds.
# The minbase tarball is cached in $SCALE_STANDIN_CACHE (default ~/.cache/scale/standin), keyed on the
# suite, architecture and the mirror's Release date; it is written atomically and checked with sha256sum.
# Usage: docker/standin/build.sh          (needs root: debootstrap; a running docker engine)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SUITE=bookworm
ARCH="$(dpkg --print-architecture)"
CACHE="${SCALE_STANDIN_CACHE:-$HOME/.cache/scale/standin}"
CA_BUNDLE="${SCALE_STANDIN_CA:-/etc/ssl/certs/ca-certificates.crt}"
PREFIX="${SCALE_STANDIN_PREFIX:-scale-standin}"

mirror="$(apt-get indextargets --format '$(REPO_URI)' "Release: $SUITE" 'Created-By: Packages' 2>/dev/null \
          | grep -v -- '-security' | head -n1 || true)"
if [[ -z "$mirror" ]]; then
  echo "error: apt knows no '$SUITE' repository here (run apt-get update, or set up a Debian mirror)" >&2
  exit 1
fi
release_file="$(ls /var/lib/apt/lists/*_dists_${SUITE}_InRelease 2>/dev/null | head -n1 || true)"
stamp="$( { [[ -n "$release_file" ]] && sed -n 's/^Date: //p' "$release_file"; } | tr -c 'A-Za-z0-9\n' _ || true)"
tarball="$CACHE/${SUITE}-${ARCH}-minbase-${stamp:-nodate}.tar"

if [[ -f "$tarball" && -f "$tarball.sha256" ]] && sha256sum --quiet -c "$tarball.sha256" 2>/dev/null; then
  echo "stand-in: cached rootfs $tarball"
else
  command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed" >&2; exit 1; }
  mkdir -p "$CACHE"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  echo "stand-in: debootstrap $SUITE ($ARCH) from $mirror"
  debootstrap --variant=minbase --arch="$ARCH" "$SUITE" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" --numeric-owner -cf "$work/rootfs.tar" .
  (cd "$work" && sha256sum rootfs.tar | sed "s#rootfs.tar#$tarball#") >"$work/rootfs.sha256"
  mv "$work/rootfs.tar" "$tarball" && mv "$work/rootfs.sha256" "$tarball.sha256"
  rm -rf "$work"
  trap - EXIT
fi

docker import --change 'CMD ["bash"]' "$tarball" "$PREFIX/debian:$SUITE" >/dev/null
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$CA_BUNDLE" "$ctx/ca-certificates.crt"
declare -A TAGS=([python]=3.11 [redis]=7 [nginx]=1)
for image in python redis nginx; do
  # Without the buildx plugin `docker build` is the legacy builder, which prints a deprecation notice on every
  # run: its output is shown only when the build fails.
  docker build --network host -q -f "$HERE/$image.Dockerfile" \
    --build-arg "BASE=$PREFIX/debian:$SUITE" -t "$PREFIX/$image:${TAGS[$image]}-$SUITE" "$ctx" \
    >"$ctx/build.log" 2>&1 || { cat "$ctx/build.log" >&2; exit 1; }
  echo "stand-in: built $PREFIX/$image:${TAGS[$image]}-$SUITE"
done
