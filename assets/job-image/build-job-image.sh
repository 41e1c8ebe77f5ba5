#!/usr/bin/env bash
# Builds the CernVM-like Co-Pilot job image without any registry:
#   busybox-static applets + the host's real /bin/bash and /usr/bin/bc (with their
#   shared libraries and the dynamic loader), an unprivileged user copilot (1000:1000),
#   /tmp (1777), /work and /cvmfs, imported with `docker import`.
#
# Usage: build-job-image.sh [IMAGE]   (default copilot-job:latest)
# Env:   FORCE=1 rebuilds even when an image built from this exact recipe exists.
#
# The image carries the label copilot.job-image.recipe=<sha256 of this script>; the test
# harness compares it with the script on disk to decide whether a rebuild is needed.
set -euo pipefail

IMAGE="${1:-copilot-job:latest}"
SCRIPT_PATH="$(readlink -f "${BASH_SOURCE[0]}")"
RECIPE="$(sha256sum "$SCRIPT_PATH" | cut -d' ' -f1)"

die() {
  echo "build-job-image: $*" >&2
  exit 1
}

command -v docker >/dev/null 2>&1 || die "docker CLI not found (install docker.io: bash scripts/setup.sh)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "the docker daemon does not answer (start dockerd first: bash scripts/setup.sh)"

if [[ "${FORCE:-0}" != "1" ]]; then
  existing="$(docker image inspect --format '{{ index .Config.Labels "copilot.job-image.recipe" }}' "$IMAGE" 2>/dev/null || true)"
  if [[ "$existing" == "$RECIPE" ]]; then
    echo "build-job-image: $IMAGE is up to date (recipe $RECIPE)"
    exit 0
  fi
fi

BUSYBOX=""
for candidate in /bin/busybox /usr/bin/busybox; do
  if [[ -x "$candidate" ]]; then
    BUSYBOX="$candidate"
    break
  fi
done
[[ -n "$BUSYBOX" ]] || die "busybox not found: apt-get install busybox-static"
if ! file_out="$(LC_ALL=C ldd "$BUSYBOX" 2>&1)"; then :; fi
case "$file_out" in
  *"not a dynamic executable"* | *"statically linked"*) ;;
  *) die "$BUSYBOX is dynamically linked; install busybox-static" ;;
esac
BASH_BIN="$(readlink -f /bin/bash 2>/dev/null || true)"
[[ -x "$BASH_BIN" ]] || die "/bin/bash is missing on the host"
BC_BIN="$(command -v bc || true)"
[[ -n "$BC_BIN" && -x "$BC_BIN" ]] || die "bc is missing on the host: apt-get install bc (bash scripts/setup.sh does)"

WORKDIR="$(mktemp -d /tmp/copilot-job-image.XXXXXX)"
trap 'rm -rf "$WORKDIR"' EXIT
ROOT="$WORKDIR/rootfs"

mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,root,work,cvmfs,home/copilot,var/tmp}
mkdir -p "$ROOT/tmp"
chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"
chmod 0700 "$ROOT/root"

# busybox and its applets as symlinks at their canonical paths (bin/sh, usr/bin/awk, ...).
cp "$BUSYBOX" "$ROOT/bin/busybox"
chmod 0755 "$ROOT/bin/busybox"
while IFS= read -r applet; do
  [[ -n "$applet" ]] || continue
  [[ "$applet" == "bin/busybox" ]] && continue
  dir="$(dirname "$applet")"
  mkdir -p "$ROOT/$dir"
  # absolute link: resolved inside the container's root, never the host's
  ln -sfn /bin/busybox "$ROOT/$applet"
done < <("$BUSYBOX" --list-full)

# Real binaries: remove any busybox applet symlink first so that cp never writes through it.
copy_binary() {
  local src="$1" dest="$2"
  rm -f "$ROOT$dest"
  mkdir -p "$(dirname "$ROOT$dest")"
  cp -L "$src" "$ROOT$dest"
  chmod 0755 "$ROOT$dest"
  # shared libraries and the dynamic loader, at the paths the binary asks for
  local lib
  while IFS= read -r lib; do
    [[ -n "$lib" ]] || continue
    mkdir -p "$(dirname "$ROOT$lib")"
    cp -L "$lib" "$ROOT$lib"
  done < <(LC_ALL=C ldd "$src" | awk '
      $2 == "=>" && $3 ~ /^\// { print $3; next }
      $1 ~ /^\// { print $1 }')
}
copy_binary "$BASH_BIN" /bin/bash
copy_binary "$BC_BIN" /usr/bin/bc

# A loader cache so that libraries resolve whatever the loader's built-in search path is.
printf '/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n/lib\n/usr/lib\n/lib64\n' >"$ROOT/etc/ld.so.conf"
if command -v ldconfig >/dev/null 2>&1; then
  ldconfig -r "$ROOT" 2>/dev/null || true
fi

cat >"$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
copilot:x:1000:1000:Co-Pilot job user:/home/copilot:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$ROOT/etc/group" <<'EOF'
root:x:0:
copilot:x:1000:
nogroup:x:65534:
EOF
cat >"$ROOT/etc/shadow" <<'EOF'
root:*:19000:0:99999:7:::
copilot:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
EOF
chmod 0640 "$ROOT/etc/shadow"
cat >"$ROOT/etc/os-release" <<'EOF'
NAME="CernVM-like Co-Pilot job image"
PRETTY_NAME="CernVM-like Co-Pilot job image"
ID=copilot-job
VERSION_ID="1"
HOME_URL="https://cernvm.cern.ch/"
EOF
echo "CernVM-like Co-Pilot job image" >"$ROOT/etc/issue"
printf 'hosts: files dns\npasswd: files\ngroup: files\n' >"$ROOT/etc/nsswitch.conf"
chown 1000:1000 "$ROOT/work" "$ROOT/home/copilot"
chmod 0755 "$ROOT/work" "$ROOT/cvmfs"

# Smoke test of the rootfs on the host before importing (bash and bc must run from it).
if command -v chroot >/dev/null 2>&1 && [[ "$(id -u)" == "0" ]]; then
  out="$(chroot "$ROOT" /bin/bash -c 'echo "2+2" | bc')" || die "bash/bc do not run inside the rootfs"
  [[ "$out" == "4" ]] || die "bash/bc smoke test printed '$out', expected 4"
fi

old_id="$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
tar --numeric-owner -C "$ROOT" -c . |
  docker import \
    --change 'USER 1000:1000' \
    --change 'WORKDIR /work' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV HOME=/home/copilot' \
    --change "LABEL copilot.job-image.recipe=$RECIPE" \
    --change 'CMD ["/bin/sh"]' \
    - "$IMAGE" >/dev/null
new_id="$(docker image inspect --format '{{.Id}}' "$IMAGE")"
if [[ -n "$old_id" && "$old_id" != "$new_id" ]]; then
  # the previous build is now untagged: drop it unless a container still uses it
  docker image rm "$old_id" >/dev/null 2>&1 || true
fi

echo "build-job-image: built $IMAGE (recipe $RECIPE)"
