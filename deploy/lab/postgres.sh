#!/usr/bin/env bash
# kolokasi test database: the machine's own PostgreSQL cluster (no init system here,
# so nothing else starts it).
#
#   postgres.sh up     install PostgreSQL if absent, start the cluster, create the
#                      role `kolokasi` (LOGIN CREATEDB) and the database `kolokasi_test`
#   postgres.sh down   stop the cluster (role and database are kept)
#   postgres.sh url    print the connection URL for the tests
#
# Tests create their own throw-away databases through the CREATEDB privilege.
# Logins go over TCP to 127.0.0.1 with a password (scram-sha-256/md5 in pg_hba.conf);
# the local socket only allows peer logins for the OS user postgres.
set -euo pipefail

PG_VERSION="${KOLOKASI_PG_VERSION:-15}"
PG_CLUSTER=main
PG_PORT=5432
DB_USER=kolokasi
DB_PASSWORD=kolokasi-lab
DB_NAME=kolokasi_test
URL="postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"
HBA="/etc/postgresql/$PG_VERSION/$PG_CLUSTER/pg_hba.conf"

log() { printf '[postgres] %s\n' "$*" >&2; }
die() { printf '[postgres] ERROR: %s\n' "$*" >&2; exit 1; }

need_root() { [[ $EUID -eq 0 ]] || die "run as root"; }

# psql as the superuser over the local socket (peer authentication).
psql_admin() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"; }

cluster_online() { pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c && $4 ~ /online/ { f = 1 } END { exit !f }'; }

ensure_installed() {
  [[ -x /usr/lib/postgresql/$PG_VERSION/bin/postgres ]] && command -v pg_ctlcluster >/dev/null && return 0
  log "installing postgresql-$PG_VERSION"
  export DEBIAN_FRONTEND=noninteractive
  apt-cache show "postgresql-$PG_VERSION" >/dev/null 2>&1 ||
    apt-get -o DPkg::Lock::Timeout=600 update -q
  apt-get install -y -q -o DPkg::Lock::Timeout=600 "postgresql-$PG_VERSION" postgresql-client >&2
}

# The Debian package normally creates the cluster; make it if it does not exist.
ensure_cluster() {
  [[ -f /etc/postgresql/$PG_VERSION/$PG_CLUSTER/postgresql.conf ]] && return 0
  log "creating cluster $PG_VERSION/$PG_CLUSTER"
  pg_createcluster "$PG_VERSION" "$PG_CLUSTER" --port "$PG_PORT" >&2
}

# Password logins over 127.0.0.1 must be allowed (the Debian default does this).
ensure_hba() {
  awk '$1 == "host" && ($2 == "all") && ($3 == "all") && $4 == "127.0.0.1/32" &&
       ($5 == "scram-sha-256" || $5 == "md5") { f = 1 } END { exit !f }' "$HBA" && return 0
  log "adding a scram-sha-256 line for 127.0.0.1/32 to $HBA"
  sed -i '0,/^[[:space:]]*\(local\|host\)/s//host all all 127.0.0.1\/32 scram-sha-256\n&/' "$HBA"
  cluster_online && pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" reload
  return 0
}

# A throw-away test cluster: durability is not wanted, speed and a quick restart after the
# machine was stopped uncleanly are. With fsync off, crash recovery also skips its sync of
# the whole data directory (which took over a minute on a cluster with many test databases
# and made `pg_ctl start` time out).
ensure_test_settings() {
  local conf="/etc/postgresql/$PG_VERSION/$PG_CLUSTER/conf.d/kolokasi-test.conf"
  local want
  want=$'# written by kolokasi deploy/lab/postgres.sh: a test cluster, not for production data\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n'
  [[ -f $conf && "$(cat "$conf")"$'\n' == "$want" ]] && return 0
  log "writing test settings to $conf"
  mkdir -p "$(dirname "$conf")"
  printf '%s' "$want" >"$conf"
  if cluster_online; then pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart -- -t 600; fi
  return 0
}

start_cluster() {
  cluster_online && return 0
  # Recovery after an unclean stop can take a while: give pg_ctl ten minutes, not its 60 s.
  # A cluster that cannot start at all (with fsync off, a machine stopped hard can leave it
  # damaged) holds only throw-away test data: it is made anew.
  if ! pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start -- -t 600; then
    log "cluster $PG_VERSION/$PG_CLUSTER does not start; recreating it (it holds test data only)"
    pg_dropcluster --stop "$PG_VERSION" "$PG_CLUSTER" >&2 || true
    ensure_cluster
    ensure_hba
    ensure_test_settings
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start -- -t 600
  fi
  local i
  for ((i = 0; i < 100; i++)); do
    runuser -u postgres -- pg_isready -q -p "$PG_PORT" && return 0
    sleep 0.1
  done
  die "PostgreSQL $PG_VERSION/$PG_CLUSTER did not become ready"
}

# Role and database, idempotently (password and privileges are reset every time).
ensure_role_and_db() {
  psql_admin <<EOF
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
  ELSE
    ALTER ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') \gexec
ALTER DATABASE $DB_NAME OWNER TO $DB_USER;
EOF
}

# Tests make throw-away databases named kolokasi_t_*; a test binary that was killed leaves
# its own behind. Nothing is using them when the lab is brought up, so they all go.
drop_leftover_dbs() {
  local names n=0 db
  names=$(psql_admin -A -t -c "SELECT datname FROM pg_database WHERE datname LIKE 'kolokasi\\_t\\_%'")
  for db in $names; do
    [[ $db =~ ^kolokasi_t_[0-9_]+$ ]] || continue
    psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" && n=$((n + 1))
  done
  ((n == 0)) || log "dropped $n leftover test databases"
}

check_login() {
  psql "$URL" -X -q -A -t -c 'select 1' >/dev/null ||
    die "cannot log in as $DB_USER over 127.0.0.1 (see $HBA)"
}

cmd_up() {
  need_root
  ensure_installed
  ensure_cluster
  ensure_hba
  ensure_test_settings
  start_cluster
  ensure_role_and_db
  drop_leftover_dbs
  check_login
  log "PostgreSQL $PG_VERSION up: $URL"
}

cmd_down() {
  need_root
  cluster_online || { log "already stopped"; return 0; }
  pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop
  log "stopped"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 up|down|url" >&2; exit 2 ;;
esac
