#!/usr/bin/env bash
# Builds copilot-systemd-test:latest, a Debian bookworm root file system with systemd as PID 1
# (debootstrap --variant=minbase with systemd, systemd-sysv, dbus), for
# test/integration/systemd-container.test.ts: the test runs it under dockerd with systemd as
# init, bind-mounts the host's node and this repository (as `npm install -g .` would place it)
# and starts packaging/systemd/*.service there with systemctl.
#
# Usage: build-systemd-image.sh [IMAGE]   (default copilot-systemd-test:latest)
# Env:   FORCE=1 rebuilds even when an image built from this exact recipe exists;
#        COPILOT_DEBIAN_MIRROR, COPILOT_DEBOOTSTRAP_CACHE as for
#        assets/job-image/build-cernvm-image.sh (default: apt's own mirror, /var/cache/copilot/debootstrap).
#
# The image carries the label copilot.systemd-image.recipe=<sha256 of this script>: a second run
# with the same script does nothing.
set -euo pipefail

IMAGE="${1:-copilot-systemd-test:latest}"
SCRIPT_PATH="$(readlink -f "${BASH_SOURCE[0]}")"
RECIPE="$(sha256sum "$SCRIPT_PATH" | cut -d' ' -f1)"
SUITE=bookworm
# libstdc++6: the host's node binary is bind-mounted and needs it; iproute2/procps to look around.
INCLUDE=systemd,systemd-sysv,dbus,libstdc++6,ca-certificates,procps,iproute2

die() {
  echo "build-systemd-image: $*" >&2
  exit 1
}

command -v docker >/dev/null 2>&1 || die "docker CLI not found (install docker.io: bash scripts/setup.sh)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "the docker daemon does not answer (start dockerd first: bash scripts/setup.sh)"

if [[ "${FORCE:-0}" != "1" ]]; then
  existing="$(docker image inspect --format '{{ index .Config.Labels "copilot.systemd-image.recipe" }}' "$IMAGE" 2>/dev/null || true)"
  if [[ "$existing" == "$RECIPE" ]]; then
    echo "build-systemd-image: $IMAGE is up to date (recipe $RECIPE)"
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

WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/copilot-systemd-image.XXXXXX")"
trap 'rm -rf "$WORKDIR"' EXIT
ROOT="$WORKDIR/rootfs"

echo "build-systemd-image: debootstrap $SUITE from $MIRROR (with $INCLUDE)"
debootstrap --variant=minbase --include="$INCLUDE" --cache-dir="$CACHE" \
  "$SUITE" "$ROOT" "$MIRROR" >"$WORKDIR/debootstrap.log" 2>&1 || {
  tail -n 30 "$WORKDIR/debootstrap.log" >&2
  die "debootstrap failed (log above)"
}

rm -rf "$ROOT"/var/cache/apt/* "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/journal/* \
  "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* "$ROOT"/usr/share/locale/*

# A container: no consoles to log in on, no udev, nothing that waits for hardware or the network.
for unit in getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
  systemd-networkd-wait-online.service systemd-timesyncd.service systemd-resolved.service \
  apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
  ln -sf /dev/null "$ROOT/etc/systemd/system/$unit"
done
echo "copilot-systemd-test" >"$ROOT/etc/hostname"
: >"$ROOT/etc/machine-id"
# The journal kept in memory (/run), readable with journalctl in the test.
mkdir -p "$ROOT/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$ROOT/etc/systemd/journald.conf.d/copilot-test.conf"

# PID 1: systemd, after making / shared. systemd does that itself only when the kernel starts it,
# not in a container (it leaves propagation to the container manager), and dockerd leaves every
# mount private: then credentials (LoadCredential=), mounted by a helper in its own namespace and
# moved under /run/credentials, never reach the service, whose directory stays empty (EACCES).
chroot "$ROOT" /bin/systemctl --version >/dev/null || die "systemctl does not run inside the rootfs"

old_id="$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
tar --numeric-owner -C "$ROOT" -c . |
  docker import \
    --change 'ENV container=docker' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL copilot.systemd-image.recipe=$RECIPE" \
    --change 'CMD ["/bin/sh", "-c", "mount --make-rshared / && exec /lib/systemd/systemd"]' \
    - "$IMAGE" >/dev/null
new_id="$(docker image inspect --format '{{.Id}}' "$IMAGE")"
if [[ -n "$old_id" && "$old_id" != "$new_id" ]]; then
  docker image rm "$old_id" >/dev/null 2>&1 || true
fi

echo "build-systemd-image: built $IMAGE ($(docker image inspect --format '{{.Size}}' "$IMAGE") bytes, recipe $RECIPE)"
