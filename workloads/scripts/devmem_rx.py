#!/usr/bin/env python3
# devmem_rx: what devmem TCP does to start receiving into device memory, again and again for DURATION
# seconds (and at least three times): a udmabuf from a sealed memfd (the dma-buf), a netlink socket of the
# netdev family, BIND_RX of the dma-buf to RX queue 0 of the NIC (with the tree's own ynl library and
# spec), then everything closed (closing the socket unbinds). Each cycle also binds with no queues, an error path the kernel must reject.
# On a NIC without the queue management API (every emulated NIC and netdevsim in 6.12) the bind fails with
# EOPNOTSUPP after the dma-buf was attached and mapped: netrig reports that as unsupported by the NIC, and
# its collectors still judge what the cycles left behind.
# With "tx" it binds the dma-buf for transmit instead (BIND_TX, Linux 6.16 and later): the netdev family of
# an older tree has no such operation, which the script says instead of binding.
#   usage: devmem_rx.py IFNAME DURATION [rx|tx]
import errno, fcntl, os, socket, struct, sys, time

YNL = "/root/ynl"
if not os.path.isdir(YNL):
    os.makedirs(YNL)
    os.system("tar -C " + YNL + " -xf /root/netrig/ynl")
sys.path.insert(0, YNL)  # cli.py, lib/ and specs/, whichever tree the kernel came from
from lib import YnlFamily, NlError  # noqa: E402

UDMABUF_CREATE = 0x40187542  # _IOW('u', 0x42, struct udmabuf_create { u32 memfd, flags; u64 offset, size; })
SIZE = 64 << 20
ifname, duration = sys.argv[1], float(sys.argv[2])
direction = sys.argv[3] if len(sys.argv) > 3 else "rx"
ifindex = socket.if_nametoindex(ifname)
spec = YNL + "/specs/netdev.yaml"
outcomes = {}
cycles = 0
end = time.monotonic() + duration
while cycles < 3 or time.monotonic() < end:  # at least three cycles, however slow the guest
    memfd = os.memfd_create("netrig-devmem", os.MFD_ALLOW_SEALING)
    os.ftruncate(memfd, SIZE)
    fcntl.fcntl(memfd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK)
    dev = os.open("/dev/udmabuf", os.O_RDWR)
    dmabuf = fcntl.ioctl(dev, UDMABUF_CREATE, bytearray(struct.pack("IIQQ", memfd, 0, 0, SIZE)), True)
    ynl = YnlFamily(spec, schema="")  # no jsonschema validation (not in the image)
    if direction == "tx" and "bind-tx" not in ynl.ops:
        print("devmem: this tree's netdev family has no bind-tx operation")
        sys.exit(0)
    binds = ((("empty", []), ("queue0", [{"id": 0, "type": "rx"}])) if direction == "rx"
             else (("tx", None), ("bad-fd", None)))
    for name, queues in binds:
        try:
            if direction == "rx":
                ynl.do("bind-rx", {"ifindex": ifindex, "fd": dmabuf, "queues": queues})
            else:
                # A TX binding takes no queues; a descriptor that is not a dma-buf must be refused.
                ynl.do("bind-tx", {"ifindex": ifindex, "fd": dmabuf if name == "tx" else memfd})
            result = "bound"
        except NlError as e:
            # EOPNOTSUPP and ENOTSUP are one number on Linux; Python names it ENOTSUP.
            result = "EOPNOTSUPP" if e.error == errno.EOPNOTSUPP else errno.errorcode.get(e.error, str(e.error))
        outcomes[(name, result)] = outcomes.get((name, result), 0) + 1
    ynl.sock.close()
    os.close(dmabuf)
    os.close(dev)
    os.close(memfd)
    cycles += 1

print(f"cycles={cycles}")
for (name, result), count in sorted(outcomes.items()):
    print(f"bind {name}: {result} x{count}")
if outcomes.get(("empty", "bound")):
    print("devmem: binding no queues succeeded; the kernel must reject it", file=sys.stderr)
    sys.exit(1)
if outcomes.get(("bad-fd", "bound")):
    print("devmem: binding a memfd that is not a dma-buf for TX succeeded; the kernel must reject it", file=sys.stderr)
    sys.exit(1)
if set(r for (n, r) in outcomes if n == "queue0") == {"EOPNOTSUPP"}:
    print(f"devmem: unsupported by NIC {ifname}: binding a dma-buf to RX queue 0 fails with EOPNOTSUPP")
if set(r for (n, r) in outcomes if n == "tx") == {"EOPNOTSUPP"}:
    print(f"devmem: unsupported by NIC {ifname}: binding a dma-buf for TX fails with EOPNOTSUPP")
