#!/bin/sh
# pp_inflight_teardown: pages of the receiving NIC's page pool sit in a socket that never reads when that
# NIC is torn down: its interface taken down (mode down) or its driver unbound from the PCI device (mode
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
# Pages in flight of the pools netlink lists in the peer namespace that were destroyed (detach-time).
inflight() {
  in_ns python3 /root/ynl/tools/net/ynl/cli.py --no-schema --spec /root/ynl/Documentation/netlink/specs/netdev.yaml \
    --dump page-pool-get --output-json 2>/dev/null |
    python3 -c 'import json,sys; print(sum(p.get("inflight", 0) for p in json.load(sys.stdin) if "detach-time" in p))' 2>/dev/null || echo 0
}
driver=$(basename "$(in_ns readlink "/sys/class/net/$dev/device/driver")")
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
  pci=$(basename "$(in_ns readlink "/sys/class/net/$dev/device")")
  case "$mode" in
    down) in_ns ip link set "$dev" down ;;
    unbind) echo "$pci" > "/sys/bus/pci/drivers/$driver/unbind" ;;
  esac
  pages=$(inflight)
  [ "${pages:-0}" -gt "$inflight_max" ] && inflight_max=$pages
  kill "$receiver" "$sender" 2>/dev/null
  wait "$receiver" "$sender" 2>/dev/null
  case "$mode" in
    down) in_ns ip link set "$dev" up ;;
    unbind)
      echo "$pci" > "/sys/bus/pci/drivers/$driver/bind"
      for i in $(seq 1 50); do new=$(find_if "$mac") && break; sleep 0.1; done
      ip link set "$new" down; ip link set "$new" name "$dev"; ip link set "$dev" netns "$ns"
      in_ns ip addr add "$peer/24" dev "$dev"; in_ns ip link set "$dev" up
      in_ns netrig-xdp "$dev" >/dev/null 2>&1 || true ;;
  esac
  for i in $(seq 1 30); do ping -q -c 1 -W 1 "$peer" >/dev/null 2>&1 && break; sleep 0.3; done
  cycles=$((cycles + 1))
done
echo "cycles=$cycles queued_max=$queued_max inflight_at_teardown_max=$inflight_max"
