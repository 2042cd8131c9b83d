#!/bin/sh
# pp_churn: traffic into the peer end of a link while that end is taken down and up and its rings are
# resized, again and again, so its page pools are destroyed with pages still in flight (in the receiving
# socket) and created anew. Values arrive as arguments, never as shell text.
#   usage: pp_churn.sh PEER_NS PEER_IF PEER_IP DURATION
# In `pair` PEER_NS is empty and the peer end is in this guest's peer: not supported (netrig refuses).
ns=$1 dev=$2 peer=$3 duration=$4
in_ns() { ip netns exec "$ns" "$@"; }
iperf3 -c "$peer" -t "$duration" -f m >/tmp/pp_churn-iperf.out 2>&1 &
traffic=$!
cycles=0 resized=0 unsupported= size=256
while kill -0 "$traffic" 2>/dev/null; do
  in_ns ip link set "$dev" down
  if in_ns ethtool -G "$dev" rx "$size" >/dev/null 2>&1; then resized=$((resized + 1)); else unsupported="ethtool -G"; fi
  [ "$size" = 256 ] && size=512 || size=256
  in_ns ip link set "$dev" up
  cycles=$((cycles + 1))
  sleep 0.2
done
wait "$traffic"
status=$?
echo "cycles=$cycles resized=$resized${unsupported:+ unsupported=$unsupported}"
cat /tmp/pp_churn-iperf.out
# The traffic may be cut by a down at the wrong moment; what counts is what the kernel left behind.
exit 0
