# shellcheck shell=bash
# Shared by the images this project builds from Debian packages with debootstrap
# (assets/job-image/build-cernvm-image.sh, packaging/test-image/build-systemd-image.sh). Sourced,
# after `set -euo pipefail`; defines:
#
#   image_build_start NAME IMAGE LABEL   checks docker, debootstrap and root; sets RECIPE (sha256
#                                        of the calling script and this file) and exits 0 when
#                                        IMAGE already carries LABEL=RECIPE (unless FORCE=1)
#   debootstrap_rootfs SUITE INCLUDE     a minbase root file system in $ROOT (under $WORKDIR,
#                                        removed at exit), .debs cached in COPILOT_DEBOOTSTRAP_CACHE
#   import_rootfs IMAGE [--change …]…    `docker import` of $ROOT as IMAGE; the image it replaces
#                                        is removed
#
# Env: FORCE=1; COPILOT_DEBIAN_MIRROR (default: the first mirror apt is configured with, else
# http://deb.debian.org/debian); COPILOT_DEBOOTSTRAP_CACHE (default /var/cache/copilot/debootstrap).

IMAGE_BUILD_LIB="$(readlink -f "${BASH_SOURCE[0]}")"

die() {
  echo "${IMAGE_BUILD_NAME:-build-image}: $*" >&2
  exit 1
}

image_build_start() {
  IMAGE_BUILD_NAME="$1"
  local image="$2" label="$3" script existing
  script="$(readlink -f "${BASH_SOURCE[1]}")"
  RECIPE="$(cat "$script" "$IMAGE_BUILD_LIB" | sha256sum | cut -d' ' -f1)"
  command -v docker >/dev/null 2>&1 || die "docker CLI not found (install docker.io: bash scripts/setup.sh)"
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    die "the docker daemon does not answer (start dockerd first: bash scripts/setup.sh)"
  if [[ "${FORCE:-0}" != "1" ]]; then
    existing="$(docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$image" 2>/dev/null || true)"
    if [[ "$existing" == "$RECIPE" ]]; then
      echo "$IMAGE_BUILD_NAME: $image is up to date (recipe $RECIPE)"
      exit 0
    fi
  fi
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found: apt-get install debootstrap"
  [[ "$(id -u)" == "0" ]] || die "debootstrap needs root (run with sudo)"
}

# The mirror apt already uses on this machine (deb822 .sources first, then one-line lists).
apt_mirror() {
  local file line
  for file in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$file" ]] || continue
    line="$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$file")"
    if [[ -n "$line" ]]; then
      echo "$line"
      return
    fi
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$file" ]] || continue
    line="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) { print $i; exit } }' "$file")"
    if [[ -n "$line" ]]; then
      echo "$line"
      return
    fi
  done
  echo "http://deb.debian.org/debian"
}

debootstrap_rootfs() {
  local suite="$1" include="$2" mirror cache
  mirror="${COPILOT_DEBIAN_MIRROR:-$(apt_mirror)}"
  cache="${COPILOT_DEBOOTSTRAP_CACHE:-/var/cache/copilot/debootstrap}"
  mkdir -p "$cache"
  WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/copilot-$IMAGE_BUILD_NAME.XXXXXX")"
  trap 'rm -rf "$WORKDIR"' EXIT
  ROOT="$WORKDIR/rootfs"
  echo "$IMAGE_BUILD_NAME: debootstrap $suite from $mirror (with $include)"
  debootstrap --variant=minbase --include="$include" --cache-dir="$cache" \
    "$suite" "$ROOT" "$mirror" >"$WORKDIR/debootstrap.log" 2>&1 || {
    tail -n 30 "$WORKDIR/debootstrap.log" >&2
    die "debootstrap failed (log above)"
  }
}

import_rootfs() {
  local image="$1" old_id new_id
  shift
  old_id="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
  tar --numeric-owner -C "$ROOT" -c . | docker import "$@" - "$image" >/dev/null
  new_id="$(docker image inspect --format '{{.Id}}' "$image")"
  if [[ -n "$old_id" && "$old_id" != "$new_id" ]]; then
    docker image rm "$old_id" >/dev/null 2>&1 || true
  fi
  echo "$IMAGE_BUILD_NAME: built $image ($(docker image inspect --format '{{.Size}}' "$image") bytes, recipe $RECIPE)"
}
