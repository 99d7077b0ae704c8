#!/usr/bin/env bash
# The plain-shell floor: the device work of provision.yml / decommission.yml with nothing but
# OpenSSH and nsupdate/dig — one nsupdate + dig for DNS, one ssh connection per device running
# that device's commands (switch: read, write, read back; firewall: one nft transaction;
# server: the inspection's reads). No lifecycle, no state, no checks beyond exit codes and the
# read-backs: how fast the network and the devices allow, for comparison.
#   floor.sh provision|decommission sequential|parallel
# Variables as for the playbooks, from the environment: REQUEST DOMAIN IPV4 IPV6 PTR4 PTR6 PORT
# VLAN; the lab's from $KOLOKASI_BENCH_DIR/lab.env (written by setup.sh).
set -euo pipefail
phase="${1:?provision|decommission}"
mode="${2:?sequential|parallel}"
# shellcheck source=/dev/null
source "${KOLOKASI_BENCH_DIR:-/tmp/kolokasi-bench}/lab.env"
: "${REQUEST:?}" "${DOMAIN:?}" "${IPV4:?}" "${IPV6:?}" "${PTR4:?}" "${PTR6:?}" "${PORT:?}" "${VLAN:?}"
chain="bench_$(echo "$REQUEST" | tr 'A-Z-' 'a-z_')_v4"

remote() { # host port command…
  local host=$1 port=$2
  shift 2
  # shellcheck disable=SC2086
  ssh -o BatchMode=yes -o ControlMaster=no -o ControlPath=none -i "$LAB_SSH_KEY" $LAB_SSH_OPTS -p "$port" "$LAB_SSH_USER@$host" "$@"
}

dig_all() {
  dig "@$LAB_DNS" -p "$LAB_DNS_PORT" +short +norecurse "$DOMAIN" A "$DOMAIN" AAAA "www.$DOMAIN" CNAME "$PTR4" PTR "$PTR6" PTR
}

dns_up() {
  nsupdate -k "$LAB_TSIG_KEY_FILE" <<NS
server $LAB_DNS $LAB_DNS_PORT
zone $LAB_ZONE
update delete $DOMAIN. A
update delete $DOMAIN. AAAA
update delete www.$DOMAIN. CNAME
update add $DOMAIN. 300 A $IPV4
update add $DOMAIN. 300 AAAA $IPV6
update add www.$DOMAIN. 300 CNAME $DOMAIN.
send
zone $LAB_ZONE_V4
update delete $PTR4 PTR
update add $PTR4 300 PTR $DOMAIN.
send
zone $LAB_ZONE_V6
update delete $PTR6 PTR
update add $PTR6 300 PTR $DOMAIN.
send
NS
  dig_all | grep -qx "$IPV4"
}

dns_down() {
  nsupdate -k "$LAB_TSIG_KEY_FILE" <<NS
server $LAB_DNS $LAB_DNS_PORT
zone $LAB_ZONE
update delete $DOMAIN. A
update delete $DOMAIN. AAAA
update delete www.$DOMAIN. CNAME
send
zone $LAB_ZONE_V4
update delete $PTR4 PTR
send
zone $LAB_ZONE_V6
update delete $PTR6 PTR
send
NS
  [[ -z "$(dig_all)" ]]
}

switch_up() {
  remote "$LAB_SW" "$LAB_SW_PORT" "prev=\$(ovs-vsctl get Port $PORT tag) &&
    ovs-vsctl --timeout=10 -- set Port $PORT tag=$VLAN -- set Port $PORT 'external_ids:description=\"kolokasi $REQUEST srv-sipd\"' \
      -- set Port $PORT external_ids:bench-request=$REQUEST -- set Port $PORT \"external_ids:bench-previous-tag=\\\"\$prev\\\"\" &&
    [ \"\$(ovs-vsctl get Port $PORT tag)\" = $VLAN ]"
}

switch_down() {
  remote "$LAB_SW" "$LAB_SW_PORT" "prev=\$(ovs-vsctl get Port $PORT external_ids:bench-previous-tag | tr -d '\"') &&
    if [ \"\$prev\" = '[]' ]; then tag='clear Port $PORT tag'; else tag=\"set Port $PORT tag=\$prev\"; fi &&
    ovs-vsctl --timeout=10 -- \$tag -- remove Port $PORT external_ids description \
      -- remove Port $PORT external_ids bench-request -- remove Port $PORT external_ids bench-previous-tag"
}

firewall_up() {
  remote "$LAB_FW" "$LAB_FW_PORT" "nft -f -" <<NFT
add table inet klkbench
add map inet klkbench dest4 { type ipv4_addr : verdict ; }
add chain inet klkbench forward { type filter hook forward priority 0 ; policy accept ; }
flush chain inet klkbench forward
add rule inet klkbench forward ip daddr vmap @dest4
add chain inet klkbench $chain
flush chain inet klkbench $chain
add rule inet klkbench $chain tcp dport 80 accept comment "bench:$REQUEST:tcp/80"
add rule inet klkbench $chain tcp dport 443 accept comment "bench:$REQUEST:tcp/443"
add rule inet klkbench $chain drop comment "bench:$REQUEST:drop"
add element inet klkbench dest4 { $IPV4 : jump $chain }
NFT
}

firewall_down() {
  remote "$LAB_FW" "$LAB_FW_PORT" "nft -f -" <<NFT
delete element inet klkbench dest4 { $IPV4 }
delete chain inet klkbench $chain
NFT
}

inspect() {
  remote "$LAB_SRV" "$LAB_SRV_PORT" 'cat /etc/os-release /proc/cpuinfo /proc/meminfo && uname -nr && lsblk -J -b -d -o NAME,SIZE,TYPE,MODEL &&
    dpkg-query -W -f="\${Package}\t\${Version}\t\${Status}\n" && ss -ltnH && ss -lunH' | grep -q '^nginx'
}

case "$phase" in
  provision) jobs=(dns_up switch_up firewall_up inspect) ;;
  decommission) jobs=(firewall_down switch_down dns_down) ;;
  *) echo "floor: unknown phase $phase" >&2; exit 2 ;;
esac
case "$mode" in
  sequential) for j in "${jobs[@]}"; do "$j" >/dev/null; done ;;
  parallel)
    pids=()
    for j in "${jobs[@]}"; do "$j" >/dev/null & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p"; done ;;
  *) echo "floor: unknown mode $mode" >&2; exit 2 ;;
esac
