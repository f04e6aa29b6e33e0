#!/usr/bin/env bash
# A real two-host cluster on one machine: the coordinator and one teacher node in separate network namespaces,
# joined by a veth pair, talking over the veth addresses with mutual TLS (certificates of a CA made here with
# openssl); the run directory is shared through the file system. Needs root (ip netns) and a Release build.
#
#   scripts/netns-cluster.sh up                      make the namespaces and the link
#   scripts/netns-cluster.sh down                    remove them (and everything in them)
#   scripts/netns-cluster.sh run RUN_DIR [args...]   up, a whole run (args go to both nodes: --preset, -D ...), down
#
# Environment: DISTILL_NETNS_PREFIX (default distill) names the namespaces <prefix>-coord and <prefix>-teach;
# DISTILL_NETNS_SUBNET (default 10.231.0) is the /24 of the link (.1 coordinator, .2 teacher).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP_DLL="$ROOT/Pipeline/bin/Release/net10.0/distill.dll"
PREFIX="${DISTILL_NETNS_PREFIX:-distill}"
NS_COORD="$PREFIX-coord" NS_TEACH="$PREFIX-teach"
SUBNET="${DISTILL_NETNS_SUBNET:-10.231.0}"
IP_COORD="$SUBNET.1" IP_TEACH="$SUBNET.2"
VETH_COORD="${PREFIX:0:8}c0" VETH_TEACH="${PREFIX:0:8}t0"

die() { echo "netns-cluster: $*" >&2; exit 2; }

up() {
  [ "$(id -u)" = 0 ] || die "needs root (ip netns add)"
  ip netns add "$NS_COORD" || die "cannot create network namespace $NS_COORD"
  ip netns add "$NS_TEACH" || { ip netns del "$NS_COORD"; die "cannot create network namespace $NS_TEACH"; }
  ip link add "$VETH_COORD" type veth peer name "$VETH_TEACH"
  ip link set "$VETH_COORD" netns "$NS_COORD"
  ip link set "$VETH_TEACH" netns "$NS_TEACH"
  ip -n "$NS_COORD" addr add "$IP_COORD/24" dev "$VETH_COORD"
  ip -n "$NS_TEACH" addr add "$IP_TEACH/24" dev "$VETH_TEACH"
  for ns in "$NS_COORD" "$NS_TEACH"; do ip -n "$ns" link set lo up; done
  ip -n "$NS_COORD" link set "$VETH_COORD" up
  ip -n "$NS_TEACH" link set "$VETH_TEACH" up
  echo "netns-cluster: $NS_COORD ($IP_COORD) <-> $NS_TEACH ($IP_TEACH)"
}

down() {
  ip netns del "$NS_COORD" 2>/dev/null || true   # the veth pair goes with its namespaces
  ip netns del "$NS_TEACH" 2>/dev/null || true
}

# certs DIR: a CA and one certificate per node (ECDSA P-256, SAN = the node's veth address, server and client use).
certs() {
  local dir="$1" node ip
  mkdir -p "$dir" && chmod 700 "$dir"
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$dir/ca.key" -days 2 -subj "/CN=distill netns CA" -out "$dir/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  for node in coordinator:"$IP_COORD" teacher:"$IP_TEACH"; do
    ip="${node#*:}" node="${node%%:*}"
    openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$node.key" 2>/dev/null
    openssl req -new -key "$dir/$node.key" -subj "/CN=distill $node" -out "$dir/$node.csr" 2>/dev/null
    printf 'subjectAltName=IP:%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' "$ip" >"$dir/$node.ext"
    openssl x509 -req -in "$dir/$node.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
      -extfile "$dir/$node.ext" -out "$dir/$node.crt" 2>/dev/null
  done
  chmod 600 "$dir"/*.key
}

run() {
  [ $# -ge 1 ] || die "run needs a run directory"
  local run_dir="$1"; shift
  [ -f "$APP_DLL" ] || die "$APP_DLL does not exist; build first (./run.sh test or dotnet build Pipeline.sln -c Release)"
  TLS_DIR="$(mktemp -d /tmp/distill-netns-tls.XXXXXX)"
  trap 'kill ${TEACHER:-} 2>/dev/null || true; down; rm -rf "$TLS_DIR"' EXIT
  up
  certs "$TLS_DIR"
  mkdir -p "$run_dir"
  run_dir="$(cd "$run_dir" && pwd)"
  tls_of() { echo -D "distill.cluster.tls.ca=$TLS_DIR/ca.crt" -D "distill.cluster.tls.certificate=$TLS_DIR/$1.crt" -D "distill.cluster.tls.key=$TLS_DIR/$1.key"; }
  # shellcheck disable=SC2046
  ip netns exec "$NS_COORD" dotnet "$APP_DLL" node --role coordinator --run "$run_dir" "$@" \
    -D "distill.cluster.host=$IP_COORD" $(tls_of coordinator) &
  local coordinator=$!
  while [ ! -s "$run_dir/cluster/seed" ]; do
    kill -0 "$coordinator" 2>/dev/null || { wait "$coordinator" || true; die "the coordinator exited before the cluster was up"; }
    sleep 0.2
  done
  local seed; seed="$(cat "$run_dir/cluster/seed")"
  echo "netns-cluster: teacher node in $NS_TEACH joining $seed"
  # shellcheck disable=SC2046
  ip netns exec "$NS_TEACH" dotnet "$APP_DLL" node --role teacher --seed "$seed" --index 0 --run "$run_dir" "$@" \
    -D "distill.cluster.host=$IP_TEACH" $(tls_of teacher) >"$run_dir/logs/node-teacher-0.log" 2>&1 &
  TEACHER=$!
  local status=0
  wait "$coordinator" || status=$?
  wait "$TEACHER" 2>/dev/null || true
  echo "netns-cluster: the coordinator exited ($status)"
  return "$status"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  run) shift; run "$@" ;;
  *) die "usage: $0 up | down | run RUN_DIR [args...]" ;;
esac
