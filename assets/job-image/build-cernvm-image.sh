#!/usr/bin/env bash
# Builds the CernVM-like job image a project publishes for its jobs (runJob's `image`): a Debian
# bookworm root file system made with `debootstrap --variant=minbase` (bash, coreutils, python3,
# bc, ...), an unprivileged user copilot (1000:1000), /work, /cvmfs and /tmp (1777), imported
# with `docker import`. Push it to the project's registry and submit jobs with
# `copilot-job-submit --image registry/repo@sha256:…` (README "Job images").
#
# Usage: build-cernvm-image.sh [IMAGE]   (default copilot-job-cernvm:latest)
# Env:   FORCE=1 rebuilds even when an image built from this exact recipe exists;
#        COPILOT_DEBIAN_MIRROR overrides the mirror (default: the first one apt is configured
#        with, /etc/apt/sources.list*; else http://deb.debian.org/debian);
#        COPILOT_DEBOOTSTRAP_CACHE keeps the downloaded .debs between builds
#        (default /var/cache/copilot/debootstrap).
#
# The image carries the label copilot.job-image.recipe=<sha256 of this script>: a second run
# with the same script does nothing.
set -euo pipefail

IMAGE="${1:-copilot-job-cernvm:latest}"
SCRIPT_PATH="$(readlink -f "${BASH_SOURCE[0]}")"
RECIPE="$(sha256sum "$SCRIPT_PATH" | cut -d' ' -f1)"
SUITE=bookworm
INCLUDE=python3,bc,ca-certificates,procps,less,file,xz-utils,bzip2

die() {
  echo "build-cernvm-image: $*" >&2
  exit 1
}

command -v docker >/dev/null 2>&1 || die "docker CLI not found (install docker.io: bash scripts/setup.sh)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "the docker daemon does not answer (start dockerd first: bash scripts/setup.sh)"

if [[ "${FORCE:-0}" != "1" ]]; then
  existing="$(docker image inspect --format '{{ index .Config.Labels "copilot.job-image.recipe" }}' "$IMAGE" 2>/dev/null || true)"
  if [[ "$existing" == "$RECIPE" ]]; then
    echo "build-cernvm-image: $IMAGE is up to date (recipe $RECIPE)"
    exit 0
  fi
fi

command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found: apt-get install debootstrap"
[[ "$(id -u)" == "0" ]] || die "debootstrap needs root (run with sudo)"

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
MIRROR="${COPILOT_DEBIAN_MIRROR:-$(apt_mirror)}"
CACHE="${COPILOT_DEBOOTSTRAP_CACHE:-/var/cache/copilot/debootstrap}"
mkdir -p "$CACHE"

WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/copilot-cernvm-image.XXXXXX")"
trap 'rm -rf "$WORKDIR"' EXIT
ROOT="$WORKDIR/rootfs"

echo "build-cernvm-image: debootstrap $SUITE from $MIRROR (with $INCLUDE)"
debootstrap --variant=minbase --include="$INCLUDE" --cache-dir="$CACHE" \
  "$SUITE" "$ROOT" "$MIRROR" >"$WORKDIR/debootstrap.log" 2>&1 || {
  tail -n 30 "$WORKDIR/debootstrap.log" >&2
  die "debootstrap failed (log above)"
}

# Smaller: no package caches, lists, docs, manuals or translations.
rm -rf "$ROOT"/var/cache/apt/* "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/* \
  "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* "$ROOT"/usr/share/locale/*
find "$ROOT"/usr/lib -name '__pycache__' -type d -prune -exec rm -rf {} +

# The job user (the agent runs every job as 1000:1000) and the CernVM-like mount points.
grep -q '^copilot:' "$ROOT/etc/group" || echo 'copilot:x:1000:' >>"$ROOT/etc/group"
grep -q '^copilot:' "$ROOT/etc/passwd" ||
  echo 'copilot:x:1000:1000:Co-Pilot job user:/home/copilot:/bin/bash' >>"$ROOT/etc/passwd"
grep -q '^copilot:' "$ROOT/etc/shadow" || echo 'copilot:*:19000:0:99999:7:::' >>"$ROOT/etc/shadow"
mkdir -p "$ROOT/work" "$ROOT/cvmfs" "$ROOT/home/copilot" "$ROOT/tmp"
chown 1000:1000 "$ROOT/work" "$ROOT/home/copilot"
chmod 0755 "$ROOT/work" "$ROOT/cvmfs"
chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"
cat >"$ROOT/etc/os-release" <<'EOF'
NAME="CernVM-like Co-Pilot job image"
PRETTY_NAME="CernVM-like Co-Pilot job image (Debian 12 minbase)"
ID=copilot-job
ID_LIKE=debian
VERSION_ID="12"
HOME_URL="https://cernvm.cern.ch/"
EOF
echo "CernVM-like Co-Pilot job image" >"$ROOT/etc/issue"

# Smoke test inside the root file system before importing.
out="$(chroot "$ROOT" /bin/bash -c 'python3 -c "print(6*7)"; echo "2+2" | bc')" ||
  die "bash/python3/bc do not run inside the rootfs"
[[ "$out" == $'42\n4' ]] || die "smoke test printed '$out', expected 42 and 4"

old_id="$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
tar --numeric-owner -C "$ROOT" -c . |
  docker import \
    --change 'USER 1000:1000' \
    --change 'WORKDIR /work' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV HOME=/home/copilot' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL copilot.job-image.recipe=$RECIPE" \
    --change 'CMD ["/bin/bash"]' \
    - "$IMAGE" >/dev/null
new_id="$(docker image inspect --format '{{.Id}}' "$IMAGE")"
if [[ -n "$old_id" && "$old_id" != "$new_id" ]]; then
  docker image rm "$old_id" >/dev/null 2>&1 || true
fi

echo "build-cernvm-image: built $IMAGE ($(docker image inspect --format '{{.Size}}' "$IMAGE") bytes, recipe $RECIPE)"
