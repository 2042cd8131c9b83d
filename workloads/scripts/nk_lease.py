#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
nk_lease.py DURATION

Guest-side churn test for netkit RX queue leasing (Linux 7.2+).

Per cycle (modelled on tools/testing/selftests/net/nk_qlease.py in 7.2):
  1. netdevsim device with NSIM_QUEUES (3) combined queues, link up
  2. netkit pair over rtnetlink (ynl rt-link spec, RTM_NEWLINK
     kind=netkit, mode=l2 policy=forward peer-policy=forward,
     num-rx-queues=3); the primary ("host") gets an explicit name, the
     peer ("guest") is the kernel's nk%d and is found via iflink
  3. guest moved into a private netns in which init_net has nsid 0,
     host/guest/nsim up
  4. inside the netns: netdev queue-create {ifindex: guest, type: rx,
     lease: {ifindex: nsim, queue: {id: q, type: rx}, netns-id: 0}}
     for q = 1, 2 (expect netkit queue ids 1, 2)
  5. checks: queue-get on the guest (inside the netns) shows no "lease";
     queue-get dump of the guest has 1 + leases RX queues; queue-get on
     nsim (init_net) shows lease {ifindex: guest, queue: {id, type: rx},
     netns-id}; nsim queue 0 has no lease
  6. traffic: skipped (nk_qlease.py sends none; the hw variant needs
     io_uring zcrx, a remote host and flow steering)
  7. teardown, alternating:
       odd cycles  "virt-first": ip link del <host>, the nsim queues show no
                   lease any more, then del_device of the nsim
       even cycles "phys-first": del_device of the nsim WITH the leases in
                   place; the kernel (netkit notifier) deletes the pair
  8. nothing left: nsim sysfs dir gone, host/guest gone (both netns), the
     netkit link count back to its baseline

Feature-missing lines (exit 0):
  netkit: this kernel has no netkit
  netkit: this kernel's netdev family has no queue-create
Any other failure: "netkit: FAIL op=<op> errno=<NAME>(<n>) ..." and exit 1.

Environment (for testing only): NK_YNL_DIR (default /root/ynl),
NK_SPEC_DIR (default $NK_YNL_DIR/specs).
"""

import ctypes
import errno
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

YNL_DIR = os.environ.get("NK_YNL_DIR", "/root/ynl")
SPEC_DIR = os.environ.get("NK_SPEC_DIR", os.path.join(YNL_DIR, "specs"))
sys.path.insert(0, YNL_DIR)

MSG_NO_NETKIT = "netkit: this kernel has no netkit"
MSG_NO_QCREATE = "netkit: this kernel's netdev family has no queue-create"

NSIM_QUEUES = 3            # netdevsim combined queues (>= 2 required)
LEASE_QUEUES = (1, 2)      # nsim RX queues leased each cycle; 0 stays unleased
NK_RXQUEUES = 1 + len(LEASE_QUEUES)   # netkit num-rx-queues (real starts at 1)

NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
CLONE_NEWNET = 0x40000000

# Attribute/op names used below; validate.py checks every one of them
# against the specs.
NETKIT_DATA = {"mode": "l2", "policy": "forward", "peer-policy": "forward"}


class Fail(Exception):
    def __init__(self, op, err=None, detail=""):
        super().__init__(op)
        self.op = op
        self.err = err
        self.detail = detail

    def line(self):
        if self.err is None:
            e = "errno=?"
        else:
            e = "errno=%s(%d)" % (errno.errorcode.get(self.err, "E?"), self.err)
        s = "netkit: FAIL op=%s %s" % (self.op, e)
        if self.detail:
            s += " " + self.detail
        return s


def nl_fail(op, exc):
    """Fail from a ynl NlError (exc.error is the positive errno)."""
    err = getattr(exc, "error", None)
    return Fail(op, err, extack_msg(exc))


def extack_msg(exc):
    nl_msg = getattr(exc, "nl_msg", None)
    ext = getattr(nl_msg, "extack", None) or {}
    parts = []
    if ext.get("msg"):
        parts.append("extack=%r" % ext["msg"])
    for k in ("bad-attr", "miss-type", "miss-nest"):
        if k in ext:
            parts.append("%s=%s" % (k, ext[k]))
    return " ".join(parts)


def log(s):
    print(s, flush=True)


# --------------------------------------------------------------------------
# request builders (the exact dicts sent; also used by validate.py)

def req_netkit_newlink(host_name, rxqueues):
    # nk_qlease.py:48-62 plus an explicit primary name
    return {
        "ifname": host_name,
        "linkinfo": {
            "kind": "netkit",
            "data": dict(NETKIT_DATA),
        },
        "num-rx-queues": rxqueues,
    }


def req_queue_create(guest_ifindex, phys_ifindex, phys_queue, netns_id):
    # nk_qlease.py:122-132
    lease = {
        "ifindex": phys_ifindex,
        "queue": {"id": phys_queue, "type": "rx"},
    }
    if netns_id is not None:
        lease["netns-id"] = netns_id
    return {"ifindex": guest_ifindex, "type": "rx", "lease": lease}


def req_queue_get(ifindex, qid):
    # nk_qlease.py:136-138
    return {"ifindex": ifindex, "id": qid, "type": "rx"}


def req_queue_dump(ifindex):
    return {"ifindex": ifindex}


# --------------------------------------------------------------------------
# spec checks (no kernel involved)

def find_spec(*names):
    for n in names:
        p = os.path.join(SPEC_DIR, n)
        if os.path.exists(p):
            return p
    raise Fail("load-spec %s/%s" % (SPEC_DIR, names[0]), errno.ENOENT)


def load_spec(path):
    from lib import SpecFamily    # pylint: disable=import-outside-toplevel
    try:
        return SpecFamily(path, "")
    except Exception as e:        # pylint: disable=broad-except
        raise Fail("load-spec %s" % path, None, repr(e)) from e


def spec_has_netkit(spec):
    """rt-link spec knows kind netkit with the attributes we send."""
    yaml = spec.yaml
    sets = {s["name"]: s for s in yaml.get("attribute-sets", [])}
    nk = sets.get("linkinfo-netkit-attrs")
    if nk is None:
        return False
    names = {a["name"] for a in nk.get("attributes", [])}
    if not set(NETKIT_DATA).issubset(names):
        return False
    for sm in yaml.get("sub-messages", []):
        if sm.get("name") != "linkinfo-data-msg":
            continue
        for fmt in sm.get("formats", []):
            if fmt.get("value") == "netkit" and \
               fmt.get("attribute-set") == "linkinfo-netkit-attrs":
                return True
    return False


def spec_has_queue_create(spec):
    if "queue-create" not in spec.ops:
        return False
    # the attributes we use must be there too (7.2 netdev.yaml:309-357,
    # 549-575, 844-858)
    sets = spec.attr_sets
    try:
        q = sets["queue"]
        lease = sets["lease"]
        qid = sets["queue-id"]
    except KeyError:
        return False
    return all(n in q.attrs for n in ("id", "ifindex", "type", "lease")) and \
        all(n in lease.attrs for n in ("ifindex", "queue", "netns-id")) and \
        all(n in qid.attrs for n in ("id", "type"))


# --------------------------------------------------------------------------
# kernel probe: does the running kernel's "netdev" genl family have the op?

def _nl_msgs(buf):
    off = 0
    while off + 16 <= len(buf):
        ln, typ, _flags, _seq, _pid = struct.unpack_from("=IHHII", buf, off)
        if ln < 16:
            break
        yield typ, buf[off + 16:off + ln]
        off += (ln + 3) & ~3


def _nl_attrs(buf):
    off = 0
    while off + 4 <= len(buf):
        ln, typ = struct.unpack_from("=HH", buf, off)
        if ln < 4:
            break
        yield typ & 0x3fff, buf[off + 4:off + ln]
        off += (ln + 3) & ~3


def genl_family_op_ids(family):
    """Set of cmd ids the kernel's genl family has, None if no such family."""
    GENL_ID_CTRL, CTRL_CMD_GETFAMILY = 0x10, 3
    CTRL_ATTR_FAMILY_NAME, CTRL_ATTR_OPS, CTRL_ATTR_OP_ID = 2, 6, 1
    name = family.encode() + b"\0"
    attr = struct.pack("=HH", 4 + len(name), CTRL_ATTR_FAMILY_NAME) + name
    attr += b"\0" * ((4 - len(attr) % 4) % 4)
    payload = struct.pack("=BBH", CTRL_CMD_GETFAMILY, 1, 0) + attr
    seq = random.randint(1, 1 << 30)
    msg = struct.pack("=IHHII", 16 + len(payload), GENL_ID_CTRL,
                      0x1 | 0x4, seq, 0) + payload        # REQUEST|ACK
    ops = set()
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16) as s:
        s.settimeout(5)
        s.send(msg)
        while True:
            buf = s.recv(65536)
            for typ, body in _nl_msgs(buf):
                if typ == 2:                               # NLMSG_ERROR
                    err = struct.unpack_from("=i", body, 0)[0]
                    if err == 0:
                        return ops
                    if -err == errno.ENOENT:
                        return None
                    raise OSError(-err, os.strerror(-err))
                if typ != GENL_ID_CTRL:
                    continue
                for at, av in _nl_attrs(body[4:]):
                    if at != CTRL_ATTR_OPS:
                        continue
                    for _idx, ent in _nl_attrs(av):
                        for st, sv in _nl_attrs(ent):
                            if st == CTRL_ATTR_OP_ID and len(sv) >= 4:
                                ops.add(struct.unpack_from("=I", sv)[0])


# --------------------------------------------------------------------------
# helpers: ip(8), sysfs, netns

def errno_from_text(text):
    """ip(8) prints strerror(): 'RTNETLINK answers: Operation not supported'."""
    if "Cannot find device" in text:        # iproute2 name lookup
        return errno.ENODEV
    for n in errno.errorcode:
        if os.strerror(n) in text:
            return n
    return None


def sh(args, op=None, ns=None, check=True):
    cmd = ["ip"] + (["-n", ns] if ns else []) + list(args)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, check=False)
    if check and p.returncode != 0:
        err = p.stderr.strip()
        raise Fail(op or "'%s'" % " ".join(cmd), errno_from_text(err),
                   "rc=%d stderr=%r" % (p.returncode, err))
    return p


def link_exists(name, ns=None):
    return sh(["link", "show", "dev", name], ns=ns, check=False).returncode == 0


def links_json(ns=None):
    p = sh(["-d", "-j", "link", "show"], ns=ns, op="ip -d -j link show")
    try:
        return json.loads(p.stdout or "[]")
    except ValueError as e:
        raise Fail("ip -d -j link show", None, "bad json: %s" % e) from e


def netkit_links(ns=None):
    return [lnk for lnk in links_json(ns)
            if lnk.get("linkinfo", {}).get("info_kind") == "netkit"]


def link_by_name(name, ns=None):
    p = sh(["-d", "-j", "link", "show", "dev", name], ns=ns,
           op="ip link show dev %s" % name)
    return json.loads(p.stdout)[0]


def wait_until(cond, timeout=2.0, interval=0.05):
    # nk_qlease.py:32-37
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def read_int(path):
    with open(path, encoding="ascii") as f:
        return int(f.read().strip())


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise Fail("setns", e)


class NetNSEnter:
    """Same as selftests/net/lib/py/netns.py:110-122 (python 3.11 has no
    os.setns). Sockets opened inside stay bound to that netns."""

    def __init__(self, name):
        self.path = "/run/netns/" + name
        self.saved = None

    def __enter__(self):
        self.saved = open("/proc/thread-self/ns/net", encoding="ascii")
        with open(self.path, encoding="ascii") as f:
            _setns(f.fileno())
        return self

    def __exit__(self, *exc):
        _setns(self.saved.fileno())
        self.saved.close()


class Nsim:
    BUS = "/sys/bus/netdevsim"

    def __init__(self, queues):
        if not os.path.exists(self.BUS):
            subprocess.run(["modprobe", "netdevsim"], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not os.path.exists(self.BUS):
            raise Fail("modprobe netdevsim", errno.ENOENT,
                       "no %s (CONFIG_NETDEVSIM)" % self.BUS)
        self.removed = False
        for _ in range(50):
            addr = random.randrange(1, 1 << 15)
            try:
                self._write("new_device", "%u 1 %u" % (addr, queues))
                break
            except OSError as e:
                if e.errno == errno.ENOSPC:     # id taken (ida_alloc_range)
                    continue
                raise Fail("netdevsim new_device", e.errno, str(e)) from e
        else:
            raise Fail("netdevsim new_device", errno.ENOSPC, "no free id")
        self.addr = addr
        self.dir = "%s/devices/netdevsim%u" % (self.BUS, addr)
        if not wait_until(lambda: len(self._ifnames()) == 1, timeout=5):
            raise Fail("netdevsim new_device", errno.ETIMEDOUT,
                       "no netdev under %s/net" % self.dir)
        if shutil.which("udevadm"):
            subprocess.run(["udevadm", "settle", "-t", "10"], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ifname = self._ifnames()[0]
        self.ifindex = link_by_name(self.ifname)["ifindex"]

    def _write(self, f, val):
        with open(os.path.join(self.BUS, f), "w", encoding="ascii") as fp:
            fp.write(val)

    def _ifnames(self):
        try:
            return sorted(os.listdir(self.dir + "/net"))
        except OSError:
            return []

    DEL_TIMEOUT = 30

    def remove(self):
        """del_device in a child with a timeout: while a lease exists the
        lease holds a reference on the netdevsim netdev
        (netdev_rx_queue.c:13-23), so if the netkit notifier does not drop
        it, unregister blocks in netdev_wait_allrefs() forever."""
        if self.removed:
            return
        self.removed = True     # never retry (a hung writer stays in D state)
        code = ("import sys\n"
                "try:\n"
                "    open(sys.argv[1], 'w').write(sys.argv[2])\n"
                "except OSError as e:\n"
                "    sys.exit(e.errno or 255)\n")
        try:
            p = subprocess.run([sys.executable, "-c", code,
                                os.path.join(self.BUS, "del_device"),
                                "%u" % self.addr],
                               timeout=self.DEL_TIMEOUT, check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except subprocess.TimeoutExpired as e:
            raise Fail("netdevsim del_device(%u)" % self.addr, errno.ETIMEDOUT,
                       "write still blocked after %ds (netdev refcount leak? "
                       "see dmesg 'waiting for ... to become free')" %
                       self.DEL_TIMEOUT) from e
        if p.returncode != 0:
            raise Fail("netdevsim del_device(%u)" % self.addr,
                       p.returncode if p.returncode in errno.errorcode else None,
                       p.stderr.decode(errors="replace").strip())

    def gone(self):
        return not os.path.exists(self.dir)


# --------------------------------------------------------------------------

class Run:
    def __init__(self, YnlFamily, NlError, rt_spec, nd_spec, qcreate_known):
        self.YnlFamily = YnlFamily
        self.NlError = NlError
        self.rt_spec = rt_spec
        self.nd_spec = nd_spec
        self.qcreate_known = qcreate_known   # kernel op list said "present"
        self.pid = os.getpid()
        self.ns = "nrnk%d" % self.pid
        self.init_alias = "nrnk%di" % self.pid
        self.ns_made = False
        self.alias_made = False
        self.rtnl = YnlFamily(rt_spec, schema="")
        self.netdev = YnlFamily(nd_spec, schema="")
        # best-effort cleanup state
        self.cur_nsim = None
        self.cur_host = None
        self.baseline_nk = 0
        self.netkit_known = False

    # -- rtnetlink --------------------------------------------------------
    def newlink_netkit(self, host_name, rxqueues):
        try:
            self.rtnl.newlink(req_netkit_newlink(host_name, rxqueues),
                              flags=[NLM_F_CREATE, NLM_F_EXCL])
        except self.NlError as e:
            if e.error in (errno.EOPNOTSUPP, errno.ENOENT) and \
               not self.netkit_known:
                # rtnetlink.c:4044-4046 __rtnl_newlink: !ops ->
                # "Unknown device type", -EOPNOTSUPP
                raise NoFeature(MSG_NO_NETKIT) from e
            raise nl_fail("rt-link newlink(kind=netkit)", e) from e
        self.netkit_known = True    # later EOPNOTSUPPs are real failures

    def create_netkit(self, host_name, rxqueues):
        self.newlink_netkit(host_name, rxqueues)
        self.cur_host = host_name
        host = link_by_name(host_name)
        # IFLA_LINK = netkit_get_iflink() = the peer's ifindex; ip(8) prints
        # it as "link" (name) when the peer is in the same netns
        peer_name = host.get("link")
        if peer_name:
            peer = [link_by_name(peer_name)]
        else:
            peer = [lnk for lnk in netkit_links()
                    if lnk["ifindex"] == host.get("link_index")]
        if len(peer) != 1 or peer[0]["ifindex"] == host["ifindex"]:
            raise Fail("find netkit peer of %s" % host_name, errno.ENODEV,
                       "ip -j: %r" % (host,))
        peer = peer[0]
        for lnk in (host, peer):
            kind = lnk.get("linkinfo", {}).get("info_kind")
            nrx = lnk.get("num_rx_queues", rxqueues)
            if kind != "netkit" or nrx != rxqueues:
                raise Fail("netkit newlink result", None,
                           "%s kind=%r num_rx_queues=%r (want netkit, %d)" %
                           (lnk.get("ifname"), kind, nrx, rxqueues))
        return host_name, host["ifindex"], peer["ifname"], peer["ifindex"]

    def probe_netkit(self):
        name = "nkp%d" % (self.pid % 100000)
        self.newlink_netkit(name, 1)
        sh(["link", "del", "dev", name], op="ip link del dev %s (probe)" % name)

    # -- netns -------------------------------------------------------------
    def setup_netns(self):
        # nk_qlease.py:2047-2051 (main). The selftest attaches pid 1; we
        # attach our own pid: the netdevsim lives in *our* netns (bus.c
        # initial_net = current netns), which is init_net in the guest.
        sh(["netns", "add", self.ns])
        self.ns_made = True
        sh(["netns", "attach", self.init_alias, str(self.pid)])
        self.alias_made = True
        sh(["netns", "set", self.init_alias, "0"], ns=self.ns)
        sh(["link", "set", "lo", "up"], ns=self.ns)

    def teardown_netns(self):
        if self.ns_made:
            sh(["netns", "del", self.ns], check=False)
            self.ns_made = False
        if self.alias_made:
            sh(["netns", "del", self.init_alias], check=False)
            self.alias_made = False

    # -- netdev genl --------------------------------------------------------
    def queue_create(self, nl, req):
        try:
            return nl.queue_create(req)
        except self.NlError as e:
            if e.error == errno.EOPNOTSUPP and not extack_msg(e) and \
               not self.qcreate_known:
                # genetlink: unknown cmd -> -EOPNOTSUPP, no extack
                raise NoFeature(MSG_NO_QCREATE) from e
            raise nl_fail("netdev queue-create", e) from e

    def queue_get(self, nl, ifindex, qid):
        try:
            return nl.queue_get(req_queue_get(ifindex, qid))
        except self.NlError as e:
            raise nl_fail("netdev queue-get(ifindex=%d id=%d)" % (ifindex, qid),
                          e) from e

    def queue_dump(self, nl, ifindex):
        try:
            return nl.queue_get(req_queue_dump(ifindex), dump=True)
        except self.NlError as e:
            raise nl_fail("netdev queue-get dump(ifindex=%d)" % ifindex, e) from e

    # -- one cycle ----------------------------------------------------------
    def cycle(self, cyc):
        teardown = "virt-first" if cyc % 2 == 1 else "phys-first"

        # nk_qlease.py:107-110
        nsim = Nsim(NSIM_QUEUES)
        self.cur_nsim = nsim
        sh(["link", "set", "dev", nsim.ifname, "up"])

        # nk_qlease.py:112-117
        host_name = "nkh%dc%d" % (self.pid % 10000, cyc % 100000)
        host, host_idx, guest, _ = self.create_netkit(host_name, NK_RXQUEUES)
        sh(["link", "set", "dev", guest, "netns", self.ns])
        sh(["link", "set", "dev", host, "up"])
        sh(["link", "set", "dev", guest, "up"], ns=self.ns)
        g = link_by_name(guest, ns=self.ns)
        guest_idx = g["ifindex"]
        # init_net as seen from self.ns; set to 0 in setup_netns
        nsid = g.get("link_netnsid", 0)

        # nk_qlease.py:120-133 (lease from inside the guest netns)
        nk_ids = []
        with NetNSEnter(self.ns):
            nl = self.YnlFamily(self.nd_spec, schema="")
            try:
                for k, pq in enumerate(LEASE_QUEUES, start=1):
                    r = self.queue_create(
                        nl, req_queue_create(guest_idx, nsim.ifindex, pq, nsid))
                    if not r or "id" not in r:
                        raise Fail("netdev queue-create", None,
                                   "reply without id: %r" % (r,))
                    if r["id"] != k:
                        raise Fail("netdev queue-create", None,
                                   "netkit queue id %r, expected %d" % (r["id"], k))
                    nk_ids.append(r["id"])
                # nk_qlease.py:579-592: virtual side shows no lease info
                for nkq in [0] + nk_ids:
                    qi = self.queue_get(nl, guest_idx, nkq)
                    if "lease" in qi or qi.get("ifindex") != guest_idx or \
                       qi.get("id") != nkq:
                        raise Fail("netdev queue-get(guest)", None,
                                   "unexpected %r" % (qi,))
                rx = [q for q in self.queue_dump(nl, guest_idx)
                      if q.get("type") == "rx"]
                if len(rx) != 1 + len(nk_ids):
                    raise Fail("netdev queue-get dump(guest)", None,
                               "%d rx queues, expected %d" % (len(rx), 1 + len(nk_ids)))
            finally:
                nl.close()

        # nk_qlease.py:135-141, 290-308, 938-949: physical side shows lease
        for pq, nkq in zip(LEASE_QUEUES, nk_ids):
            qi = self.queue_get(self.netdev, nsim.ifindex, pq)
            lease = qi.get("lease")
            ok = lease is not None and lease.get("ifindex") == guest_idx and \
                lease.get("queue", {}).get("id") == nkq and \
                lease.get("queue", {}).get("type") == "rx" and \
                "netns-id" in lease
            if not ok:
                raise Fail("netdev queue-get(nsim q%d)" % pq, None,
                           "lease not visible: %r" % (qi,))
        qi = self.queue_get(self.netdev, nsim.ifindex, 0)
        if "lease" in qi:
            raise Fail("netdev queue-get(nsim q0)", None, "unexpected lease %r" % (qi,))

        # traffic: nk_qlease.py has none; skipped.

        if teardown == "virt-first":
            # nk_qlease.py:630-637 / 1096-1102
            sh(["link", "del", "dev", host])
            self.cur_host = None
            for pq in LEASE_QUEUES:
                qi = self.queue_get(self.netdev, nsim.ifindex, pq)
                if "lease" in qi:
                    raise Fail("netdev queue-get(nsim q%d) after netkit del" % pq,
                               None, "lease still there: %r" % (qi,))
            nsim.remove()
        else:
            # nk_qlease.py:143-146 (test_remove_phys): lower dev goes first
            nsim.remove()
            if not wait_until(lambda: not link_exists(host)):
                raise Fail("netkit auto-delete after nsim del_device", None,
                           "%s still exists" % host)
            self.cur_host = None
        self.cur_nsim = None

        # nothing remains
        left = []
        if not nsim.gone():
            left.append(nsim.dir)
        if link_exists(nsim.ifname):
            left.append(nsim.ifname)
        if link_exists(host):
            left.append(host)
        if link_exists(guest, ns=self.ns):
            left.append("%s@%s" % (guest, self.ns))
        n_init = len(netkit_links())
        n_ns = len(netkit_links(ns=self.ns))
        if n_init != self.baseline_nk or n_ns != 0:
            left.append("netkit links init=%d(baseline %d) ns=%d" %
                        (n_init, self.baseline_nk, n_ns))
        if left:
            raise Fail("teardown(%s) leftovers" % teardown, None, ", ".join(left))

        log("cycle %d: nsim=netdevsim%d/%s(ifindex %d, %d queues) "
            "netkit=%s(%d)/%s(%d in %s, nsid %s) leased nsim rxq %s -> netkit rxq %s "
            "visible=ok traffic=skipped teardown=%s clean=ok" %
            (cyc, nsim.addr, nsim.ifname, nsim.ifindex, NSIM_QUEUES,
             host, host_idx, guest, guest_idx, self.ns, nsid,
             list(LEASE_QUEUES), nk_ids, teardown))
        return len(nk_ids)

    def cleanup(self):
        if self.cur_host:
            sh(["link", "del", "dev", self.cur_host], check=False)
            self.cur_host = None
        if self.cur_nsim:
            try:
                self.cur_nsim.remove()
            except Fail:
                pass
            self.cur_nsim = None
        self.teardown_netns()


class NoFeature(Exception):
    pass


def _sigterm(_signum, _frame):
    raise SystemExit(143)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: %s DURATION\n" % argv[0])
        return 2
    try:
        duration = float(argv[1])
    except ValueError:
        sys.stderr.write("usage: %s DURATION (seconds)\n" % argv[0])
        return 2
    signal.signal(signal.SIGTERM, _sigterm)

    run = None
    try:
        try:
            # pylint: disable=import-outside-toplevel
            from lib import YnlFamily, NlError
        except ImportError as e:
            raise Fail("import ynl lib from %s" % YNL_DIR, errno.ENOENT, str(e)) from e
        try:
            from lib import YnlException    # not exported by <= 6.13 libs
        except ImportError:
            YnlException = Exception        # pylint: disable=invalid-name

        # 1. specs (no kernel involved)
        rt_spec = find_spec("rt-link.yaml", "rt_link.yaml")
        nd_spec = find_spec("netdev.yaml")
        if not spec_has_netkit(load_spec(rt_spec)):
            raise NoFeature(MSG_NO_NETKIT)
        nd = load_spec(nd_spec)
        if not spec_has_queue_create(nd):
            raise NoFeature(MSG_NO_QCREATE)
        qc_value = nd.ops["queue-create"].req_value

        if os.geteuid() != 0:
            raise Fail("precheck (must be root)", errno.EPERM)

        # 2. kernel: netdev genl family and its op list (nlctrl)
        try:
            ops = genl_family_op_ids("netdev")
        except OSError as e:
            ops = set()     # probe failed; fall back to queue-create's errno
            sys.stderr.write("netkit: note: nlctrl probe failed: %s\n" % e)
        if ops is None or (ops and qc_value not in ops):
            raise NoFeature(MSG_NO_QCREATE)

        try:
            run = Run(YnlFamily, NlError, rt_spec, nd_spec, bool(ops))
        except YnlException as e:
            if "not supported by the kernel" in str(e):
                raise NoFeature(MSG_NO_QCREATE) from e
            raise Fail("ynl init", None, repr(e)) from e

        # 3. kernel: netkit link kind (throw-away pair)
        run.probe_netkit()
        run.baseline_nk = len(netkit_links())

        run.setup_netns()
        start = time.monotonic()
        cycles = leases = 0
        while cycles < 2 or time.monotonic() - start < duration:
            cycles += 1
            leases += run.cycle(cycles)
        run.cleanup()
        log("cycles=%d leases=%d" % (cycles, leases))
        return 0
    except NoFeature as e:
        if run:
            run.cleanup()
        log(str(e))
        return 0
    except Fail as e:
        if run:
            run.cleanup()
        log(e.line())
        return 1
    except Exception as e:      # pylint: disable=broad-except
        if run:
            run.cleanup()
        err = getattr(e, "errno", None)
        if not isinstance(err, int):
            err = getattr(e, "error", None)
        log(Fail("unexpected-%s" % type(e).__name__,
                 err if isinstance(err, int) else None, repr(e)).line())
        return 1
    finally:
        # SystemExit/KeyboardInterrupt: still leave the guest clean
        if run:
            run.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
