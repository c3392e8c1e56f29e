#!/usr/bin/env bash
# Install the TimescaleDB extension (Apache-2 edition) into the local
# PostgreSQL cluster, building it from the Debian 13 ("trixie") source package.
#
# Idempotent: if the extension is already available and preloaded, it exits
# immediately; if only the preload setting is missing, it fixes the config and
# restarts the cluster without rebuilding.
#
# Environment overrides (defaults in brackets):
#   PG_MAJOR [15]  PG_CLUSTER [main]  PGHOST [127.0.0.1]  PGPORT [5432]
#   PGUSER [postgres]  TSDB_SOURCE_SUITE [trixie]  TSDB_FORCE_BUILD [0]
#   TSDB_MIRROR [auto-detected from the system's apt sources]
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
SOURCE_SUITE="${TSDB_SOURCE_SUITE:-trixie}"
FORCE_BUILD="${TSDB_FORCE_BUILD:-0}"
PG_BINDIR="/usr/lib/postgresql/${PG_MAJOR}/bin"
PG_CONFIG="${PG_BINDIR}/pg_config"
PG_CONFDIR="/etc/postgresql/${PG_MAJOR}/${PG_CLUSTER}"
DROPIN_NAME="99-timescaledb.conf"
export PGHOST PGPORT PGUSER

START_TS=$(date +%s)
log()  { printf '[timescaledb] %s\n' "$*"; }
warn() { printf '[timescaledb] WARNING: %s\n' "$*" >&2; }
die()  { printf '[timescaledb] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- privileges
if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    die "must run as root (or with sudo available)"
fi
as_root() { "${SUDO[@]}" "$@"; }

# ------------------------------------------------------------- cleanup/trap
WORKDIR=""
SCRATCH_DB=""
cleanup() {
    local rc=$?
    if [[ -n "$SCRATCH_DB" ]]; then
        psql -q -d postgres -c "DROP DATABASE IF EXISTS \"${SCRATCH_DB}\"" >/dev/null 2>&1 || true
    fi
    if [[ -n "$WORKDIR" && -d "$WORKDIR" ]]; then
        as_root rm -rf -- "$WORKDIR" || true
    fi
    if [[ $rc -ne 0 ]]; then
        printf '[timescaledb] FAILED (exit %d) after %ss\n' "$rc" "$(( $(date +%s) - START_TS ))" >&2
    fi
    return $rc
}
trap cleanup EXIT

# ------------------------------------------------------------------ helpers
psql() { command psql -X -v ON_ERROR_STOP=1 "$@"; }
q()    { psql -d postgres -Atqc "$1"; }

server_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT" >/dev/null 2>&1; }

wait_ready() {
    local i
    for i in $(seq 1 60); do
        server_up && return 0
        sleep 1
    done
    die "PostgreSQL did not become ready on ${PGHOST}:${PGPORT} within 60s"
}

ensure_running() {
    if ! server_up; then
        log "cluster ${PG_MAJOR}/${PG_CLUSTER} not accepting connections; starting it"
        as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$PG_CLUSTER" start || true
        wait_ready
    fi
}

restart_cluster() {
    log "restarting cluster ${PG_MAJOR}/${PG_CLUSTER}"
    as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$PG_CLUSTER" restart
    wait_ready
    log "cluster is ready"
}

ext_available() { [[ "$(q "select 1 from pg_available_extensions where name='timescaledb'" 2>/dev/null)" == "1" ]]; }
lib_installed() { [[ -f "/usr/lib/postgresql/${PG_MAJOR}/lib/timescaledb.so" ]]; }
preloaded()     { q "show shared_preload_libraries" 2>/dev/null | tr ',' '\n' | sed 's/^[[:space:]"]*//; s/[[:space:]"]*$//' | grep -qx timescaledb; }

# --------------------------------------------------------- mirror detection
# Print the URI of the first Debian main-archive source (one whose suites
# include the running release codename), from one-line and deb822 files.
detect_mirror() {
    local codename f
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
    {
        if [[ -f /etc/apt/sources.list ]]; then
            # deb [opts] URI suite comp...
            sed -e 's/#.*//' -e 's/\[[^]]*\]//' /etc/apt/sources.list |
                awk -v c="$codename" '($1=="deb"||$1=="deb-src") && $3==c {print $2}'
        fi
        for f in /etc/apt/sources.list.d/*.list; do
            [[ -f "$f" ]] || continue
            sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
                awk -v c="$codename" '($1=="deb"||$1=="deb-src") && $3==c {print $2}'
        done
        for f in /etc/apt/sources.list.d/*.sources; do
            [[ -f "$f" ]] || continue
            # deb822: paragraphs separated by blank lines.
            awk -v c="$codename" '
                function flush() {
                    if (uris != "" && enabled != "no") {
                        n = split(suites, s, /[[:space:]]+/)
                        for (i = 1; i <= n; i++) if (s[i] == c) { split(uris, u, /[[:space:]]+/); print u[1]; break }
                    }
                    uris = ""; suites = ""; enabled = ""
                }
                /^[[:space:]]*#/ { next }
                /^[[:space:]]*$/ { flush(); next }
                tolower($1) == "uris:"    { $1 = ""; uris = $0; sub(/^[[:space:]]+/, "", uris) }
                tolower($1) == "suites:"  { $1 = ""; suites = $0 }
                tolower($1) == "enabled:" { enabled = tolower($2) }
                END { flush() }
            ' "$f"
        done
    } | grep -E '^(https?|file)://' | head -n1
}

# ------------------------------------------------------------ config update
conf_includes_confd() {
    grep -Eq "^[[:space:]]*include_dir[[:space:]]*=?[[:space:]]*'(conf\.d|${PG_CONFDIR}/conf\.d)'" "${PG_CONFDIR}/postgresql.conf"
}

configure_preload() {
    local current merged item dropin
    dropin="${PG_CONFDIR}/conf.d/${DROPIN_NAME}"
    # Current value as it would be applied from the config files, ignoring our
    # own drop-in (so reruns don't feed back into themselves); fall back to the
    # running value.
    current="$(q "select setting from pg_file_settings where name='shared_preload_libraries' and error is null and sourcefile <> '${dropin}' order by seqno desc limit 1" 2>/dev/null || true)"
    if [[ -z "$current" ]]; then
        current="$(q "show shared_preload_libraries" 2>/dev/null || true)"
    fi
    merged="timescaledb"
    while IFS= read -r item; do
        item="$(sed 's/^[[:space:]"'"'"']*//; s/[[:space:]"'"'"']*$//' <<<"$item")"
        [[ -z "$item" || "$item" == "timescaledb" ]] && continue
        merged="${merged},${item}"
    done < <(tr ',' '\n' <<<"$current")
    log "setting shared_preload_libraries = '${merged}' (previous: '${current}')"

    if conf_includes_confd; then
        log "writing drop-in ${dropin}"
        as_root install -d -m 0755 "${PG_CONFDIR}/conf.d"
        printf "# Managed by deploy/timescaledb/install.sh\nshared_preload_libraries = '%s'\ntimescaledb.telemetry_level = off\n" "$merged" |
            as_root tee "$dropin" >/dev/null
        as_root chown postgres:postgres "$dropin" 2>/dev/null || true
        as_root chmod 0644 "$dropin"
    else
        log "postgresql.conf has no conf.d include; editing it with pg_conftool"
        as_root pg_conftool "$PG_MAJOR" "$PG_CLUSTER" set shared_preload_libraries "$merged"
        as_root pg_conftool "$PG_MAJOR" "$PG_CLUSTER" set timescaledb.telemetry_level off
    fi
}

# -------------------------------------------------------------------- build
build_and_install() {
    WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/timescaledb-build.XXXXXX")"
    chmod 0755 "$WORKDIR"
    log "work dir: ${WORKDIR}"

    local mirror keyring signed_by="" apt_priv=()
    mirror="${TSDB_MIRROR:-$(detect_mirror || true)}"
    if [[ -z "$mirror" ]]; then
        mirror="http://deb.debian.org/debian"
        warn "could not detect a Debian mirror from apt sources; using ${mirror}"
    fi
    log "using mirror ${mirror} (deb-src ${SOURCE_SUITE} main)"
    for keyring in /usr/share/keyrings/debian-archive-keyring.gpg; do
        [[ -f "$keyring" ]] && signed_by="[signed-by=${keyring}] "
    done

    # Private apt configuration: the system's sources, lists and caches stay untouched.
    local aptdir="${WORKDIR}/apt"
    mkdir -p "${aptdir}/sources.list.d" "${aptdir}/lists/partial" "${aptdir}/cache/archives/partial"
    echo "deb-src ${signed_by}${mirror} ${SOURCE_SUITE} main" > "${aptdir}/sources.list"
    apt_priv=(
        -o "Dir::Etc::SourceList=${aptdir}/sources.list"
        -o "Dir::Etc::SourceParts=${aptdir}/sources.list.d"
        -o "Dir::State::Lists=${aptdir}/lists"
        -o "Dir::Cache=${aptdir}/cache"
        -o "APT::Sandbox::User=root"
        -o "Acquire::Languages=none"
        -o "APT::Update::Post-Invoke="
        -o "APT::Update::Post-Invoke-Success="
    )
    if [[ "$mirror" == *snapshot.debian.org* ]]; then
        apt_priv+=(-o "Acquire::Check-Valid-Until=false")
    fi

    log "fetching ${SOURCE_SUITE} source index (private apt config)"
    apt-get -q "${apt_priv[@]}" update >"${WORKDIR}/apt-update.log" 2>&1 ||
        { cat "${WORKDIR}/apt-update.log" >&2; die "private apt-get update failed"; }

    log "downloading source package timescaledb"
    mkdir -p "${WORKDIR}/src"
    (cd "${WORKDIR}/src" && apt-get -q "${apt_priv[@]}" source --download-only timescaledb) >"${WORKDIR}/apt-source.log" 2>&1 ||
        { cat "${WORKDIR}/apt-source.log" >&2; die "apt-get source failed"; }
    local dsc
    dsc="$(ls "${WORKDIR}"/src/timescaledb_*.dsc 2>/dev/null | head -n1)"
    [[ -n "$dsc" ]] || die "no .dsc downloaded"
    log "downloaded $(basename "$dsc")"

    log "installing build dependencies (postgresql-server-dev-${PG_MAJOR}, cmake, build tools)"
    local pkgs=(postgresql-server-dev-"${PG_MAJOR}" cmake gcc make libc6-dev libssl-dev dpkg-dev xz-utils)
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y -q --no-install-recommends "${pkgs[@]}" >"${WORKDIR}/apt-install.log" 2>&1; then
        log "apt-get install failed; running apt-get update and retrying"
        as_root apt-get -q update >"${WORKDIR}/apt-sys-update.log" 2>&1 ||
            { cat "${WORKDIR}/apt-sys-update.log" >&2; die "apt-get update failed"; }
        as_root apt-get install -y -q --no-install-recommends "${pkgs[@]}" >"${WORKDIR}/apt-install.log" 2>&1 ||
            { cat "${WORKDIR}/apt-install.log" >&2; die "apt-get install of build dependencies failed"; }
    fi
    [[ -x "$PG_CONFIG" ]] || die "${PG_CONFIG} not found after installing postgresql-server-dev-${PG_MAJOR}"

    log "unpacking source"
    local srcdir="${WORKDIR}/src/timescaledb"
    (cd "${WORKDIR}/src" && dpkg-source --no-check -x "$dsc" "$srcdir") >"${WORKDIR}/unpack.log" 2>&1 ||
        { cat "${WORKDIR}/unpack.log" >&2; die "dpkg-source -x failed"; }
    [[ -x "${srcdir}/bootstrap" ]] || die "unpacked source has no ./bootstrap"

    log "configuring (APACHE_ONLY=1)"
    (cd "$srcdir" && ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPG_CONFIG="$PG_CONFIG") >"${WORKDIR}/bootstrap.log" 2>&1 ||
        { tail -n 50 "${WORKDIR}/bootstrap.log" >&2; die "bootstrap (cmake) failed"; }

    local jobs
    jobs="$(nproc 2>/dev/null || echo 2)"
    log "building with make -j${jobs}"
    make -C "${srcdir}/build" -j"$jobs" >"${WORKDIR}/make.log" 2>&1 ||
        { tail -n 50 "${WORKDIR}/make.log" >&2; die "make failed"; }
    log "installing into $("$PG_CONFIG" --pkglibdir) and $("$PG_CONFIG" --sharedir)/extension"
    as_root make -C "${srcdir}/build" install >"${WORKDIR}/make-install.log" 2>&1 ||
        { tail -n 50 "${WORKDIR}/make-install.log" >&2; die "make install failed"; }
}

# ------------------------------------------------------------------- verify
verify() {
    SCRATCH_DB="tsdb_install_check_$$"
    log "verifying in scratch database ${SCRATCH_DB}"
    psql -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS \"${SCRATCH_DB}\"" >/dev/null
    psql -q -d postgres -c "CREATE DATABASE \"${SCRATCH_DB}\"" >/dev/null
    local out
    out="$(psql -q -At -d "$SCRATCH_DB" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION timescaledb;
CREATE TABLE metrics (time timestamptz NOT NULL, device int NOT NULL, value double precision);
SELECT create_hypertable('metrics', 'time', chunk_time_interval => interval '1 day') IS NOT NULL;
INSERT INTO metrics
  SELECT t, (extract(epoch FROM t)::bigint % 3)::int, random()
  FROM generate_series(timestamptz '2024-01-01', timestamptz '2024-01-03', interval '1 minute') t;
SELECT count(*) FROM (SELECT time_bucket('1 hour', time) AS b, avg(value) FROM metrics GROUP BY b) s;
SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'metrics';
SELECT extversion FROM pg_extension WHERE extname = 'timescaledb';
SELECT current_setting('timescaledb.license');
SQL
)"
    psql -q -d postgres -c "DROP DATABASE \"${SCRATCH_DB}\"" >/dev/null
    SCRATCH_DB=""
    local hyper buckets chunks version license
    { read -r hyper; read -r buckets; read -r chunks; read -r version; read -r license; } <<<"$out"
    [[ "$hyper" == "t" ]] || die "create_hypertable did not succeed (got: ${hyper})"
    [[ "$buckets" == "49" ]] || die "time_bucket returned ${buckets} buckets, expected 49"
    [[ "$chunks" -ge 2 ]] || die "expected >=2 chunks, got ${chunks}"
    log "hypertable OK (${chunks} chunks), time_bucket OK (${buckets} hourly buckets), license=${license}"
    log "TimescaleDB extension version: ${version}"
}

# --------------------------------------------------------------------- main
command -v psql >/dev/null 2>&1 || die "psql not found (is PostgreSQL ${PG_MAJOR} installed?)"
[[ -d "$PG_CONFDIR" ]] || die "cluster config dir ${PG_CONFDIR} not found"
ensure_running

if [[ "$FORCE_BUILD" != "1" ]] && ext_available && lib_installed && preloaded; then
    log "already installed and preloaded (version $(q "select default_version from pg_available_extensions where name='timescaledb'")); nothing to do"
    exit 0
fi

if [[ "$FORCE_BUILD" != "1" ]] && ext_available && lib_installed; then
    log "extension files present; only the preload configuration is missing"
else
    build_and_install
    ext_available || die "timescaledb still not listed in pg_available_extensions after install"
fi

if ! preloaded; then
    configure_preload
    restart_cluster
    preloaded || die "shared_preload_libraries still lacks timescaledb after restart: '$(q 'show shared_preload_libraries')'"
fi

verify
log "done in $(( $(date +%s) - START_TS ))s"
