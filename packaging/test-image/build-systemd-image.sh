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
# The image carries the label copilot.systemd-image.recipe=<sha256 of this script and
# assets/lib/debootstrap-image.sh>: a second run with the same scripts does nothing.
set -euo pipefail

IMAGE="${1:-copilot-systemd-test:latest}"
SUITE=bookworm
# libstdc++6: the host's node binary is bind-mounted and needs it; iproute2/procps to look around.
INCLUDE=systemd,systemd-sysv,dbus,libstdc++6,ca-certificates,procps,iproute2

# shellcheck source=../../assets/lib/debootstrap-image.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../assets/lib/debootstrap-image.sh"
image_build_start build-systemd-image "$IMAGE" copilot.systemd-image.recipe
debootstrap_rootfs "$SUITE" "$INCLUDE"

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

import_rootfs "$IMAGE" \
  --change 'ENV container=docker' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "LABEL copilot.systemd-image.recipe=$RECIPE" \
  --change 'CMD ["/bin/sh", "-c", "mount --make-rshared / && exec /lib/systemd/systemd"]'
