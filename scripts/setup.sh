#!/usr/bin/env bash
# Idempotent set-up of a Debian 12 machine for Co-Pilot Desktop development, tests and CI.
# Run as root (or as a user with sudo). Works unattended (CI=true, no stdin).
#
#   1. Debian packages the real-server tests use (prosody, ejabberd, redis, docker, chromium, ...)
#   2. stops the system instances of prosody/ejabberd/redis/carbon that Debian starts on install
#      (the test harness runs its own on free loopback ports)
#   3. npm dependencies (npm ci; skipped when node_modules matches the lockfile already)
#   4. a running Docker daemon (dockerd with the vfs driver when none answers)
#   5. the job image copilot-job:latest (assets/job-image/build-job-image.sh)
#   6. the CernVM-like job image copilot-job-cernvm:latest (build-cernvm-image.sh: debootstrap)
#   7. copilot-systemd-test:latest, Debian with systemd as init (packaging/test-image/, debootstrap)
#
# Env: SETUP_SKIP_APT=1, SETUP_SKIP_NPM=1, SETUP_SKIP_DOCKER=1 skip the matching step.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
export DEBIAN_FRONTEND=noninteractive

log() { echo "[setup] $*"; }

SUDO=()
if [[ "$(id -u)" != "0" ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
  else
    log "not root and no sudo: system steps may fail"
  fi
fi

# --- 1. Debian packages ------------------------------------------------------------------------
PACKAGES=(
  prosody ejabberd redis-server docker.io chromium busybox-static bc coop-computing-tools
  graphite-carbon openssl ca-certificates procps iproute2 podman docker-registry debootstrap
  zbar-tools
)
if [[ "${SETUP_SKIP_APT:-0}" != "1" ]]; then
  missing=()
  for pkg in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
  done
  if ((${#missing[@]} > 0)); then
    log "installing: ${missing[*]}"
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      "${missing[@]}" </dev/null
  else
    log "Debian packages already installed"
  fi

  # --- 2. the harness runs its own servers: stop the system instances --------------------------
  for svc in prosody ejabberd redis-server carbon-cache docker-registry; do
    if command -v service >/dev/null 2>&1; then
      "${SUDO[@]}" service "$svc" stop >/dev/null 2>&1 || true
    elif [[ -x "/etc/init.d/$svc" ]]; then
      "${SUDO[@]}" "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    fi
  done
fi

# --- 3. npm dependencies -------------------------------------------------------------------------
if [[ "${SETUP_SKIP_NPM:-0}" != "1" ]]; then
  export ELECTRON_SKIP_BINARY_DOWNLOAD=1
  stamp_file="node_modules/.copilot-setup-stamp"
  if [[ -f package-lock.json ]]; then
    want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
    if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$want" ]]; then
      log "node_modules matches package-lock.json"
    else
      log "npm ci"
      npm ci --no-audit --no-fund </dev/null
      echo "$want" >"$stamp_file"
    fi
  else
    log "no package-lock.json: npm install"
    npm install --no-audit --no-fund </dev/null
  fi
fi

# --- 4. Docker daemon ----------------------------------------------------------------------------
docker_answers() { "${SUDO[@]}" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if [[ "${SETUP_SKIP_DOCKER:-0}" != "1" ]]; then
  if docker_answers; then
    log "Docker daemon answers"
  else
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
      "${SUDO[@]}" systemctl start docker >/dev/null 2>&1 || true
    fi
    if ! docker_answers; then
      log "starting dockerd (vfs storage driver, no iptables, no bridge); log /tmp/dockerd.log"
      "${SUDO[@]}" setsid nohup dockerd --storage-driver=vfs --iptables=false --bridge=none \
        >/tmp/dockerd.log 2>&1 </dev/null &
      for _ in $(seq 1 120); do
        docker_answers && break
        sleep 0.5
      done
      if ! docker_answers; then
        echo "[setup] dockerd did not answer within 60 s; tail of /tmp/dockerd.log:" >&2
        tail -n 40 /tmp/dockerd.log >&2 || true
        exit 1
      fi
    fi
    log "Docker daemon answers"
  fi

  # --- 5. the job image ------------------------------------------------------------------------
  "${SUDO[@]}" bash assets/job-image/build-job-image.sh copilot-job:latest

  # --- 6. the CernVM-like image a project publishes (debootstrap; tests push it to a registry) --
  "${SUDO[@]}" bash assets/job-image/build-cernvm-image.sh copilot-job-cernvm:latest

  # --- 7. systemd as PID 1 in a container, for the units' test (systemd-container.test.ts) -------
  "${SUDO[@]}" bash packaging/test-image/build-systemd-image.sh copilot-systemd-test:latest
fi

mkdir -p test-artifacts/logs
log "done"
