#!/usr/bin/env bash
# Ensure Debian's Chromium is installed at /usr/bin/chromium (used headless by
# Playwright via executable_path="/usr/bin/chromium"), plus a small set of
# fonts so pages render with real glyphs.
#
# Idempotent: a no-op when chromium and the fonts are already present.
# `apt-get update` is only run if the install fails (e.g. no package lists).
set -euo pipefail

CHROMIUM_BIN=/usr/bin/chromium
# chromium itself; fonts-liberation = metric-compatible Arial/Times/Courier
# (~1.5 MB); fonts-dejavu-core = broad Unicode coverage (small).
PACKAGES=(chromium fonts-liberation fonts-dejavu-core)

log() { printf '[setup_chromium] %s\n' "$*"; }
die() { printf '[setup_chromium] ERROR: %s\n' "$*" >&2; exit 1; }

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in "${PACKAGES[@]}"; do
    is_installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ] && [ -x "$CHROMIUM_BIN" ]; then
    log "chromium already installed ($CHROMIUM_BIN); nothing to do."
    exit 0
fi
# Binary missing although the package claims to be installed: reinstall it.
if [ ! -x "$CHROMIUM_BIN" ] && is_installed chromium; then
    missing+=(--reinstall chromium)
fi

if [ "$(id -u)" -ne 0 ]; then
    cat >&2 <<EOF
[setup_chromium] ERROR: missing: ${missing[*]}
Installing them needs root. Re-run as root, e.g.:   sudo $0
EOF
    exit 1
fi

START_TS=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
LOG=$(mktemp /tmp/setup_chromium.XXXXXX.log)
trap 'rm -f "$LOG"' EXIT
APT=(apt-get -o DPkg::Lock::Timeout=300 -q -y --no-install-recommends)

log "installing: ${missing[*]}"
if ! "${APT[@]}" install "${missing[@]}" >"$LOG" 2>&1; then
    log "apt-get install failed; running apt-get update and retrying"
    "${APT[@]}" update >>"$LOG" 2>&1 || { cat "$LOG" >&2; die "apt-get update failed"; }
    "${APT[@]}" install "${missing[@]}" >>"$LOG" 2>&1 \
        || { cat "$LOG" >&2; die "apt-get install ${missing[*]} failed"; }
fi

[ -x "$CHROMIUM_BIN" ] || die "install finished but $CHROMIUM_BIN is missing"
VERSION=$("$CHROMIUM_BIN" --version 2>/dev/null || true)
log "installed ${VERSION:-chromium} in $(( $(date +%s) - START_TS ))s"
