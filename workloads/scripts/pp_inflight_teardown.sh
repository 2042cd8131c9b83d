#!/bin/sh
# pp_inflight_teardown: pages of the receiving NIC's page pool sit in a socket that never reads when that
# NIC is torn down: its interface taken down (mode down) or its driver unbound from its device (mode
# unbind). Then the socket is closed, so the pages come back to a pool that is already destroyed; the NIC
# is brought back and it all repeats for DURATION seconds (at least twice). This is the path of the
# page_pool DMA-tracking work: run it behind the virtual IOMMU with DMA API debugging (--viommu, config
# debug) to have every late unmap checked. Values arrive as arguments, never as shell text.
#   usage: pp_inflight_teardown.sh MODE PEER_NS PEER_IF PEER_IP PEER_MAC DURATION
mode=$1 ns=$2 dev=$3 peer=$4 mac=$5 duration=$6
port=5399
in_ns() { ip netns exec "$ns" "$@"; }
now() { read -r up _ < /proc/uptime; echo "${up%.*}"; }
find_if() { for d in /sys/class/net/*; do [ "$(cat "$d/address")" = "$1" ] && { basename "$d"; return 0; }; done; return 1; }
# page_pool state over netlink, from both namespaces: netlink lists a pool in the namespace of its
# netdev, and a pool made before its netdev moved into the peer namespace (7.x's virtio-net makes its
# pools at probe) stays behind, on the first namespace's loopback, with its ifindex hidden.
# A dump that fails is not zero pages: the run stops and says so (its collectors still judge the kernel).
[ -f /root/ynl/cli.py ] || { echo "no ynl CLI in the guest: the in-flight count cannot be read" >&2; exit 2; }
ynl() { python3 /root/ynl/cli.py --no-schema --spec /root/ynl/specs/netdev.yaml "$@"; }
# The same in the peer namespace (ip netns exec runs a program, not a shell function).
ynl_ns() { in_ns python3 /root/ynl/cli.py --no-schema --spec /root/ynl/specs/netdev.yaml "$@"; }
pools_json() {
  here=$(ynl --dump page-pool-get --output-json) || { echo "ynl page-pool-get failed" >&2; return 2; }
  there=$(ynl_ns --dump page-pool-get --output-json) ||
    { echo "ynl page-pool-get failed in namespace $ns" >&2; return 2; }
  printf '%s\n%s\n' "$here" "$there"
}
# Pages in flight of the pools that were destroyed (detach-time), in either namespace.
inflight() {
  dump=$(pools_json) || exit 2
  echo "$dump" | python3 -c 'import json,sys; print(sum(p.get("inflight", 0) for l in sys.stdin for p in json.loads(l) if "detach-time" in p))' ||
    { echo "ynl page-pool-get printed no JSON list: $dump" >&2; exit 2; }
}
driver=$(basename "$(in_ns readlink "/sys/class/net/$dev/device/driver")")
# The bus the device sits on: PCI for e1000e, igb and vmxnet3; virtio for virtio-net (its PCI function
# carries a virtio device, and virtio_net binds that).
bus=$(basename "$(in_ns readlink -f "/sys/class/net/$dev/device/subsystem")")
# virtio-net before 7.x has no page pool, so tears down nothing this workload is about: said, not passed. A pool is the device's by its ifindex or by the NAPI
# instances the device has (a pool left behind by a namespace move keeps its napi-id).
ifindex=$(in_ns cat "/sys/class/net/$dev/ifindex")
napis=$(ynl_ns --dump napi-get --json "{\"ifindex\": $ifindex}" --output-json) ||
  { echo "ynl napi-get failed in namespace $ns" >&2; exit 2; }
dump=$(pools_json) || exit 2
pools=$(echo "$dump" | python3 -c '
import json, sys
ifindex, napis = int(sys.argv[1]), {n["id"] for n in json.loads(sys.argv[2])}
print(sum(1 for l in sys.stdin for p in json.loads(l) if p.get("ifindex") == ifindex or p.get("napi-id") in napis))' "$ifindex" "$napis")
echo "pools=$pools on $dev (driver $driver)"
# Netlink lists only pools made with their netdev (6.12's vmxnet3 makes its pools without one, so they
# exist unlisted): the listing decides for virtio-net alone, whose pools are listed from 7.x on.
[ "$driver" != virtio_net ] || [ "${pools:-0}" -gt 0 ] || { echo "no page pool: $dev (driver $driver) has none in this kernel"; exit 0; }
case "$mode" in
  down) ;;
  unbind) [ -n "$driver" ] && [ "$driver" != "." ] || { echo "unsupported: $dev has no driver to unbind"; exit 0; } ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
end=$(( $(now) + duration ))
cycles=0 inflight_max=0 queued_max=0
while [ "$cycles" -lt 2 ] || [ "$(now)" -lt "$end" ]; do
  # Not through in_ns: $! must be the receiver itself (ip netns exec execs it), or killing it would leave
  # the socket, and the pages it holds, alive for good.
  ip netns exec "$ns" python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); c, _ = s.accept(); time.sleep(3600)' "$peer" "$port" &
  receiver=$!
  for i in $(seq 1 50); do in_ns ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.1; done
  head -c 16777216 /dev/zero | nc -N "$peer" "$port" >/dev/null 2>&1 &
  sender=$!
  queued=0
  for i in $(seq 1 50); do
    queued=$(in_ns ss -Htn state established "sport = :$port" | awk '{ print $1; exit }')
    [ "${queued:-0}" -gt 262144 ] && break
    sleep 0.2
  done
  [ "${queued:-0}" -gt "$queued_max" ] && queued_max=$queued
  device=$(basename "$(in_ns readlink "/sys/class/net/$dev/device")")
  case "$mode" in
    down) in_ns ip link set "$dev" down ;;
    unbind) echo "$device" > "/sys/bus/$bus/drivers/$driver/unbind" ;;
  esac
  pages=$(inflight) || { kill "$receiver" "$sender" 2>/dev/null; exit 2; }
  [ "${pages:-0}" -gt "$inflight_max" ] && inflight_max=$pages
  kill "$receiver" "$sender" 2>/dev/null
  wait "$receiver" "$sender" 2>/dev/null
  case "$mode" in
    down) in_ns ip link set "$dev" up ;;
    unbind)
      echo "$device" > "/sys/bus/$bus/drivers/$driver/bind"
      for i in $(seq 1 50); do new=$(find_if "$mac") && break; sleep 0.1; done
      ip link set "$new" down; ip link set "$new" name "$dev"; ip link set "$dev" netns "$ns"
      in_ns ip addr add "$peer/24" dev "$dev"; in_ns ip link set "$dev" up
      in_ns netrig-xdp "$dev" >/dev/null 2>&1 || true ;;
  esac
  for i in $(seq 1 30); do ping -q -c 1 -W 1 "$peer" >/dev/null 2>&1 && break; sleep 0.3; done
  cycles=$((cycles + 1))
done
echo "cycles=$cycles queued_max=$queued_max inflight_at_teardown_max=$inflight_max"
