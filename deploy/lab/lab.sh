#!/usr/bin/env bash
# kolokasi local test lab: real DNS servers, a real switch, a real firewall and
# real SSH hosts on one Debian 12 machine (root, no systemd, no kernel modules).
#
#   lab.sh up       build the lab (idempotent; returns fast when already healthy)
#   lab.sh down     stop every lab process, delete namespaces/links, remove the lab folder
#   lab.sh status   show what runs; exit status 1 if anything is missing
#   lab.sh restart  down + up (fresh keys, fresh zones)
#
# What runs (see README.md next to this file):
#   BIND9        127.0.0.1:15353 tcp+udp, TSIG key "kolokasi-lab" may update the zones
#   PowerDNS     127.0.0.1:15354 (DNS), http://127.0.0.1:18081 (API, key in pdns/api.key)
#   SMTP sink    127.0.0.1:2525 (aiosmtpd: STARTTLS, AUTH PLAIN/LOGIN), every message becomes a .eml file in mail/new/
#   bridge klkbr0 198.51.100.1/25 in the root namespace, one veth per namespace:
#     klk-sw   198.51.100.2   Open vSwitch (userspace, OVSDB on tcp 6640), bridge br0, ports r1p1..r1p8
#                             and internal ports bp1..bp100 for load tests
#     klk-fw   198.51.100.3   nftables, ip_forward=1, 198.51.100.254/32 on lo; the root
#                             namespace routes the IPAM range 198.51.100.128/25 via klk-fw
#     klk-srv1 198.51.100.11  "srv-sipd", Ubuntu 22.04, nginx+postgresql+php, listens 80/443
#     klk-srv2 198.51.100.12  "srv-lama", Ubuntu 20.04, nginx only, listens 80
#     klk-fw2  198.51.100.4   the operator's firewall: existing table inet filter (forward policy
#                             drop); routes 198.51.100.96/28 to klk-cust (198.51.100.104/29, tcp 80 8080)
#     klk-srv3 198.51.100.13  "srv-rocky", Rocky Linux 9.4: a real rpm database (tiny packages
#                             built with rpmbuild, installed --justdb), /etc/redhat-release,
#                             listens 80; host admin by password or ed25519/RSA key, and an
#                             unprivileged login `klk-user` (no sudo); `klk-flood` (same
#                             password) whose login shell streams `yes` endlessly
#   every namespace runs its own OpenSSH sshd on port 22 (root, lab key ssh/id_ed25519).
#   "stock sshd" profile: klk-sw and klk-fw also run a second sshd on port 2222 with Debian's
#   sshd_config as shipped (only ListenAddress, HostKey and PidFile added), for measuring
#   kolokasi against a device nobody tuned.
#
# The lab folder is ${KOLOKASI_LAB_DIR:-/tmp/kolokasi-lab}; lab.json in it describes
# the lab for the Rust tests.
set -euo pipefail

# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------
LAB="${KOLOKASI_LAB_DIR:-/tmp/kolokasi-lab}"
LAB="${LAB%/}"
MARKER="$LAB/.kolokasi-lab"          # proves a folder is ours before `rm -rf`

# Every lab IPv4 address lies in 198.51.100.0/24: management segment .0/25 on the
# bridge, IPAM (customer) range .128/25 behind klk-fw. Never 192.0.2.0/24 (the VM's
# uplink) and never 203.0.113.0/24: the package registries resolve there
# (deb.debian.org, pypi.org, index.crates.io -> 203.0.113.80, a proxy).
LAB_NET=198.51.100.0/24
BRIDGE=klkbr0
BRIDGE_ADDR=198.51.100.1
MGMT_PREFIX=25                         # mask of the management segment
IPAM_V4=198.51.100.128/25
IPAM_V6=2001:db8:100::/64
FW_LO_ADDR=198.51.100.254              # klk-fw's own address inside the IPAM range
ROUTE_PROTO=77                         # marks the lab's routes in the root namespace
# `up` refuses to run if one of these resolves into $LAB_NET (the lab would cut it off).
REGISTRY_NAMES=(deb.debian.org pypi.org index.crates.io static.crates.io registry.npmjs.org)

BIND_PORT=15353
PDNS_PORT=15354
PDNS_API_PORT=18081
OVSDB_PORT=6640
TSIG_NAME=kolokasi-lab
ZONE_FWD=kaltimprov.go.id.
ZONE_V4=100.51.198.in-addr.arpa.
ZONE_V6=0.0.1.0.8.b.d.0.1.0.0.2.ip6.arpa.
ZONES=("$ZONE_FWD" "$ZONE_V4" "$ZONE_V6")
NS_NAME="ns1.$ZONE_FWD"
EXISTING_NAME="existing.$ZONE_FWD"
EXISTING_ADDR=198.51.100.250            # foreign records kolokasi must never delete
EXISTING_PTR=250.$ZONE_V4
SMTP_PORT=2525
RACK_PORTS=(r1p1 r1p2 r1p3 r1p4 r1p5 r1p6 r1p7 r1p8)

HOSTS=(sw fw srv1 srv2 srv3)
declare -A HOST_ADDR=([sw]=198.51.100.2 [fw]=198.51.100.3 [srv1]=198.51.100.11 [srv2]=198.51.100.12
  [srv3]=198.51.100.13 [fw2]=198.51.100.4 [cust]=198.51.100.98)
declare -A HOST_NAME=([sw]=klk-sw [fw]=klk-fw [srv1]=srv-sipd [srv2]=srv-lama [srv3]=srv-rocky [fw2]=klk-fw2 [cust]=cust-web)
declare -A HOST_PORTS=([srv1]="80 443" [srv2]="80" [srv3]="80" [cust]="80 8080")   # TCP listeners besides sshd
# Hosts added after the first lab: `up` adds one to a lab that is otherwise healthy instead of
# rebuilding the whole lab (other engineers' tests run on it).
ADDED_HOSTS=(srv3)

# The operator-managed firewall profile (added to a running lab without touching the rest; see
# "Operator firewall" in README.md): klk-fw2 keeps an EXISTING ruleset (table inet filter,
# forward policy drop) and routes a customer segment to klk-cust, whose web server listens on
# every address of CUST_ANY.
FW2_HOSTS=(fw2 cust)
CUST_NET=198.51.100.96/28              # customer segment behind klk-fw2 (inside the /25 mgmt range,
CUST_GW=198.51.100.97                  #   routed more specifically via klk-fw2; .1-.12 are hosts)
CUST_ANY=198.51.100.104/29             # klk-cust answers on all of these (AnyIP local route)

# The "stock sshd" profile (see "Stock sshd profile" in README.md): a second OpenSSH sshd in
# the network namespaces of these hosts, on STOCK_PORT, configured as Debian ships it.
STOCK_HOSTS=(sw fw)
STOCK_PORT=2222
STOCK_CONFIG=/usr/share/openssh/sshd_config   # Debian's pristine copy of /etc/ssh/sshd_config

PYTHON=/usr/bin/python3                # not the pyenv shim in root's PATH
PACKAGES=(bind9 bind9-dnsutils pdns-server pdns-backend-sqlite3 openssh-server openssh-client
  nftables openvswitch-switch sqlite3 poppler-utils curl python3 python3-aiosmtpd openssl iproute2
  util-linux procps ethtool rpm sudo)

# Daemons: "pidfile|comm glob" (the comm glob guards against stale pid files).
lab_daemons() {
  local h
  echo "$LAB/bind/named.pid|named"
  echo "$LAB/pdns/pdns.pid|pdns*"
  echo "$LAB/ovs/ovs-vswitchd.pid|ovs-vswitchd"
  echo "$LAB/ovs/ovsdb-server.pid|ovsdb-server"
  echo "$LAB/smtp/smtp.pid|python3*"
  for h in "${HOSTS[@]}"; do
    echo "$LAB/hosts/$h/sshd.pid|sshd"
    [[ -n "${HOST_PORTS[$h]:-}" ]] && echo "$LAB/hosts/$h/listener.pid|python3*"
  done
  return 0
}
DAEMON_COMMS=(named 'pdns*' ovs-vswitchd ovsdb-server sshd 'python3*')

# The operator-firewall profile's daemons (checked apart: their absence never rebuilds the core).
fw2_daemons() {
  echo "$LAB/hosts/fw2/sshd.pid|sshd"
  echo "$LAB/hosts/cust/listener.pid|python3*"
}

# The stock-sshd profile's daemons (checked apart, like fw2's).
stock_daemons() {
  local h
  for h in "${STOCK_HOSTS[@]}"; do echo "$LAB/hosts/$h/stock/sshd.pid|sshd"; done
}

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------
log() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }
ns_of() { echo "klk-$1"; }              # host key -> namespace name (<= 15 chars)
hdir() { echo "$LAB/hosts/$1"; }        # host key -> its folder

need_root() { [[ $EUID -eq 0 ]] || die "run as root (namespaces, bridges, daemons)"; }

# Refuse lab folders that would make `rm -rf` dangerous.
check_lab_path() {
  [[ "$LAB" == /* ]] || die "KOLOKASI_LAB_DIR must be absolute: $LAB"
  case "$LAB" in
    / | /tmp | /root | /home | /etc | /usr | /var | /work | "$HOME") die "refusing lab folder $LAB" ;;
  esac
}

# Serialise concurrent up/down calls (tests may call `up` in parallel): re-run this
# script under `flock -o`, so the daemons it starts never inherit the lock's fd
# (an inherited fd keeps the lock held for as long as the daemon lives).
with_lock() { # ARGS...
  if [[ ${KOLOKASI_LAB_LOCKED:-} == "$$" ]]; then
    unset KOLOKASI_LAB_LOCKED
    return 0
  fi
  flock -n "${BASH_SOURCE[0]}" true || log "waiting for another lab.sh up/down to finish"
  exec flock -o -w 300 -E 75 "${BASH_SOURCE[0]}" \
    bash -c 'KOLOKASI_LAB_LOCKED=$$ exec bash "$0" "$@"' "${BASH_SOURCE[0]}" "$@"
}

# pid_gone PID: true when the process no longer exists or is a zombie.
pid_gone() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  [[ ${stat%% *} == Z ]]
}

# pid_is PID GLOB: alive (not zombie) and /proc/PID/comm matches GLOB.
pid_is() {
  local comm
  pid_gone "$1" && return 1
  comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
  # shellcheck disable=SC2053
  [[ $comm == $2 ]]
}

# pidfile_pid FILE: print the pid stored in FILE (empty if none).
pidfile_pid() {
  local pid=""
  [[ -r $1 ]] && read -r pid <"$1" 2>/dev/null || true
  [[ $pid =~ ^[0-9]+$ ]] && echo "$pid"
  return 0
}

# kill_pids PID...: SIGTERM, wait up to 3 s (zombies count as gone), then SIGKILL.
kill_pids() {
  local pid i left
  (($# == 0)) && return 0
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do
    left=()
    for pid in "$@"; do pid_gone "$pid" || left+=("$pid"); done
    ((${#left[@]} == 0)) && return 0
    sleep 0.05
  done
  log "SIGKILL ${left[*]}"
  kill -KILL "${left[@]}" 2>/dev/null || true
}

# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 50 ms until it succeeds.
wait_for() {
  local secs=$1 what=$2 i
  shift 2
  for ((i = 0; i < secs * 20; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  die "timed out after ${secs}s waiting for $what"
}

tcp_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
port_in_use() { [[ -n $(ss -Hltnu "( sport = :$1 )" 2>/dev/null) ]]; }
random_hex() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
ssh_pubkey() { [[ -f $1 ]] && cut -d' ' -f1,2 "$1"; return 0; }  # "ssh-ed25519 AAAA..." without comment (empty before the host exists)

# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------
missing_packages() {
  local installed p
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null |
    awk '/ ok installed$/ { print $1 }' || true)
  for p in "${PACKAGES[@]}"; do
    grep -qx -- "$p" <<<"$installed" || echo "$p"
  done
}

# Install what is missing; `apt-get update` only when apt has no candidate yet.
ensure_packages() {
  local missing
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-cache show "${missing[@]}" >/dev/null 2>&1 ||
    apt-get -o DPkg::Lock::Timeout=600 update -q
  apt-get install -y -q -o DPkg::Lock::Timeout=600 "${missing[@]}" >&2
}

# ---------------------------------------------------------------------------
# Pre-flight checks
# ---------------------------------------------------------------------------
# $LAB_NET (or any address or route inside it) must not be on a root-namespace
# interface other than our bridge: the lab needs the whole range for itself.
check_lab_net() {
  local addrs routes
  addrs=$(ip -4 -o addr show | awk -v br="$BRIDGE" '$2 != br && $4 ~ /^198\.51\.100\./ { print "  " $2 " " $4 }')
  routes=$(ip -4 -o route show table all root "$LAB_NET" | grep -v " dev $BRIDGE\( \|$\)" | sed 's/^/  /' || true)
  [[ -z $addrs && -z $routes ]] || die "$LAB_NET is already used in the root namespace outside $BRIDGE:
${addrs:+$addrs
}${routes:+$routes
}Remove it (or run the lab on another machine); the lab needs $LAB_NET for itself."
}

# No package registry may resolve into $LAB_NET: the lab would route it away from
# the uplink and apt/cargo/pip/npm would break while the lab is up.
check_registries() {
  local n a bad=""
  for n in "${REGISTRY_NAMES[@]}"; do
    for a in $({ timeout 3 getent ahostsv4 "$n" 2>/dev/null || true; } | awk '{ print $1 }' | sort -u); do
      [[ $a == 198.51.100.* ]] && bad+="  $n -> $a"$'\n'
    done
  done
  [[ -z $bad ]] || die "package registries resolve into the lab range $LAB_NET:
${bad}The lab would cut them off; it cannot run on this machine without moving its range."
}

check_ports_free() {
  local p
  for p in "$BIND_PORT" "$PDNS_PORT" "$PDNS_API_PORT" "$SMTP_PORT"; do
    port_in_use "$p" && die "port 127.0.0.1:$p is already in use (ss -ltnup 'sport = :$p')"
  done
  return 0
}

# ---------------------------------------------------------------------------
# Keys and folders
# ---------------------------------------------------------------------------
make_lab_dir() {
  mkdir -p "$LAB"/{bind/zones,pdns/run,ovs,ssh,hosts,smtp,mail/{tmp,new,cur}}
  touch "$MARKER"
  chmod 700 "$LAB/ssh"
}

# Lab client key (once per lab) and the authorized_keys file every sshd reads.
make_client_key() {
  [[ -f $LAB/ssh/id_ed25519 ]] ||
    ssh-keygen -q -t ed25519 -N '' -C kolokasi-lab -f "$LAB/ssh/id_ed25519"
  cp "$LAB/ssh/id_ed25519.pub" "$LAB/ssh/authorized_keys"
}

# A fresh TSIG key per `up`; the base64 secret alone goes to tsig.secret (600).
make_tsig_key() {
  local conf="$LAB/bind/tsig.key"
  tsig-keygen -a hmac-sha256 "$TSIG_NAME" >"$conf"
  chmod 600 "$conf"
  (umask 077 && sed -n 's/.*secret "\(.*\)";.*/\1/p' "$conf" >"$LAB/bind/tsig.secret")
  [[ -s $LAB/bind/tsig.secret ]] || die "could not read the TSIG secret from $conf"
}

# ---------------------------------------------------------------------------
# BIND9
# ---------------------------------------------------------------------------
write_named_conf() {
  local z
  cat >"$LAB/bind/named.conf" <<EOF
// kolokasi lab: authoritative only, on an unprivileged port.
include "$LAB/bind/tsig.key";
options {
  directory "$LAB/bind";
  pid-file "$LAB/bind/named.pid";
  session-keyfile "$LAB/bind/session.key";
  managed-keys-directory "$LAB/bind";
  listen-on port $BIND_PORT { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  allow-transfer { 127.0.0.1; };
};
controls { };
logging {
  channel lab { file "$LAB/bind/named.log" versions 0 size 10m; severity info; print-time yes; };
  category default { lab; };
  category lame-servers { null; };
};
EOF
  for z in "${ZONES[@]}"; do
    cat >>"$LAB/bind/named.conf" <<EOF
zone "$z" { type primary; file "zones/${z%.}.db"; allow-update { key "$TSIG_NAME"; }; };
EOF
  done
}

# Rewrite every zone file and drop the journals (they survive restarts).
write_zone_files() {
  local z f
  rm -f "$LAB"/bind/zones/*.jnl
  for z in "${ZONES[@]}"; do
    f="$LAB/bind/zones/${z%.}.db"
    cat >"$f" <<EOF
\$TTL 300
$z IN SOA $NS_NAME hostmaster.$ZONE_FWD 1 10800 3600 604800 300
$z IN NS $NS_NAME
EOF
    if [[ $z == "$ZONE_FWD" ]]; then
      echo "$NS_NAME IN A 127.0.0.1" >>"$f"
      echo "$EXISTING_NAME IN A $EXISTING_ADDR" >>"$f"
    elif [[ $z == "$ZONE_V4" ]]; then
      echo "$EXISTING_PTR IN PTR $EXISTING_NAME" >>"$f"
    fi
  done
}

start_bind() {
  write_named_conf
  write_zone_files
  named-checkconf "$LAB/bind/named.conf" || die "named.conf is invalid"
  # named daemonises itself (own session) and writes bind/named.pid.
  named -c "$LAB/bind/named.conf" -u root 2>>"$LAB/bind/named.log" ||
    die "named did not start; see $LAB/bind/named.log"
}

bind_ready() { [[ -n $(dig +short +tries=1 +time=1 -p "$BIND_PORT" @127.0.0.1 "$ZONE_FWD" SOA) ]]; }

# ---------------------------------------------------------------------------
# PowerDNS
# ---------------------------------------------------------------------------
write_pdns_conf() {
  (umask 077 && random_hex >"$LAB/pdns/api.key")
  cat >"$LAB/pdns/pdns.conf" <<EOF
launch=gsqlite3
gsqlite3-database=$LAB/pdns/pdns.sqlite3
local-address=127.0.0.1
local-port=$PDNS_PORT
socket-dir=$LAB/pdns/run
guardian=no
daemon=no
disable-syslog=yes
loglevel=4
api=yes
api-key=$(cat "$LAB/pdns/api.key")
webserver=yes
webserver-address=127.0.0.1
webserver-port=$PDNS_API_PORT
webserver-allow-from=127.0.0.1/32
security-poll-suffix=
default-soa-content=ns1.@ hostmaster.@ 0 10800 3600 604800 3600
EOF
  chmod 600 "$LAB/pdns/pdns.conf"
}

start_pdns() {
  write_pdns_conf
  rm -f "$LAB/pdns/pdns.sqlite3"
  sqlite3 "$LAB/pdns/pdns.sqlite3" </usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql
  # Foreground server in its own session; the wrapper records the pid it execs into.
  setsid -f sh -c 'echo $$ >"$1/pdns.pid"; exec pdns_server --config-dir="$1"' \
    sh "$LAB/pdns" </dev/null >>"$LAB/pdns/pdns.log" 2>&1
}

pdns_api() { # METHOD PATH [JSON]; prints the HTTP status code
  curl -s -o "$LAB/pdns/last-response.json" -w '%{http_code}' -X "$1" \
    -H "X-API-Key: $(cat "$LAB/pdns/api.key")" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "http://127.0.0.1:$PDNS_API_PORT/api/v1/servers/localhost$2"
}

pdns_ready() { [[ $(pdns_api GET "") == 200 ]]; }

pdns_zone_json() {
  local rrsets=""
  case $1 in
    "$ZONE_FWD") rrsets=',"rrsets":[
   {"name":"'"$NS_NAME"'","type":"A","ttl":300,"records":[{"content":"127.0.0.1","disabled":false}]},
   {"name":"'"$EXISTING_NAME"'","type":"A","ttl":300,"records":[{"content":"'"$EXISTING_ADDR"'","disabled":false}]}]' ;;
    "$ZONE_V4") rrsets=',"rrsets":[
   {"name":"'"$EXISTING_PTR"'","type":"PTR","ttl":300,"records":[{"content":"'"$EXISTING_NAME"'","disabled":false}]}]' ;;
  esac
  printf '{"name":"%s","kind":"Native","nameservers":["%s"]%s}' "$1" "$NS_NAME" "$rrsets"
}

create_pdns_zones() {
  local z code
  for z in "${ZONES[@]}"; do
    code=$(pdns_api POST /zones "$(pdns_zone_json "$z")")
    [[ $code == 201 ]] || die "PowerDNS zone $z: HTTP $code $(cat "$LAB/pdns/last-response.json")"
  done
}

pdns_zones_ready() {
  [[ $(dig +short +tries=1 +time=1 -p "$PDNS_PORT" @127.0.0.1 "$EXISTING_NAME" A) == "$EXISTING_ADDR" ]] &&
    [[ $(dig +short +tries=1 +time=1 -p "$PDNS_PORT" @127.0.0.1 "$EXISTING_PTR" PTR) == "$EXISTING_NAME" ]]
}
pdns_soa_ready() { [[ -n $(dig +short +tries=1 +time=1 -p "$PDNS_PORT" @127.0.0.1 "$ZONE_FWD" SOA) ]]; }

# ---------------------------------------------------------------------------
# SMTP sink (root namespace): every message becomes a .eml file in $LAB/mail/new
# ---------------------------------------------------------------------------
# aiosmtpd (Debian's python3-aiosmtpd) like a submission server: STARTTLS with a
# certificate from the lab's own CA (smtp/ca.pem; the server certificate names
# 127.0.0.1 and localhost), AUTH PLAIN/LOGIN only after STARTTLS, user "kolokasi"
# with the password in smtp/password; mail is accepted only from an authenticated
# session. Accepts every recipient. Each stored message starts with the envelope
# (Return-Path, Delivered-To) and an X-Lab-Session header naming the TLS version and
# the login, so tests can prove the message came over TLS with AUTH.
SMTP_SINK_VERSION=3                    # bump when the sink changes; `up` restarts only the sink
SMTP_USER=kolokasi

make_smtp_tls() {
  local d=$LAB/smtp
  [[ -s $d/password ]] || (umask 077 && random_hex >"$d/password")
  [[ -s $d/ca.pem && -s $d/server.pem && -s $d/server.key ]] && return 0
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=kolokasi lab CA" -keyout "$d/ca.key" -out "$d/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 3650 -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null
  chmod 600 "$d/ca.key" "$d/server.key"
}

write_smtp_sink() {
  cat >"$LAB/smtp/smtp-sink.py" <<'EOF'
import os, ssl, sys, threading, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

pidfile, maildir, host, port, d, user = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
with open(os.path.join(d, "password"), "rb") as f:
    password = f.read().strip()

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = getattr(auth_data, "login", None) == user.encode() and auth_data.password == password
    return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

class Sink:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        # Maildir delivery: write into tmp/, then rename into new/ (readers never
        # see half a message). The envelope goes into Return-Path / Delivered-To.
        Sink.count += 1
        ns = time.time_ns()
        name = "%d.M%06dP%dQ%d.kolokasi-lab.eml" % (ns // 10**9, ns // 1000 % 10**6, os.getpid(), Sink.count)
        tls = session.ssl["ssl_object"].version() if session.ssl else "none"
        head = "Return-Path: <%s>\n" % envelope.mail_from + "".join("Delivered-To: %s\n" % r for r in envelope.rcpt_tos)
        head += "X-Lab-Session: tls=%s auth=%s\n" % (tls, session.auth_data or "none")
        data = envelope.original_content or envelope.content
        tmp = os.path.join(maildir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(head.encode() + data.replace(b"\r\n", b"\n"))
        os.replace(tmp, os.path.join(maildir, "new", name))
        print("%s from=<%s> to=%s tls=%s bytes=%d" % (name, envelope.mail_from, ",".join(envelope.rcpt_tos), tls, len(data)), flush=True)
        return "250 2.0.0 Ok: queued as %s" % name

tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
controller = Controller(Sink(), hostname=host, port=port, server_hostname="smtp.kolokasi-lab",
                        tls_context=tls, require_starttls=False, authenticator=authenticator,
                        auth_required=True, auth_require_tls=True, decode_data=False, enable_SMTPUTF8=True)
controller.start()
with open(pidfile + ".tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.replace(pidfile + ".tmp", pidfile)
threading.Event().wait()
EOF
  echo "$SMTP_SINK_VERSION" >"$LAB/smtp/version"
}

start_smtp() {
  make_smtp_tls
  write_smtp_sink
  setsid -f "$PYTHON" -I "$LAB/smtp/smtp-sink.py" "$LAB/smtp/smtp.pid" "$LAB/mail" 127.0.0.1 "$SMTP_PORT" \
    "$LAB/smtp" "$SMTP_USER" </dev/null >>"$LAB/smtp/smtp.log" 2>&1
}

# The sink greets with "220 ..." (reading the banner, then hanging up, is harmless).
smtp_ready() {
  local banner
  banner=$(timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SMTP_PORT && head -c 3 <&3" 2>/dev/null) &&
    [[ $banner == 220 ]]
}

# STARTTLS works and the certificate checks out against the lab CA.
smtp_tls_ready() {
  timeout 3 openssl s_client -brief -starttls smtp -connect "127.0.0.1:$SMTP_PORT" \
    -CAfile "$LAB/smtp/ca.pem" -verify_return_error -verify_ip 127.0.0.1 </dev/null >/dev/null 2>&1
}

smtp_current() {
  [[ $(cat "$LAB/smtp/version" 2>/dev/null) == "$SMTP_SINK_VERSION" ]] &&
    daemon_alive "$LAB/smtp/smtp.pid" 'python3*' && smtp_tls_ready
}

# An older sink in an otherwise running lab: replace the sink alone (the other
# services, and tests using them, are untouched).
refresh_smtp() {
  [[ -f $MARKER && -d $LAB/smtp ]] || return 0
  smtp_current && return 0
  local pid
  pid=$(pidfile_pid "$LAB/smtp/smtp.pid")
  [[ -n $pid ]] && pid_is "$pid" 'python3*' && kill_pids "$pid"
  port_in_use "$SMTP_PORT" && return 0     # not ours: check_ports_free reports it
  log "starting the SMTP sink (STARTTLS + AUTH, version $SMTP_SINK_VERSION)"
  mkdir -p "$LAB"/mail/{tmp,new,cur}
  start_smtp
  wait_for 10 "SMTP sink on 127.0.0.1:$SMTP_PORT" smtp_tls_ready
}

# ---------------------------------------------------------------------------
# Network: bridge, namespaces, veths
# ---------------------------------------------------------------------------
make_bridge() {
  ip link add "$BRIDGE" type bridge
  ip addr add "$BRIDGE_ADDR/$MGMT_PREFIX" dev "$BRIDGE"
  ip link set "$BRIDGE" up
}

# One namespace per host, joined to the bridge by veth klkv-KEY <-> eth0.
make_host_netns() {
  local h=$1 ns
  ns=$(ns_of "$h")
  ip netns add "$ns"
  ip link add "klkv-$h" type veth peer name eth0 netns "$ns"
  ip link set "klkv-$h" master "$BRIDGE" up
  ip -n "$ns" addr add "${HOST_ADDR[$h]}/$MGMT_PREFIX" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
}

# Rack access ports: r1p1 <-> klk-srv1 eth1, r1p2 <-> klk-srv2 eth1, r1pN <-> r1pNx (unused).
make_rack_links() {
  local p
  ip -n klk-sw link add r1p1 type veth peer name eth1 netns klk-srv1
  ip -n klk-sw link add r1p2 type veth peer name eth1 netns klk-srv2
  for p in "${RACK_PORTS[@]:2}"; do
    ip -n klk-sw link add "$p" type veth peer name "${p}x"
  done
  for p in "${RACK_PORTS[@]}"; do ip -n klk-sw link set "$p" up; done
  ip -n klk-srv1 link set eth1 up
  ip -n klk-srv2 link set eth1 up
}

# Trap: veth passes TCP/UDP packets with the checksum still to be filled in
# (tx offload); OVS's userspace datapath reads them with AF_PACKET and forwards
# them as they are, so the receiver drops them (TcpInCsumErrors). Hosts sending
# into the switch must compute checksums themselves.
disable_tx_offload() {
  local p
  ip netns exec klk-srv1 ethtool -K eth1 tx off >/dev/null
  ip netns exec klk-srv2 ethtool -K eth1 tx off >/dev/null
  for p in "${RACK_PORTS[@]:2}"; do ip netns exec klk-sw ethtool -K "${p}x" tx off >/dev/null; done
}

# The firewall forwards, owns $FW_LO_ADDR and is the root namespace's way to the IPAM range.
setup_fw_net() {
  ip netns exec klk-fw sysctl -qw net.ipv4.ip_forward=1
  ip -n klk-fw addr add "$FW_LO_ADDR/32" dev lo
  ip route replace "$IPAM_V4" via "${HOST_ADDR[fw]}" dev "$BRIDGE" proto "$ROUTE_PROTO"
}

make_network() {
  local h
  make_bridge
  for h in "${HOSTS[@]}"; do make_host_netns "$h"; done
  make_rack_links
  disable_tx_offload
  setup_fw_net
}

delete_network() {
  local h
  for h in "${HOSTS[@]}" "${FW2_HOSTS[@]}"; do
    ip link del "klkv-$h" 2>/dev/null || true
    ip netns del "$(ns_of "$h")" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  ip -4 route flush table main proto "$ROUTE_PROTO" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# Open vSwitch (userspace datapath) inside klk-sw
# ---------------------------------------------------------------------------
ovs_env() { export OVS_RUNDIR="$LAB/ovs" OVS_DBDIR="$LAB/ovs" OVS_LOGDIR="$LAB/ovs"; }
ovs_vsctl() { ovs-vsctl --db="unix:$LAB/ovs/db.sock" --timeout=10 "$@"; }

start_ovsdb() {
  ovsdb-tool create "$LAB/ovs/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ip netns exec klk-sw ovsdb-server "$LAB/ovs/conf.db" \
    --remote="punix:$LAB/ovs/db.sock" --remote="ptcp:$OVSDB_PORT:${HOST_ADDR[sw]}" \
    -vconsole:off --pidfile="$LAB/ovs/ovsdb-server.pid" --detach --log-file
  ovs_vsctl --no-wait init
}

# Bridge br0 (netdev datapath) with the 8 rack ports as access ports in VLAN 1, plus
# BENCH_PORTS internal ports bp1..bpN (a second rack's worth, wired to nothing) so that load
# tests can give each of 100 requests its own switch port. Internal ports cost ~nothing here.
BENCH_PORTS=100
make_ovs_bridge() {
  local p i args=(add-br br0 -- set bridge br0 datapath_type=netdev)
  for p in "${RACK_PORTS[@]}"; do args+=(-- add-port br0 "$p" tag=1); done
  for ((i = 1; i <= BENCH_PORTS; i++)); do args+=(-- add-port br0 "bp$i" tag=1 -- set interface "bp$i" type=internal); done
  ovs_vsctl "${args[@]}"
}

start_ovs() {
  ovs_env
  start_ovsdb
  ip netns exec klk-sw ovs-vswitchd "unix:$LAB/ovs/db.sock" -vconsole:off \
    --pidfile="$LAB/ovs/ovs-vswitchd.pid" --detach --log-file
  make_ovs_bridge
}

# ---------------------------------------------------------------------------
# SSH hosts: private hostname and /etc files via `unshare --uts --mount`
# ---------------------------------------------------------------------------
write_os_release() { # KEY
  case $1 in
    srv1) cat <<'EOF'
PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
UBUNTU_CODENAME=jammy
EOF
    ;;
    srv2) cat <<'EOF'
NAME="Ubuntu"
VERSION="20.04.6 LTS (Focal Fossa)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 20.04.6 LTS"
VERSION_ID="20.04"
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
VERSION_CODENAME=focal
UBUNTU_CODENAME=focal
EOF
    ;;
    srv3) cat <<'EOF'
NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
EOF
    ;;
  esac
}

# The packages of srv3, as NAME EPOCH VERSION RELEASE (epoch "-" for none), as Rocky 9.4 ships them.
SRV3_RPMS=(
  "rocky-release - 9.4 1.7.el9"
  "bash - 5.1.8 9.el9"
  "nginx 1 1.20.1 14.el9_2.1"
  "nginx-core 1 1.20.1 14.el9_2.1"
  "openssh-server - 8.7p1 38.el9"
  "postgresql-server - 13.14 1.el9_3"
  "php-fpm - 8.0.30 1.el9_2"
)

# A real rpm database for srv3: one empty noarch package per SRV3_RPMS line built with
# rpmbuild, then recorded with `rpm -i --justdb --nodeps` into a database of its own that the
# host sees as /var/lib/rpm. Built once (rpmbuild takes ~1 s per package), kept across `up`s.
make_rpmdb() { # KEY
  local d top line name epoch version release
  d=$(hdir "$1")
  [[ -s $d/rpmdb.list ]] && return 0
  rm -rf "$d/rpmdb" "$d/rpmbuild"
  top="$d/rpmbuild"
  mkdir -p "$top/SPECS" "$d/rpmdb"
  for line in "${SRV3_RPMS[@]}"; do
    read -r name epoch version release <<<"$line"
    {
      echo "Name: $name"
      [[ $epoch != - ]] && echo "Epoch: $epoch"
      echo "Version: $version"
      echo "Release: $release"
      echo "Summary: kolokasi lab stand-in for $name"
      echo "License: MIT"
      echo "BuildArch: noarch"
      printf '%%description\nkolokasi lab stand-in for %s (no files).\n%%files\n' "$name"
    } >"$top/SPECS/$name.spec"
    rpmbuild --quiet -bb --define "_topdir $top" --define "_build_id_links none" \
      "$top/SPECS/$name.spec" >/dev/null
  done
  rpm --dbpath "$d/rpmdb" --initdb
  rpm --dbpath "$d/rpmdb" -i --justdb --nodeps --noscripts --ignorearch --ignoreos \
    "$top"/RPMS/noarch/*.rpm
  rpm --dbpath "$d/rpmdb" -qa | sort >"$d/rpmdb.list"
}

# dpkg status stanza: NAME VERSION ARCH DESCRIPTION
dpkg_entry() {
  cat <<EOF
Package: $1
Status: install ok installed
Priority: optional
Section: misc
Maintainer: Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>
Architecture: $3
Version: $2
Description: $4

EOF
}

write_dpkg_status() { # KEY
  case $1 in
    srv1)
      dpkg_entry base-files 12ubuntu4.6 amd64 "Debian base system miscellaneous files"
      dpkg_entry nginx 1.18.0-6ubuntu14.4 amd64 "small, powerful, scalable web/proxy server"
      dpkg_entry nginx-common 1.18.0-6ubuntu14.4 all "small, powerful, scalable web/proxy server - common files"
      dpkg_entry openssh-server 1:8.9p1-3ubuntu0.6 amd64 "secure shell (SSH) server, for secure access from remote machines"
      dpkg_entry php8.1-fpm 8.1.2-1ubuntu2.14 amd64 "server-side, HTML-embedded scripting language (FPM-CGI binary)"
      dpkg_entry postgresql-14 14.11-0ubuntu0.22.04.1 amd64 "The World's Most Advanced Open Source Relational Database"
      ;;
    srv2)
      dpkg_entry base-files 11ubuntu5.8 amd64 "Debian base system miscellaneous files"
      dpkg_entry nginx 1.18.0-0ubuntu1.4 all "small, powerful, scalable web/proxy server"
      dpkg_entry nginx-common 1.18.0-0ubuntu1.4 all "small, powerful, scalable web/proxy server - common files"
      dpkg_entry openssh-server 1:8.2p1-4ubuntu0.11 amd64 "secure shell (SSH) server, for secure access from remote machines"
      ;;
  esac
}

# /etc files private to one host: hostname, hosts, a resolver that fails at once
# (nothing listens on 127.0.0.1:53 in the namespace), and a passwd giving root an
# empty home (no .bashrc, so no pyenv on every SSH command).
write_host_etc() { # KEY
  local h=$1 d name
  d=$(hdir "$h")/etc
  name=${HOST_NAME[$h]}
  mkdir -p "$d" "$(hdir "$h")/home"
  echo "$name" >"$d/hostname"
  printf '127.0.0.1 localhost\n%s %s\n::1 localhost ip6-localhost ip6-loopback\n' \
    "${HOST_ADDR[$h]}" "$name" >"$d/hosts"
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$d/resolv.conf"
  awk -F: -v OFS=: -v home="$(hdir "$h")/home" '$1 == "root" { $6 = home } { print }' \
    /etc/passwd >"$d/passwd"
  if [[ $h == srv* ]]; then
    # The server's host admin login, as a unit hands it over on the Form Persetujuan: a uid-0
    # account that exists only inside this host, its password hash in its passwd entry (it has
    # no shadow entry, so sshd, without PAM, reads the hash from there).
    local pw_file
    pw_file="$(hdir "$h")/admin-password"
    [[ -s $pw_file ]] || (umask 077 && openssl rand -hex 12 >"$pw_file")
    printf 'klk-admin:%s:0:0:kolokasi lab host admin:%s:/bin/bash\n' \
      "$(openssl passwd -6 -stdin <"$pw_file")" "$(hdir "$h")/home" >>"$d/passwd"
    write_os_release "$h" >"$d/os-release"
    if [[ $h == srv3 ]]; then
      write_srv3_etc
      return 0
    fi
    # The whole /var/lib/dpkg folder is bound, not the status file: apt on the host replaces
    # its status file by rename, and renaming over a file that another mount namespace has a
    # bind mount on silently drops that mount (the server would then see the host's packages).
    mkdir -p "$d/dpkg/updates" "$d/dpkg/info"
    write_dpkg_status "$h" >"$d/dpkg/status"
  fi
}

# srv3, a RHEL-family server: /etc/redhat-release and rpm's own macros (the database in
# /var/lib/rpm, as on Rocky; Debian's rpm defaults to ~/.rpmdb) in an overlay on /etc, the rpm
# database, and its other logins: the host admin's SSH keys (ed25519 and RSA, as an operator
# attaches them), `klk-user`, an unprivileged host admin (uid 1500, password; sudo asks it for a
# password, so `sudo -n` is refused) and `klk-sudo`, a host admin with password-less sudo
# (uid 1502, the same password), both in the host's own /etc/sudoers.
write_srv3_etc() {
  local hd pw_file t
  hd=$(hdir srv3)
  rm -rf "$hd/etc-work"
  mkdir -p "$hd/etc-upper/rpm" "$hd/etc-work" "$hd/admin-keys" "$hd/home-user"
  echo "Rocky Linux release 9.4 (Blue Onyx)" >"$hd/etc-upper/redhat-release"
  echo "%_dbpath /var/lib/rpm" >"$hd/etc-upper/rpm/macros"
  chmod 755 "$hd/home-user"
  for t in ed25519 rsa; do
    [[ -s $hd/admin-keys/id_$t ]] || ssh-keygen -q -t "$t" -N '' -C "klk-admin@srv-rocky ($t)" -f "$hd/admin-keys/id_$t"
  done
  cat "$hd"/admin-keys/id_*.pub >"$hd/admin-keys/authorized_keys"
  pw_file="$hd/user-password"
  [[ -s $pw_file ]] || (umask 077 && openssl rand -hex 12 >"$pw_file")
  printf 'klk-user:%s:1500:1500:kolokasi lab unprivileged host admin:%s:/bin/sh\n' \
    "$(openssl passwd -6 -stdin <"$pw_file")" "$hd/home-user" >>"$hd/etc/passwd"
  # A broken or hostile server: whatever is asked, `klk-flood`'s login shell streams endlessly.
  printf '#!/bin/sh\nexec yes kolokasi-lab-flood\n' >"$hd/flood-shell"
  chmod 755 "$hd/flood-shell"
  printf 'klk-flood:%s:1501:1501:kolokasi lab endless output:%s:%s\n' \
    "$(openssl passwd -6 -stdin <"$pw_file")" "$hd/home-user" "$hd/flood-shell" >>"$hd/etc/passwd"
  printf 'klk-sudo:%s:1502:1502:kolokasi lab host admin with sudo:%s:/bin/sh\n' \
    "$(openssl passwd -6 -stdin <"$pw_file")" "$hd/home-user" >>"$hd/etc/passwd"
  (umask 0337 && printf '%s\n' 'Defaults env_reset' 'Defaults !lecture' 'root ALL=(ALL:ALL) ALL' \
    'klk-user ALL=(ALL:ALL) ALL' 'klk-sudo ALL=(ALL:ALL) NOPASSWD: ALL' >"$hd/etc-upper/sudoers.new")
  mv -f "$hd/etc-upper/sudoers.new" "$hd/etc-upper/sudoers"
  make_rpmdb srv3
}

write_sshd_config() { # KEY
  local h=$1 d
  d=$(hdir "$h")
  rm -f "$d/ssh_host_ed25519_key" "$d/ssh_host_ed25519_key.pub"
  ssh-keygen -q -t ed25519 -N '' -C '' -f "$d/ssh_host_ed25519_key"
  cat >"$d/sshd_config" <<EOF
ListenAddress ${HOST_ADDR[$h]}:22
HostKey $d/ssh_host_ed25519_key
PidFile $d/sshd.pid
AuthorizedKeysFile $LAB/ssh/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
MaxSessions 64
MaxStartups 100:30:200
MaxAuthTries 10
PrintMotd no
PrintLastLog no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
  # Plain `ovs-vsctl` over SSH on the switch talks to the lab's OVSDB.
  [[ $h == sw ]] && echo "SetEnv OVS_RUNDIR=$LAB/ovs OVS_DBDIR=$LAB/ovs OVS_LOGDIR=$LAB/ovs" >>"$d/sshd_config"
  # Customer servers also take their host admin's password (the inspection's login when a
  # server is not configured by name).
  [[ $h == srv* ]] && printf 'Match User klk-admin\n  PasswordAuthentication yes\n  PermitRootLogin yes\n' >>"$d/sshd_config"
  [[ $h == srv3 ]] && printf '  AuthorizedKeysFile %s\nMatch User klk-user,klk-flood,klk-sudo\n  PasswordAuthentication yes\n' \
    "$d/admin-keys/authorized_keys" >>"$d/sshd_config"
  return 0
}

# Tiny HTTP listener serving the given ports from one process (writes its pid when bound).
write_listener() {
  cat >"$LAB/hosts/listener.py" <<'EOF'
import http.server, os, socketserver, sys, threading

pidfile, name, ports = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]]

class Server(http.server.ThreadingHTTPServer):
    def server_bind(self):  # skip getfqdn(): no name lookups in the lab
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = name, self.server_address[1]

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("kolokasi lab host %s\n" % name).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)
    do_HEAD = do_GET
    def log_message(self, *args):
        pass

servers = [Server(("0.0.0.0", p), Handler) for p in ports]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
with open(pidfile + ".tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.replace(pidfile + ".tmp", pidfile)
servers[0].serve_forever()
EOF
}

# Script run as `ip netns exec NS unshare --uts --mount ... bash start.sh`.
write_host_start() { # KEY
  local h=$1 d
  d=$(hdir "$h")
  {
    echo "set -euo pipefail"
    echo "hostname ${HOST_NAME[$h]}"
    [[ $h == srv3 ]] &&
      echo "mount -t overlay overlay -o lowerdir=/etc,upperdir=$d/etc-upper,workdir=$d/etc-work /etc"
    echo "for f in hostname hosts resolv.conf passwd; do mount --bind $d/etc/\$f /etc/\$f; done"
    if [[ $h == srv3 ]]; then
      # Its own rpm database; an empty dpkg database (a Rocky server has none).
      echo "mount --bind $d/etc/os-release /etc/os-release"
      echo "mount --bind $d/rpmdb /var/lib/rpm"
      echo "mount -t tmpfs -o size=1m,mode=755 tmpfs /var/lib/dpkg"
    elif [[ $h == srv* ]]; then
      echo "mount --bind $d/etc/os-release /etc/os-release"
      echo "mount --bind $d/etc/dpkg /var/lib/dpkg"
    fi
    echo "mkdir -p /run/sshd"
    [[ -n "${HOST_PORTS[$h]:-}" ]] &&
      echo "setsid -f $PYTHON -I $LAB/hosts/listener.py $d/listener.pid ${HOST_NAME[$h]} ${HOST_PORTS[$h]} </dev/null >>$d/listener.log 2>&1"
    # The customer host behind klk-fw2 is reached through that firewall only: no sshd.
    [[ $h == cust ]] || echo "exec /usr/sbin/sshd -f $d/sshd_config -E $d/sshd.log"
  } >"$d/start.sh"
}

start_host() { # KEY
  local h=$1
  mkdir -p "$(hdir "$h")"
  write_host_etc "$h"
  write_sshd_config "$h"
  write_host_start "$h"
  ip netns exec "$(ns_of "$h")" unshare --uts --mount --propagation private \
    bash "$(hdir "$h")/start.sh"
}

start_hosts() {
  local h
  write_listener
  for h in "${HOSTS[@]}"; do start_host "$h"; done
}

# ---------------------------------------------------------------------------
# Operator firewall profile: klk-fw2 with an existing default-deny ruleset, and the
# customer host klk-cust behind it (added to a running lab on its own)
# ---------------------------------------------------------------------------
#   root ns --klkbr0--> klk-fw2 eth0 198.51.100.4/25 (sshd, nftables "inet filter")
#                       klk-fw2 eth1 198.51.100.97/28 <--veth--> klk-cust eth0 198.51.100.98/28
#   root ns routes 198.51.100.96/28 via 198.51.100.4 (proto 77); klk-cust answers on every
#   address of 198.51.100.104/29 (local route on lo) with HTTP on tcp 80 and 8080.
# The ruleset is the operator's: kolokasi's tests may add to it and must leave it as it was.
write_fw2_ruleset() {
  cat >"$(hdir fw2)/operator.nft" <<'EOF'
# The operator's own ruleset on klk-fw2 (as a DC would have it before kolokasi).
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		iif "lo" accept comment "ops: loopback"
		ct state established,related accept comment "ops: established"
		tcp dport 22 accept comment "ops: management ssh"
		meta l4proto icmp accept comment "ops: ping"
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept comment "ops: established"
		jump customers comment "ops: customer rules"
		meta l4proto tcp reject with tcp reset comment "ops: refuse the rest"
	}
	chain customers {
	}
}
EOF
}

make_fw2_network() {
  make_host_netns fw2
  ip netns add klk-cust
  ip -n klk-fw2 link add eth1 type veth peer name eth0 netns klk-cust
  ip -n klk-fw2 addr add "$CUST_GW/28" dev eth1
  ip -n klk-cust addr add "${HOST_ADDR[cust]}/28" dev eth0
  ip -n klk-cust link set lo up
  ip -n klk-fw2 link set eth1 up
  ip -n klk-cust link set eth0 up
  ip -n klk-cust route add default via "$CUST_GW" dev eth0
  ip -n klk-cust route add local "$CUST_ANY" dev lo
  ip -n klk-fw2 route add "$CUST_ANY" via "${HOST_ADDR[cust]}" dev eth1
  ip netns exec klk-fw2 sysctl -qw net.ipv4.ip_forward=1
  ip route replace "$CUST_NET" via "${HOST_ADDR[fw2]}" dev "$BRIDGE" proto "$ROUTE_PROTO"
}

teardown_fw2() {
  local pids pidfile glob pid h
  pids=()
  while IFS='|' read -r pidfile glob; do
    pid=$(pidfile_pid "$pidfile")
    [[ -n $pid ]] && pid_is "$pid" "$glob" && pids+=("$pid")
  done < <(fw2_daemons)
  for h in "${FW2_HOSTS[@]}"; do
    [[ -e /run/netns/$(ns_of "$h") ]] && mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$(ns_of "$h")" 2>/dev/null)
  done
  kill_pids "${pids[@]}"
  for h in "${FW2_HOSTS[@]}"; do
    ip link del "klkv-$h" 2>/dev/null || true
    ip netns del "$(ns_of "$h")" 2>/dev/null || true
  done
  ip -4 route del "$CUST_NET" proto "$ROUTE_PROTO" 2>/dev/null || true
}

build_fw2() {
  write_listener
  mkdir -p "$(hdir fw2)" "$(hdir cust)"
  make_fw2_network
  write_fw2_ruleset
  ip netns exec klk-fw2 nft -f "$(hdir fw2)/operator.nft"
  # The pristine listing, for anyone checking that the operator's table was left as it was.
  ip netns exec klk-fw2 nft -j list table inet filter >"$(hdir fw2)/operator.json"
  start_host fw2
  rm -f "$(hdir cust)/listener.pid"
  start_host cust
  wait_for 5 "klk-cust listener" test -s "$(hdir cust)/listener.pid"
}

fw2_forward_drops() {
  ip netns exec klk-fw2 nft -j list chain inet filter forward |
    "$PYTHON" -I -c 'import json,sys; c=[i["chain"] for i in json.load(sys.stdin)["nftables"] if "chain" in i]; sys.exit(0 if c and c[0].get("policy")=="drop" and c[0].get("hook")=="forward" else 1)'
}

cust_listening() { # PORT, seen from klk-fw2 (its own traffic is not filtered)
  ip netns exec klk-fw2 timeout 1 bash -c "exec 3<>/dev/tcp/${CUST_ANY%/*}/$1" 2>/dev/null
}

run_fw2_checks() {
  local pidfile glob p
  check "netns klk-fw2 klk-cust" test -e /run/netns/klk-fw2 -a -e /run/netns/klk-cust
  check "route $CUST_NET via ${HOST_ADDR[fw2]}" bash -c "ip -4 route show $CUST_NET | grep -q 'via ${HOST_ADDR[fw2]}'"
  while IFS='|' read -r pidfile glob; do
    check "process ${pidfile#"$LAB"/} ($(pidfile_pid "$pidfile"))" daemon_alive "$pidfile" "$glob"
  done < <(fw2_daemons)
  check "fw2 ${HOST_ADDR[fw2]}:22 listening" tcp_open "${HOST_ADDR[fw2]}" 22
  check "klk-fw2 table inet filter, forward policy drop" fw2_forward_drops
  for p in ${HOST_PORTS[cust]}; do
    check "cust ${CUST_ANY%/*}:$p listening (seen from klk-fw2)" cust_listening "$p"
  done
}

fw2_healthy() { local CHECK_FAILED=0; QUIET=1 run_fw2_checks; return "$CHECK_FAILED"; }

# Adds (or repairs) the profile alone: the core lab and the tests using it are untouched.
ensure_fw2() {
  fw2_healthy && return 0
  log "adding the operator firewall klk-fw2 and customer host klk-cust"
  teardown_fw2
  build_fw2
  fw2_healthy || { run_fw2_checks || true; die "the operator firewall profile came up unhealthy (see above)"; }
}

# ---------------------------------------------------------------------------
# Stock sshd profile: a second sshd on klk-sw and klk-fw, Debian's sshd_config as shipped
# ---------------------------------------------------------------------------
# The config is $STOCK_CONFIG with exactly three lines put in front (ListenAddress: its own
# port, so the tuned sshd on :22 stays; HostKey: a key of its own, not /etc/ssh's; PidFile: so
# the lab can stop it by pid). Everything else is the distribution's: UsePAM yes (Debian's
# /etc/pam.d/sshd), StrictModes yes, MaxSessions 10, X11Forwarding yes, the Include of
# /etc/ssh/sshd_config.d. The login is root with the stock AuthorizedKeysFile
# (.ssh/authorized_keys): the sshd runs in a mount namespace of its own where /root is a clean
# home holding the lab key and Debian's root dotfiles (so neither the VM's pyenv .bashrc nor
# its root key list is used). On klk-sw, /run/openvswitch (OVS's default run folder) is the
# lab's OVS folder, so plain `ovs-vsctl` works as on a switch installed from packages.
stock_dir() { echo "$(hdir "$1")/stock"; }

write_stock_sshd() { # KEY
  local h=$1 d
  d=$(stock_dir "$h")
  mkdir -p "$d/root/.ssh"
  rm -f "$d/ssh_host_ed25519_key" "$d/ssh_host_ed25519_key.pub"
  ssh-keygen -q -t ed25519 -N '' -C '' -f "$d/ssh_host_ed25519_key"
  {
    echo "# kolokasi lab \"stock sshd\": $STOCK_CONFIG with only these three lines added"
    echo "ListenAddress ${HOST_ADDR[$h]}:$STOCK_PORT"
    echo "HostKey $d/ssh_host_ed25519_key"
    echo "PidFile $d/sshd.pid"
    cat "$STOCK_CONFIG"
  } >"$d/sshd_config"
  cp /usr/share/base-files/dot.bashrc "$d/root/.bashrc"
  cp /usr/share/base-files/dot.profile "$d/root/.profile"
  cp "$LAB/ssh/authorized_keys" "$d/root/.ssh/authorized_keys"
  # StrictModes yes (the default) wants these modes.
  chmod 700 "$d/root" "$d/root/.ssh"
  chmod 600 "$d/root/.ssh/authorized_keys"
  {
    echo "set -euo pipefail"
    echo "hostname ${HOST_NAME[$h]}"
    echo "for f in hostname hosts resolv.conf; do mount --bind $(hdir "$h")/etc/\$f /etc/\$f; done"
    echo "mount --bind $d/root /root"
    [[ $h == sw ]] && echo "mount --bind $LAB/ovs /run/openvswitch"
    echo "mkdir -p /run/sshd"
    echo "exec /usr/sbin/sshd -f $d/sshd_config -E $d/sshd.log"
  } >"$d/start.sh"
}

start_stock_sshd() { # KEY
  local h=$1 pid
  pid=$(pidfile_pid "$(stock_dir "$h")/sshd.pid")
  [[ -n $pid ]] && pid_is "$pid" sshd && kill_pids "$pid"
  write_stock_sshd "$h"
  # An empty mount point in the root namespace; the lab's OVS folder is bound on it only
  # inside the stock sshd's own mount namespace.
  [[ $h == sw ]] && mkdir -p /run/openvswitch
  ip netns exec "$(ns_of "$h")" unshare --uts --mount --propagation private \
    bash "$(stock_dir "$h")/start.sh"
  wait_for 5 "stock sshd of $h on :$STOCK_PORT" tcp_open "${HOST_ADDR[$h]}" "$STOCK_PORT"
}

# The stock sshd answers a plain OpenSSH client and, on the switch, ovs-vsctl works with its
# defaults (no SetEnv, no --db).
stock_login_ok() { # KEY
  local cmd=true
  [[ $1 == sw ]] && cmd="ovs-vsctl --timeout=2 br-exists br0"
  timeout 10 ssh -i "$LAB/ssh/id_ed25519" -p "$STOCK_PORT" -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "root@${HOST_ADDR[$1]}" "$cmd"
}

# Exactly ListenAddress, HostKey and PidFile (and the comment naming them) differ from stock.
stock_config_is_stock() { # KEY
  [[ -z $(diff <(tail -n +5 "$(stock_dir "$1")/sshd_config") "$STOCK_CONFIG") ]]
}

run_stock_checks() { # [KEY...] (default: every stock host)
  local h hosts=("$@")
  [[ ${#hosts[@]} -gt 0 ]] || hosts=("${STOCK_HOSTS[@]}")
  for h in "${hosts[@]}"; do
    check "stock sshd $h: process $(pidfile_pid "$(stock_dir "$h")/sshd.pid")" daemon_alive "$(stock_dir "$h")/sshd.pid" sshd
    check "stock sshd $h: ${HOST_ADDR[$h]}:$STOCK_PORT listening" tcp_open "${HOST_ADDR[$h]}" "$STOCK_PORT"
    check "stock sshd $h: config is $STOCK_CONFIG plus ListenAddress/HostKey/PidFile" stock_config_is_stock "$h"
    check "stock sshd $h: key login as root$([[ $h == sw ]] && echo ', plain ovs-vsctl')" stock_login_ok "$h"
  done
}

# Adds (or repairs) the profile host by host; the tuned sshd on :22 and everything else stay.
ensure_stock_sshd() {
  local h CHECK_FAILED
  for h in "${STOCK_HOSTS[@]}"; do
    CHECK_FAILED=0
    QUIET=1 run_stock_checks "$h"
    [[ $CHECK_FAILED == 0 ]] && continue
    log "adding the stock sshd on $h (${HOST_ADDR[$h]}:$STOCK_PORT)"
    start_stock_sshd "$h"
  done
  CHECK_FAILED=0
  QUIET=1 run_stock_checks
  [[ $CHECK_FAILED == 0 ]] || { run_stock_checks || true; die "the stock sshd profile came up unhealthy (see above)"; }
}

# ---------------------------------------------------------------------------
# Health checks (used by `status` and by `up` to decide whether to rebuild)
# ---------------------------------------------------------------------------
CHECK_FAILED=0
check() { # DESCRIPTION CMD...
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then
    [[ ${QUIET:-0} == 1 ]] || printf '  ok    %s\n' "$what"
  else
    [[ ${QUIET:-0} == 1 ]] || printf '  FAIL  %s\n' "$what"
    CHECK_FAILED=1
  fi
}

daemon_alive() { # PIDFILE GLOB
  local pid
  pid=$(pidfile_pid "$1")
  [[ -n $pid ]] && pid_is "$pid" "$2"
}

ovs_ports_ok() {
  local ports
  ports=$(ovs-vsctl --db="tcp:${HOST_ADDR[sw]}:$OVSDB_PORT" --timeout=2 list-ports br0)
  [[ $(wc -l <<<"$ports") -ge ${#RACK_PORTS[@]} ]]
}

# HOSTS without SKIP_HOSTS (space-separated), one a line.
checked_hosts() {
  local h
  for h in "${HOSTS[@]}"; do [[ " ${SKIP_HOSTS:-} " == *" $h "* ]] || echo "$h"; done
}

run_checks() {
  local line pidfile glob h p hosts
  mapfile -t hosts < <(checked_hosts)
  CHECK_FAILED=0
  check "lab folder $LAB" test -f "$MARKER" -a -f "$LAB/lab.json"
  check "bridge $BRIDGE $BRIDGE_ADDR/$MGMT_PREFIX" bash -c "ip -4 -o addr show dev $BRIDGE | grep -q ' $BRIDGE_ADDR/$MGMT_PREFIX '"
  check "route $IPAM_V4 via ${HOST_ADDR[fw]}" bash -c "ip -4 route show $IPAM_V4 | grep -q 'via ${HOST_ADDR[fw]}'"
  check "klk-fw $FW_LO_ADDR on lo" bash -c "ip -n klk-fw -4 -o addr show dev lo | grep -q ' $FW_LO_ADDR/32 '"
  for h in "${hosts[@]}"; do check "netns $(ns_of "$h")" test -e "/run/netns/$(ns_of "$h")"; done
  while IFS='|' read -r pidfile glob; do
    h=${pidfile#"$LAB"/hosts/}
    [[ $h != "$pidfile" && " ${SKIP_HOSTS:-} " == *" ${h%%/*} "* ]] && continue
    check "process ${pidfile#"$LAB"/} ($(pidfile_pid "$pidfile"))" daemon_alive "$pidfile" "$glob"
  done < <(lab_daemons)
  check "BIND9 127.0.0.1:$BIND_PORT answers" bind_ready
  check "PowerDNS 127.0.0.1:$PDNS_PORT answers" pdns_soa_ready
  check "PowerDNS API 127.0.0.1:$PDNS_API_PORT" pdns_ready
  check "SMTP sink 127.0.0.1:$SMTP_PORT answers" smtp_ready
  check "SMTP sink STARTTLS (lab CA) and version $SMTP_SINK_VERSION" smtp_current
  check "OVSDB ${HOST_ADDR[sw]}:$OVSDB_PORT br0 ports" ovs_ports_ok
  for h in "${hosts[@]}"; do
    [[ $h == srv3 ]] &&
      check "$h sees its own rpm database and redhat-release" own_rpmdb "$h" &&
      check "$h has its unprivileged login klk-user, the flooding klk-flood and klk-sudo (password-less sudo)" own_user_login "$h"
    [[ $h == srv[12] ]] &&
      check "$h sees its own package list" own_dpkg_status "$h"
    [[ $h == srv* ]] &&
      check "$h has its host admin login" own_admin_login "$h"
    for p in 22 ${HOST_PORTS[$h]:-}; do
      check "$h ${HOST_ADDR[$h]}:$p listening" tcp_open "${HOST_ADDR[$h]}" "$p"
    done
  done
  return "$CHECK_FAILED"
}

own_dpkg_status() { # KEY
  local d pid
  d=$(hdir "$1")
  pid=$(pidfile_pid "$d/sshd.pid")
  [[ -n $pid ]] && nsenter -t "$pid" -m -- cmp -s "$d/etc/dpkg/status" /var/lib/dpkg/status
}

own_rpmdb() { # KEY
  local d pid
  d=$(hdir "$1")
  pid=$(pidfile_pid "$d/sshd.pid")
  [[ -s $d/rpmdb.list && -n $pid ]] &&
    cmp -s "$d/rpmdb.list" <(nsenter -t "$pid" -m -- rpm -qa | sort) &&
    nsenter -t "$pid" -m -- grep -q '^Rocky Linux release 9' /etc/redhat-release
}

own_user_login() { # KEY
  local d pid
  d=$(hdir "$1")
  pid=$(pidfile_pid "$d/sshd.pid")
  [[ -s $d/user-password && -n $pid ]] && nsenter -t "$pid" -m -- grep -q '^klk-user:\$6\$[^:]*:1500:' /etc/passwd &&
    nsenter -t "$pid" -m -- grep -q '^klk-flood:.*flood-shell$' /etc/passwd &&
    nsenter -t "$pid" -m -- grep -q '^klk-sudo:\$6\$[^:]*:1502:' /etc/passwd &&
    nsenter -t "$pid" -m -- grep -q '^klk-sudo ALL=(ALL:ALL) NOPASSWD: ALL$' /etc/sudoers
}

own_admin_login() { # KEY
  local d pid
  d=$(hdir "$1")
  pid=$(pidfile_pid "$d/sshd.pid")
  [[ -s $d/admin-password && -n $pid ]] && nsenter -t "$pid" -m -- grep -q '^klk-admin:\$6\$' /etc/passwd
}

lab_healthy() { QUIET=1 run_checks; }

# Adds (or re-creates) one of ADDED_HOSTS in a lab whose other parts are healthy: its
# processes stopped by pid, its namespace made again, the host started. Nothing else is touched.
add_host() { # KEY
  local h=$1 d pids
  d=$(hdir "$h")
  log "adding host $h (${HOST_ADDR[$h]}) to the running lab"
  mapfile -t pids < <(
    for f in "$d/sshd.pid|sshd" "$d/listener.pid|python3*"; do
      p=$(pidfile_pid "${f%%|*}")
      [[ -n $p ]] && pid_is "$p" "${f#*|}" && echo "$p"
    done
    [[ -e /run/netns/$(ns_of "$h") ]] && ip netns pids "$(ns_of "$h")" 2>/dev/null
    true
  )
  kill_pids "${pids[@]}"
  ip link del "klkv-$h" 2>/dev/null || true
  ip netns del "$(ns_of "$h")" 2>/dev/null || true
  make_host_netns "$h"
  # The new eth0 has a new MAC: a neighbour entry for the old one, kept fresh by traffic
  # still in flight to it, would leave the host unreachable from the root namespace.
  ip neigh flush to "${HOST_ADDR[$h]}" dev "$BRIDGE" 2>/dev/null || true
  write_listener
  start_host "$h"
  [[ -n "${HOST_PORTS[$h]:-}" ]] && wait_for 5 "HTTP listener of $h" test -s "$d/listener.pid"
  return 0
}

# ---------------------------------------------------------------------------
# lab.json and summary
# ---------------------------------------------------------------------------
write_lab_json() {
  LAB="$LAB" BIND_PORT="$BIND_PORT" PDNS_PORT="$PDNS_PORT" PDNS_API_PORT="$PDNS_API_PORT" \
  TSIG_NAME="$TSIG_NAME" ZONE_FWD="$ZONE_FWD" ZONE_V4="$ZONE_V4" ZONE_V6="$ZONE_V6" \
  IPAM_V4="$IPAM_V4" IPAM_V6="$IPAM_V6" OVSDB_PORT="$OVSDB_PORT" PORTS="${RACK_PORTS[*]}" \
  KEY_SW="$(ssh_pubkey "$LAB/hosts/sw/ssh_host_ed25519_key.pub")" \
  KEY_FW="$(ssh_pubkey "$LAB/hosts/fw/ssh_host_ed25519_key.pub")" \
  KEY_SRV1="$(ssh_pubkey "$LAB/hosts/srv1/ssh_host_ed25519_key.pub")" \
  KEY_SRV2="$(ssh_pubkey "$LAB/hosts/srv2/ssh_host_ed25519_key.pub")" \
  KEY_FW2="$(ssh_pubkey "$LAB/hosts/fw2/ssh_host_ed25519_key.pub")" ADDR_FW2="${HOST_ADDR[fw2]}" \
  KEY_SW_STOCK="$(ssh_pubkey "$LAB/hosts/sw/stock/ssh_host_ed25519_key.pub")" \
  KEY_FW_STOCK="$(ssh_pubkey "$LAB/hosts/fw/stock/ssh_host_ed25519_key.pub")" \
  STOCK_PORT="$STOCK_PORT" STOCK_CONFIG="$STOCK_CONFIG" \
  CUST_NET="$CUST_NET" CUST_GW="$CUST_GW" CUST_ANY="$CUST_ANY" ADDR_CUST="${HOST_ADDR[cust]}" \
  KEY_SRV3="$(ssh_pubkey "$LAB/hosts/srv3/ssh_host_ed25519_key.pub")" ADDR_SRV3="${HOST_ADDR[srv3]}" \
  NAME_SRV3="${HOST_NAME[srv3]}" \
  ADDR_SW="${HOST_ADDR[sw]}" ADDR_FW="${HOST_ADDR[fw]}" \
  ADDR_SRV1="${HOST_ADDR[srv1]}" ADDR_SRV2="${HOST_ADDR[srv2]}" FW_LO_ADDR="$FW_LO_ADDR" \
  SMTP_PORT="$SMTP_PORT" SMTP_USER="$SMTP_USER" \
  NAME_SRV1="${HOST_NAME[srv1]}" NAME_SRV2="${HOST_NAME[srv2]}" \
    "$PYTHON" -I - <<'EOF'
import json, os
e = os.environ
lab = e["LAB"]
def host(key, netns, **extra):
    d = {"address": e["ADDR_" + key], "ssh_port": 22, "host_key": e["KEY_" + key], "netns": netns}
    d.update(extra)
    return d
doc = {
    "lab_dir": lab,
    "bind": {"server": "127.0.0.1:" + e["BIND_PORT"], "tsig_key_name": e["TSIG_NAME"],
             "tsig_algorithm": "hmac-sha256", "tsig_secret_file": lab + "/bind/tsig.secret"},
    "powerdns": {"server": "127.0.0.1:" + e["PDNS_PORT"], "api_url": "http://127.0.0.1:" + e["PDNS_API_PORT"],
                 "api_key_file": lab + "/pdns/api.key", "server_id": "localhost"},
    "zones": {"forward": e["ZONE_FWD"], "reverse_v4": e["ZONE_V4"], "reverse_v6": e["ZONE_V6"]},
    "ssh": {"user": "root", "private_key_file": lab + "/ssh/id_ed25519"},
    "hosts": {
        "sw": host("SW", "klk-sw", ovsdb=e["ADDR_SW"] + ":" + e["OVSDB_PORT"], bridge="br0",
                   ports=e["PORTS"].split()),
        "fw": host("FW", "klk-fw", test_address=e["FW_LO_ADDR"]),
        "srv1": host("SRV1", "klk-srv1", hostname=e["NAME_SRV1"], admin_user="klk-admin",
                     admin_password_file=lab + "/hosts/srv1/admin-password"),
        "srv2": host("SRV2", "klk-srv2", hostname=e["NAME_SRV2"], admin_user="klk-admin",
                     admin_password_file=lab + "/hosts/srv2/admin-password"),
        "srv3": host("SRV3", "klk-srv3", hostname=e["NAME_SRV3"], admin_user="klk-admin",
                     admin_password_file=lab + "/hosts/srv3/admin-password",
                     admin_key_files={"ed25519": lab + "/hosts/srv3/admin-keys/id_ed25519",
                                      "rsa": lab + "/hosts/srv3/admin-keys/id_rsa"},
                     unprivileged_user="klk-user",
                     unprivileged_password_file=lab + "/hosts/srv3/user-password",
                     flood_user="klk-flood", sudo_user="klk-sudo"),
        "fw2": host("FW2", "klk-fw2"),
    },
    # The same switch and firewall behind a second sshd with Debian's stock sshd_config.
    "stock_sshd": {
        "port": int(e["STOCK_PORT"]), "switch_host": "sw_stock", "firewall_host": "fw_stock",
        "stock_config": e["STOCK_CONFIG"],
        "configs": {k: lab + "/hosts/" + k + "/stock/sshd_config" for k in ("sw", "fw")},
    },
    # klk-fw2's existing default-deny ruleset and the customer host behind it.
    "operator_firewall": {
        "host": "fw2", "family": "inet", "table": "filter", "base_chain": "forward",
        "regular_chain": "customers", "before_comment": "ops: refuse the rest",
        "pristine_listing_file": lab + "/hosts/fw2/operator.json",
        "customer_net": e["CUST_NET"], "customer_gateway": e["CUST_GW"],
        "customer_addresses": e["CUST_ANY"], "customer_host_address": e["ADDR_CUST"],
        "customer_netns": "klk-cust", "open_port": 80, "other_port": 8080,
    },
    "ipam": {"v4": e["IPAM_V4"], "v6": e["IPAM_V6"]},
    "smtp": {"server": "127.0.0.1:" + e["SMTP_PORT"], "maildir": lab + "/mail/new",
             "starttls": "required", "username": e["SMTP_USER"], "password_file": lab + "/smtp/password",
             "ca_file": lab + "/smtp/ca.pem", "from": "kolokasi@kaltimprov.go.id",
             "head_email": "kabid.tik@kaltimprov.go.id"},
}
if e["KEY_SW_STOCK"] and e["KEY_FW_STOCK"]:
    for key, netns in (("SW", "klk-sw"), ("FW", "klk-fw")):
        h = host(key, netns, profile="stock-sshd")
        h.update(ssh_port=int(e["STOCK_PORT"]), host_key=e["KEY_" + key + "_STOCK"])
        doc["hosts"][key.lower() + "_stock"] = h
else:
    del doc["stock_sshd"]
# Keep what another version of this script wrote (the lab is shared by branches): keys and
# hosts it knows and this one does not stay; what this one writes wins.
try:
    with open(lab + "/lab.json") as f:
        old = json.load(f)
    hosts = dict(old.get("hosts", {}), **doc["hosts"])
    doc = dict(old, **doc)
    doc["hosts"] = hosts
except (OSError, ValueError):
    pass
tmp = lab + "/lab.json.tmp"
with open(tmp, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
os.replace(tmp, lab + "/lab.json")
EOF
}

print_summary() {
  cat <<EOF
kolokasi lab is up ($LAB/lab.json)
  BIND9     127.0.0.1:$BIND_PORT   TSIG $TSIG_NAME hmac-sha256 (secret: $LAB/bind/tsig.secret)
  PowerDNS  127.0.0.1:$PDNS_PORT   API http://127.0.0.1:$PDNS_API_PORT (key: $LAB/pdns/api.key)
  SMTP      127.0.0.1:$SMTP_PORT   sink, STARTTLS (CA $LAB/smtp/ca.pem), AUTH $SMTP_USER (password: $LAB/smtp/password), messages in $LAB/mail/new
  zones     $ZONE_FWD $ZONE_V4 $ZONE_V6
  bridge    $BRIDGE $BRIDGE_ADDR/$MGMT_PREFIX; route $IPAM_V4 via ${HOST_ADDR[fw]} (IPAM range)
  sw        ${HOST_ADDR[sw]} (klk-sw)   OVSDB tcp:${HOST_ADDR[sw]}:$OVSDB_PORT bridge br0 ports ${RACK_PORTS[*]}
  fw        ${HOST_ADDR[fw]} (klk-fw)   nftables, $FW_LO_ADDR on lo
  srv1      ${HOST_ADDR[srv1]} (klk-srv1) ${HOST_NAME[srv1]}, Ubuntu 22.04, tcp 80 443
  srv2      ${HOST_ADDR[srv2]} (klk-srv2) ${HOST_NAME[srv2]}, Ubuntu 20.04, tcp 80
  fw2       ${HOST_ADDR[fw2]} (klk-fw2)  nftables with the operator's table inet filter (forward policy drop); routes $CUST_NET
  cust      ${HOST_ADDR[cust]} (klk-cust) behind klk-fw2, answers on $CUST_ANY, tcp 80 8080
  srv3      ${HOST_ADDR[srv3]} (klk-srv3) ${HOST_NAME[srv3]}, Rocky Linux 9.4 (rpm), tcp 80; klk-admin by password or key, klk-user unprivileged, klk-sudo password-less sudo
  ssh       ssh -i $LAB/ssh/id_ed25519 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@ADDRESS
EOF
}

# ---------------------------------------------------------------------------
# Teardown
# ---------------------------------------------------------------------------
# Pids from the lab's pid files whose comm still matches.
pids_from_pidfiles() {
  local pidfile glob pid
  while IFS='|' read -r pidfile glob; do
    pid=$(pidfile_pid "$pidfile")
    [[ -n $pid ]] && pid_is "$pid" "$glob" && echo "$pid"
  done < <(lab_daemons; fw2_daemons; stock_daemons)
  return 0
}

# Every process still inside a lab namespace (SSH sessions, strays).
pids_in_namespaces() {
  local h ns
  for h in "${HOSTS[@]}" "${FW2_HOSTS[@]}"; do
    ns=$(ns_of "$h")
    [[ -e /run/netns/$ns ]] && ip netns pids "$ns" 2>/dev/null
  done
  return 0
}

# Safety net when pid files are gone: lab daemons whose command line names the lab folder.
pids_by_cmdline() {
  local d pid comm glob
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [[ $pid == "$$" ]] && continue
    tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -qF "$LAB/" || continue
    comm=$(cat "$d/comm" 2>/dev/null) || continue
    for glob in "${DAEMON_COMMS[@]}"; do
      # shellcheck disable=SC2053
      [[ $comm == $glob ]] && ! pid_gone "$pid" && echo "$pid" && break
    done
  done
  return 0
}

stop_processes() {
  local pids
  mapfile -t pids < <(pids_from_pidfiles)
  kill_pids "${pids[@]}"
  mapfile -t pids < <({ pids_in_namespaces; pids_by_cmdline; } | grep -vx "$$" | sort -u)
  kill_pids "${pids[@]}"
}

remove_lab_dir() {
  [[ -d $LAB ]] || return 0
  if [[ -f $MARKER ]] || [[ -z $(ls -A "$LAB") ]]; then
    rm -rf "$LAB"
  else
    log "not removing $LAB: it has no $MARKER marker"
  fi
}

teardown() {
  stop_processes
  delete_network
  remove_lab_dir
}

# ---------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------
build_lab() {
  check_ports_free
  make_lab_dir
  make_client_key
  make_tsig_key
  start_bind
  start_pdns
  start_smtp
  make_network
  start_ovs
  start_hosts
  wait_for 10 "BIND9 on 127.0.0.1:$BIND_PORT" bind_ready
  wait_for 10 "PowerDNS API on 127.0.0.1:$PDNS_API_PORT" pdns_ready
  create_pdns_zones
  wait_for 5 "PowerDNS zones" pdns_zones_ready
  wait_for 5 "HTTP listeners" bash -c "test -s $LAB/hosts/srv1/listener.pid -a -s $LAB/hosts/srv2/listener.pid -a -s $LAB/hosts/srv3/listener.pid"
  wait_for 10 "SMTP sink on 127.0.0.1:$SMTP_PORT" smtp_tls_ready
}

cmd_up() {
  need_root
  check_lab_path
  ensure_packages
  check_lab_net        # also when healthy: a clash or a registry in the range breaks things
  check_registries
  refresh_smtp
  if lab_healthy; then
    log "lab already up and healthy"
  elif SKIP_HOSTS="${ADDED_HOSTS[*]}" lab_healthy; then
    for h in "${ADDED_HOSTS[@]}"; do
      SKIP_HOSTS="$(checked_hosts | grep -vx "$h" | tr '\n' ' ')" lab_healthy || add_host "$h"
    done
    write_lab_json
    lab_healthy || { run_checks || true; die "lab came up unhealthy (see above)"; }
  else
    log "building the lab in $LAB"
    teardown
    build_lab
    write_lab_json
    lab_healthy || { run_checks || true; die "lab came up unhealthy (see above)"; }
  fi
  ensure_fw2           # the operator firewall profile, added alone when it is missing
  ensure_stock_sshd    # the stock sshd profile, likewise
  write_lab_json
  print_summary
}

cmd_down() {
  need_root
  check_lab_path
  teardown
  log "lab is down"
}

cmd_status() {
  echo "kolokasi lab in $LAB"
  local core=0
  run_checks || core=1
  echo "operator firewall profile (klk-fw2, klk-cust)"
  CHECK_FAILED=0
  run_fw2_checks
  local fw2=$CHECK_FAILED
  echo "stock sshd profile (klk-sw, klk-fw :$STOCK_PORT)"
  CHECK_FAILED=0
  run_stock_checks
  if [[ $core == 0 && $fw2 == 0 && $CHECK_FAILED == 0 ]]; then
    echo "all running"
  else
    echo "something is missing (run: $0 up)"
    return 1
  fi
}

main() {
  case "${1:-}" in
    up | down | restart) with_lock "$@" ;;
  esac
  case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    restart) cmd_down && cmd_up ;;
    *) echo "usage: $0 up|down|status|restart" >&2; exit 2 ;;
  esac
}

main "$@"
