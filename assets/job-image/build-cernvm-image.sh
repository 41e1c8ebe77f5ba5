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
# The image carries the label copilot.job-image.recipe=<sha256 of this script and
# assets/lib/debootstrap-image.sh>: a second run with the same scripts does nothing.
set -euo pipefail

IMAGE="${1:-copilot-job-cernvm:latest}"
SUITE=bookworm
INCLUDE=python3,bc,ca-certificates,procps,less,file,xz-utils,bzip2

# shellcheck source=../lib/debootstrap-image.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../lib/debootstrap-image.sh"
image_build_start build-cernvm-image "$IMAGE" copilot.job-image.recipe
debootstrap_rootfs "$SUITE" "$INCLUDE"

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

import_rootfs "$IMAGE" \
  --change 'USER 1000:1000' \
  --change 'WORKDIR /work' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV HOME=/home/copilot' \
  --change 'ENV LANG=C.UTF-8' \
  --change "LABEL copilot.job-image.recipe=$RECIPE" \
  --change 'CMD ["/bin/bash"]'
