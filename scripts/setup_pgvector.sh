#!/usr/bin/env bash
# Make the PostgreSQL "vector" extension (pgvector) available for the local
# PostgreSQL 15 server.
#
# Debian bookworm ships no pgvector package, so when the extension is missing
# this script builds pgvector from Debian trixie's *source* package and runs a
# plain `make install` into the PostgreSQL 15 tree. The trixie source is
# fetched with a private, throw-away apt configuration (its own sources list,
# lists, state and cache dirs under a temp dir); the system's apt sources are
# never touched.
#
# Idempotent: if the extension is already available it exits 0 straight away.
#
# Environment overrides (all optional):
#   PGHOST_CHECK   host for psql checks        (default 127.0.0.1)
#   PGUSER_CHECK   superuser for psql checks   (default postgres)
#   PG_CONFIG      pg_config of the target PG  (default /usr/lib/postgresql/15/bin/pg_config)
#   SETUP_PGVECTOR_KEEP=1  keep the temp work dir (logs, sources) for debugging
set -euo pipefail

PG_MAJOR=15
PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config}"
PGHOST_CHECK="${PGHOST_CHECK:-127.0.0.1}"
PGUSER_CHECK="${PGUSER_CHECK:-postgres}"
CONTROL_FILE="/usr/share/postgresql/${PG_MAJOR}/extension/vector.control"
EXPECTED_UPSTREAM="0.8.0"
SOURCE_SUITE="trixie"
KEYRING="/usr/share/keyrings/debian-archive-keyring.gpg"
DEBIAN_SOURCES="/etc/apt/sources.list.d/debian.sources"

log() { printf '[setup_pgvector] %s\n' "$*"; }
die() { printf '[setup_pgvector] ERROR: %s\n' "$*" >&2; exit 1; }

psql_q() {
    psql -h "$PGHOST_CHECK" -U "$PGUSER_CHECK" -X -v ON_ERROR_STOP=1 -Atq "$@"
}

server_reachable() {
    command -v psql >/dev/null 2>&1 && psql_q -d postgres -c 'SELECT 1' >/dev/null 2>&1
}

vector_available() {
    [ -f "$CONTROL_FILE" ] && return 0
    if server_reachable; then
        [ "$(psql_q -d postgres -c "SELECT 1 FROM pg_available_extensions WHERE name='vector'" 2>/dev/null)" = "1" ] && return 0
    fi
    return 1
}

# ---------------------------------------------------------------- fast path
if vector_available; then
    log "pgvector already available for PostgreSQL ${PG_MAJOR}; nothing to do."
    exit 0
fi

# ---------------------------------------------------------------- preconditions
if [ "$(id -u)" -ne 0 ]; then
    cat >&2 <<EOF
[setup_pgvector] ERROR: the PostgreSQL 'vector' extension is not installed and
installing it needs root (apt-get install of build deps + make install into
$(dirname "$CONTROL_FILE")).
Re-run as root, e.g.:   sudo $0
EOF
    exit 1
fi

START_TS=$(date +%s)
export DEBIAN_FRONTEND=noninteractive

# Read the Debian mirror URI from the machine's own apt configuration: the
# deb822 stanza whose Suites include plain "bookworm" (not bookworm-security).
mirror_uri() {
    local uri=""
    if [ -r "$DEBIAN_SOURCES" ]; then
        uri=$(awk '
            BEGIN { RS=""; FS="\n" }
            {
                uris=""; hit=0
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^[ \t]*#/) continue
                    if (line ~ /^URIs:/)   { sub(/^URIs:[ \t]*/, "", line); split(line, u, /[ \t]+/); uris = u[1] }
                    if (line ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", line); n = split(line, s, /[ \t]+/)
                                             for (j = 1; j <= n; j++) if (s[j] == "bookworm") hit = 1 }
                }
                if (hit && uris != "") { print uris; exit }
            }' "$DEBIAN_SOURCES")
    fi
    # Fallback: one-line style /etc/apt/sources.list ("deb [opts] URI bookworm ...").
    if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" {
                    i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                    if ($(i+1) == "bookworm") { print $i; exit } }' /etc/apt/sources.list)
    fi
    printf '%s' "$uri"
}

MIRROR=$(mirror_uri)
[ -n "$MIRROR" ] || die "could not find a 'bookworm' mirror URI in $DEBIAN_SOURCES or /etc/apt/sources.list"

WORK=$(mktemp -d /tmp/setup_pgvector.XXXXXX)
trap '[ -n "${SETUP_PGVECTOR_KEEP:-}" ] || rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- build deps (bookworm, system apt)
APT_LOCK_OPTS=(-o DPkg::Lock::Timeout=300)
BUILD_DEPS=("postgresql-server-dev-${PG_MAJOR}" build-essential dpkg-dev)
missing=()
for p in "${BUILD_DEPS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing build dependencies: ${missing[*]}"
    if ! apt-get "${APT_LOCK_OPTS[@]}" install -y -q --no-install-recommends "${missing[@]}" >"$WORK/apt-install.log" 2>&1; then
        log "apt-get install failed; running apt-get update and retrying"
        apt-get "${APT_LOCK_OPTS[@]}" update -q >>"$WORK/apt-install.log" 2>&1 \
            || { cat "$WORK/apt-install.log" >&2; die "apt-get update failed"; }
        apt-get "${APT_LOCK_OPTS[@]}" install -y -q --no-install-recommends "${missing[@]}" >>"$WORK/apt-install.log" 2>&1 \
            || { cat "$WORK/apt-install.log" >&2; die "could not install ${missing[*]}"; }
    fi
fi
[ -x "$PG_CONFIG" ] || die "pg_config not found at $PG_CONFIG"

# ---------------------------------------------------------------- private apt config for trixie sources
# apt drops privileges to _apt for downloads; let it traverse/write our dirs.
chmod 755 "$WORK"
mkdir -p "$WORK/etc/sources.list.d" "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/src"
chown _apt "$WORK/src" 2>/dev/null || true

# Trixie's archive signing keys ("Debian Archive Automatic Signing Key
# (13/trixie)" etc.) are in bookworm's debian-archive-keyring (>= 2023.3+deb12u1),
# so the trixie Release file is verified normally via Signed-By - no
# "trusted=yes" needed.
printf 'deb-src [signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$SOURCE_SUITE" >"$WORK/etc/sources.list"

PRIVATE_APT=(
    -o "Dir::Etc::SourceList=$WORK/etc/sources.list"
    -o "Dir::Etc::SourceParts=$WORK/etc/sources.list.d"
    -o "Dir::State::Lists=$WORK/lists"
    -o "Dir::Cache=$WORK/cache"
    -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache="
    -o "Acquire::Languages=none"
)

log "fetching pgvector source package from Debian ${SOURCE_SUITE} (private apt config)"
apt-get "${PRIVATE_APT[@]}" update -q >"$WORK/apt-update.log" 2>&1 \
    || { cat "$WORK/apt-update.log" >&2; die "private apt-get update for ${SOURCE_SUITE} sources failed"; }
( cd "$WORK/src" && apt-get "${PRIVATE_APT[@]}" source -q pgvector ) >"$WORK/apt-source.log" 2>&1 \
    || { cat "$WORK/apt-source.log" >&2; die "apt-get source pgvector failed"; }

SRC_DIR=$(find "$WORK/src" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -n1)
[ -n "$SRC_DIR" ] || die "apt-get source did not produce a pgvector-* directory"
UPSTREAM_VERSION=${SRC_DIR##*/pgvector-}
DSC_VERSION=$(sed -n 's/^Version: //p' "$WORK"/src/pgvector_*.dsc | head -n1)
log "got pgvector source ${DSC_VERSION:-$UPSTREAM_VERSION}"
if [ "$UPSTREAM_VERSION" != "$EXPECTED_UPSTREAM" ]; then
    log "WARNING: expected upstream ${EXPECTED_UPSTREAM}, ${SOURCE_SUITE} ships ${UPSTREAM_VERSION}; building it anyway"
fi

# ---------------------------------------------------------------- build + install
# OPTFLAGS="" mirrors Debian's packaging (its "no-native" patch does the same):
# pgvector's Makefile defaults to -march=native, which would tie the binary to
# this exact CPU.
log "building pgvector ${UPSTREAM_VERSION} against $("$PG_CONFIG" --version)"
make -C "$SRC_DIR" -j"$(nproc)" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >"$WORK/build.log" 2>&1 \
    || { tail -n 40 "$WORK/build.log" >&2; die "make failed"; }
make -C "$SRC_DIR" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" install >"$WORK/install.log" 2>&1 \
    || { tail -n 40 "$WORK/install.log" >&2; die "make install failed"; }
[ -f "$CONTROL_FILE" ] || die "make install finished but $CONTROL_FILE is missing"

# ---------------------------------------------------------------- verify
if server_reachable; then
    CHECK_DB="pgvector_setup_check_$$"
    psql_q -d postgres -c "CREATE DATABASE \"$CHECK_DB\""
    verify_ok=0
    VERSION=$(psql_q -d "$CHECK_DB" \
        -c "CREATE EXTENSION IF NOT EXISTS vector" \
        -c "SELECT extversion FROM pg_extension WHERE extname='vector'" \
        -c "SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector" 2>&1) && verify_ok=1
    psql_q -d postgres -c "DROP DATABASE IF EXISTS \"$CHECK_DB\"" || true
    [ "$verify_ok" = 1 ] || die "CREATE EXTENSION vector failed: $VERSION"
    log "verified: CREATE EXTENSION vector works (extversion $(printf '%s' "$VERSION" | head -n1))"
else
    log "WARNING: PostgreSQL on ${PGHOST_CHECK} not reachable as ${PGUSER_CHECK}; installed files but skipped the CREATE EXTENSION check"
fi

log "done in $(( $(date +%s) - START_TS ))s"
