#!/usr/bin/env bash
# kolokasi lab directory: a real OpenLDAP slapd (Debian's slapd and ldap-utils) standing in for
# an office's Active Directory or OpenLDAP, for the LDAP sign-in tests (tests/ldap.rs).
#
#   ldap.sh up     install slapd/ldap-utils if absent, make a CA and a server certificate,
#                  load the directory and start slapd (idempotent: a healthy slapd is kept)
#   ldap.sh install  only install the packages (CI does it before the lab: see deploy/test.sh)
#   ldap.sh down   stop slapd and remove its folder
#   ldap.sh url    print the LDAPS URL (ldaps://127.0.0.1:16636)
#
# slapd runs from its own slapd.conf under $DIR, never the system's /etc/ldap:
#   ldap://127.0.0.1:16389    StartTLS (slapd refuses a simple bind before StartTLS: `security simple_bind=1`)
#   ldaps://127.0.0.1:16636   LDAPS
#   ldapi://$DIR/ldapi        local socket for the tests' ldapmodify (as the rootdn)
# Base dc=kaltimprov,dc=go,dc=id:
#   ou=people   one user per kolokasi role, the OPD in `ou`, `joko` disabled, `lina` in no
#               mapped group, `rotasi` whose group the tests change
#   ou=groups   groupOfNames kolokasi-<role> (and `staf-umum`, mapped to nothing)
#   ou=services cn=kolokasi-svc, the service account kolokasi searches with (read-only)
#   ou=policies cn=default, the ppolicy default (lockout on)
# Disabled = `pwdAccountLockedTime: 000001010000Z` with the ppolicy overlay: slapd itself then
# refuses the user's bind, as AD refuses a disabled account's — the real mechanism, not a flag
# only kolokasi would know about. kolokasi also reads the attribute and says why.
# ldap.json in $DIR describes it all for the Rust tests.
set -euo pipefail

LAB="${KOLOKASI_LAB_DIR:-/tmp/kolokasi-lab}"
DIR="$LAB/ldap"
BASE="dc=kaltimprov,dc=go,dc=id"
ROOT_DN="cn=admin,$BASE"
ROOT_PW="ldap-lab-root-2026"
SVC_DN="cn=kolokasi-svc,ou=services,$BASE"
SVC_PW="ldap-lab-svc-CANARY-2026"
USER_PW="sandi-direktori-2026"
STARTTLS_PORT=16389
LDAPS_PORT=16636
SOCKET="$DIR/ldapi"
SOCKET_URL="ldapi://${SOCKET//\//%2F}"

log() { printf '[ldap] %s\n' "$*" >&2; }
die() { printf '[ldap] ERROR: %s\n' "$*" >&2; exit 1; }
need_root() { [[ $EUID -eq 0 ]] || die "run as root"; }

ensure_installed() {
  command -v slapd >/dev/null && command -v ldapmodify >/dev/null && [[ -f /usr/lib/ldap/ppolicy.so ]] && return 0
  log "installing slapd ldap-utils"
  export DEBIAN_FRONTEND=noninteractive
  apt-cache show slapd >/dev/null 2>&1 || apt-get -o DPkg::Lock::Timeout=600 update -q
  # The package's own database and service are not used (no init system starts it here).
  apt-get -o DPkg::Lock::Timeout=600 install -y -q slapd ldap-utils >&2
}

# slapd processes started from this folder (the pid file may be gone after `lab.sh down`).
our_pids() {
  local d pid stat
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [[ $(cat "$d/comm" 2>/dev/null) == slapd ]] || continue
    tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -qF "$DIR/slapd.conf" || continue
    stat=$(cat "$d/stat" 2>/dev/null) || continue
    stat=${stat##*) }
    [[ ${stat%% *} == Z ]] || echo "$pid"
  done
  return 0
}

healthy() {
  [[ -f $DIR/ldap.json && -f $DIR/ca.crt ]] || return 1
  [[ -n $(our_pids) ]] || return 1
  LDAPTLS_CACERT="$DIR/ca.crt" ldapwhoami -x -ZZ -H "ldap://127.0.0.1:$STARTTLS_PORT" -D "$SVC_DN" -w "$SVC_PW" >/dev/null 2>&1 &&
    LDAPTLS_CACERT="$DIR/ca.crt" ldapwhoami -x -H "ldaps://127.0.0.1:$LDAPS_PORT" -D "$SVC_DN" -w "$SVC_PW" >/dev/null 2>&1
}

stop_slapd() {
  local pids i
  pids=$(our_pids)
  [[ -z $pids ]] && return 0
  # shellcheck disable=SC2086
  kill $pids 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    [[ -z $(our_pids) ]] && return 0
    sleep 0.1
  done
  pids=$(our_pids)
  # shellcheck disable=SC2086
  [[ -n $pids ]] && kill -9 $pids 2>/dev/null
  return 0
}

port_free() { ! ss -ltnH "( sport = :$1 )" | grep -q .; }

# The lab's own CA and a server certificate for 127.0.0.1 and localhost (EC P-256, v3,
# serverAuth: what rustls/webpki accepts).
make_certificates() {
  [[ -f $DIR/ca.crt && -f $DIR/server.crt && -f $DIR/server.key ]] && return 0
  log "making the lab CA and the slapd certificate"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/O=kolokasi lab/CN=kolokasi lab LDAP CA" -keyout "$DIR/ca.key" -out "$DIR/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=kolokasi lab/CN=127.0.0.1" \
    -keyout "$DIR/server.key" -out "$DIR/server.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$DIR/server.ext"
  openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" -CAcreateserial \
    -days 3650 -extfile "$DIR/server.ext" -out "$DIR/server.crt" 2>/dev/null
  chmod 600 "$DIR/ca.key" "$DIR/server.key"
}

write_config() {
  cat >"$DIR/slapd.conf" <<EOF
# written by kolokasi deploy/lab/ldap.sh
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile $DIR/slapd.pid
argsfile $DIR/slapd.args
loglevel stats
TLSCACertificateFile $DIR/ca.crt
TLSCertificateFile $DIR/server.crt
TLSCertificateKeyFile $DIR/server.key
# Simple binds only over TLS (or the local socket): a password never crosses the wire in clear.
security simple_bind=1

database mdb
maxsize 67108864
suffix "$BASE"
rootdn "$ROOT_DN"
rootpw $(slappasswd -h '{SSHA}' -s "$ROOT_PW")
directory $DIR/data
index objectClass eq
index uid,member eq

overlay ppolicy
ppolicy_default "cn=default,ou=policies,$BASE"
ppolicy_use_lockout

access to attrs=userPassword
  by self =w
  by anonymous auth
  by * none
access to *
  by dn.exact="$SVC_DN" read
  by self read
  by * none
EOF
}

user_entry() { # uid cn ou(OPD) [locked]
  cat <<EOF
dn: uid=$1,ou=people,$BASE
objectClass: inetOrgPerson
uid: $1
cn: $2
sn: ${2##* }
ou: $3
mail: $1@kaltimprov.go.id
userPassword: $(slappasswd -h '{SSHA}' -s "$USER_PW")
EOF
  [[ ${4:-} == locked ]] && echo "pwdAccountLockedTime: 000001010000Z"
  echo
}

group_entry() { # cn member-uids...
  local cn=$1 u
  shift
  printf 'dn: cn=%s,ou=groups,%s\nobjectClass: groupOfNames\ncn: %s\n' "$cn" "$BASE" "$cn"
  for u in "$@"; do printf 'member: uid=%s,ou=people,%s\n' "$u" "$BASE"; done
  echo
}

write_data() {
  local diskominfo="Dinas Komunikasi dan Informatika Provinsi Kalimantan Timur"
  local disdik="Dinas Pendidikan dan Kebudayaan Provinsi Kalimantan Timur"
  {
    printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: kaltimprov\no: Pemerintah Provinsi Kalimantan Timur\n\n' "$BASE"
    for ou in people groups services policies; do printf 'dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n' "$ou" "$BASE" "$ou"; done
    printf 'dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: kolokasi-svc\nuserPassword: %s\n\n' \
      "$SVC_DN" "$(slappasswd -h '{SSHA}' -s "$SVC_PW")"
    printf 'dn: cn=default,ou=policies,%s\nobjectClass: organizationalRole\nobjectClass: pwdPolicy\ncn: default\npwdAttribute: userPassword\npwdLockout: TRUE\npwdMaxFailure: 0\n\n' "$BASE"
    user_entry siti "Siti Rahmawati" "$diskominfo"
    user_entry agus "Agus Salim" "$diskominfo"
    user_entry andi "Andi Pratama" "$diskominfo"
    user_entry rina "Rina Wulandari" "$diskominfo"
    user_entry hendra "Hendra Gunawan" "$diskominfo"
    user_entry dewi "Dewi Lestari" "$diskominfo"
    user_entry budi "Budi Santoso" "$disdik"
    user_entry joko "Joko Susilo" "$diskominfo" locked
    user_entry lina "Lina Marlina" "$diskominfo"
    user_entry rotasi "Rotasi Jabatan" "$diskominfo"
    group_entry kolokasi-admin siti
    group_entry kolokasi-supervisor agus
    group_entry kolokasi-operator andi joko rotasi
    group_entry kolokasi-inspector rina
    group_entry kolokasi-head hendra
    group_entry kolokasi-auditor dewi
    group_entry kolokasi-requester budi
    group_entry staf-umum lina siti
  } >"$DIR/data.ldif"
}

write_json() {
  cat >"$DIR/ldap.json" <<EOF
{
  "starttls_url": "ldap://127.0.0.1:$STARTTLS_PORT",
  "ldaps_url": "ldaps://127.0.0.1:$LDAPS_PORT",
  "socket_url": "$SOCKET_URL",
  "ca_file": "$DIR/ca.crt",
  "base_dn": "$BASE",
  "root_dn": "$ROOT_DN",
  "root_password": "$ROOT_PW",
  "bind_dn": "$SVC_DN",
  "bind_password": "$SVC_PW",
  "user_password": "$USER_PW"
}
EOF
}

start_slapd() {
  local i
  for p in $STARTTLS_PORT $LDAPS_PORT; do port_free "$p" || die "port $p is taken by another program: $(ss -ltnpH "( sport = :$p )")"; done
  # In the foreground of its own session (-d 0), so its messages go to slapd.log (no syslog here).
  setsid slapd -f "$DIR/slapd.conf" -h "ldap://127.0.0.1:$STARTTLS_PORT/ ldaps://127.0.0.1:$LDAPS_PORT/ $SOCKET_URL" \
    -d 0 >"$DIR/slapd.log" 2>&1 </dev/null &
  for ((i = 0; i < 100; i++)); do
    healthy && return 0
    sleep 0.1
  done
  tail -20 "$DIR/slapd.log" >&2
  die "slapd did not come up (log: $DIR/slapd.log)"
}

cmd_up() {
  need_root
  ensure_installed
  if healthy; then
    log "slapd already up: ldaps://127.0.0.1:$LDAPS_PORT, StartTLS ldap://127.0.0.1:$STARTTLS_PORT"
    return 0
  fi
  stop_slapd
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  make_certificates
  write_config
  write_data
  # A fresh directory every start: tests change groups, and a half-written one helps nobody.
  rm -rf "$DIR/data" "$SOCKET"
  mkdir -p "$DIR/data"
  slaptest -u -f "$DIR/slapd.conf" >/dev/null 2>&1 || { slaptest -u -f "$DIR/slapd.conf" >&2; die "slapd.conf is not valid"; }
  slapadd -q -f "$DIR/slapd.conf" -l "$DIR/data.ldif" 2>"$DIR/slapadd.log" || { cat "$DIR/slapadd.log" >&2; die "slapadd failed"; }
  write_json
  start_slapd
  log "slapd up: ldaps://127.0.0.1:$LDAPS_PORT, StartTLS ldap://127.0.0.1:$STARTTLS_PORT, base $BASE ($DIR/ldap.json)"
}

cmd_down() {
  need_root
  stop_slapd
  [[ -f $DIR/slapd.conf || ! -e $DIR ]] || die "not removing $DIR: no slapd.conf of ours in it"
  rm -rf "$DIR"
  log "stopped"
}

case "${1:-}" in
  up) cmd_up ;;
  install) need_root; ensure_installed ;;
  down) cmd_down ;;
  url) echo "ldaps://127.0.0.1:$LDAPS_PORT" ;;
  *) echo "usage: $0 up|install|down|url" >&2; exit 2 ;;
esac
