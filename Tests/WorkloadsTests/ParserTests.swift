import Foundation
import Testing
@testable import NetrigCore
@testable import Workloads

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

@Suite struct KmemleakParserTests {
    // As 6.12 prints it (mm/kmemleak.c print_unreferenced), two reports.
    let report = """
    unreferenced object 0xffff888004a1c000 (size 1024):
      comm "ip", pid 231, jiffies 4294903829
      hex dump (first 32 bytes):
        00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
      backtrace (crc 6b2c0d3a):
        kmemleak_alloc+0x4e/0x90
        __kmalloc_cache_noprof+0x1b6/0x2d0
        nsim_dev_probe+0x2c/0x4b0
        really_probe+0xdb/0x340
        __driver_probe_device+0x78/0x110
        driver_probe_device+0x1f/0xa0
    unreferenced object 0xffff888004b2e800 (size 64):
      comm "swapper/0", pid 1, jiffies 4294892311
      backtrace (crc 1f2e3d4c):
        [<ffffffff812a3b4c>] kmalloc_trace+0x26/0x90
        [<ffffffff81c0ffee>] page_pool_create_percpu.constprop.0+0x3c/0x1a0 [netdevsim]
        [<ffffffff81c0ff00>] nsim_create_page_pool+0x40/0x90 [netdevsim]
    """

    @Test func parsesEachReport() {
        let leaks = KmemleakParser.parse(report, side: .patched)
        #expect(leaks.count == 2)
        #expect(leaks[0].size == 1024)
        #expect(leaks[0].comm == "ip")
        #expect(leaks[0].backtrace.first == "kmemleak_alloc+0x4e/0x90")
        #expect(leaks[1].backtrace.first == "kmalloc_trace+0x26/0x90", "addresses of older formats are stripped")
        #expect(leaks.allSatisfy { $0.side == .patched })
    }

    @Test func fingerprintsDropAllocatorFramesAndOffsets() {
        let leaks = KmemleakParser.parse(report, side: .baseline)
        #expect(leaks[0].fingerprint == "nsim_dev_probe < really_probe < __driver_probe_device < driver_probe_device")
        #expect(leaks[1].fingerprint == "page_pool_create_percpu < nsim_create_page_pool")
    }

    @Test func sameLeakOnAnotherKernelHasTheSameFingerprint() {
        let other = report.replacingOccurrences(of: "+0x2c/0x4b0", with: "+0x30/0x4c0")
            .replacingOccurrences(of: "__kmalloc_cache_noprof", with: "kmalloc_trace")
        #expect(KmemleakParser.parse(other, side: .patched)[0].fingerprint == KmemleakParser.parse(report, side: .baseline)[0].fingerprint)
    }

    @Test func emptyFileHasNoLeaks() {
        #expect(KmemleakParser.parse("", side: .baseline).isEmpty)
    }
}

@Suite struct SplatDetectorTests {
    let dmesg = """
    [    0.000000] Linux version 6.12.117
    [   12.345678] ------------[ cut here ]------------
    [   12.345679] WARNING: CPU: 1 PID: 231 at net/core/page_pool.c:1123 page_pool_release_retry+0x5a/0x1a0
    [   12.345680] Modules linked in:
    [   12.345681] CPU: 1 UID: 0 PID: 231 Comm: kworker/1:1 Not tainted 6.12.117 #1
    [   12.345682] Call Trace:
    [   12.345683]  <TASK>
    [   12.345684]  process_one_work+0x17b/0x330
    [   12.345685]  </TASK>
    [   12.345686] ---[ end trace 0000000000000000 ]---
    [   13.000000] virtio_net virtio1 nr0: renamed from eth1
    [   75.000000] page_pool_release_retry() stalled pool shutdown: id 7, 1 inflight 60 sec
    [   80.000000] BUG: kernel NULL pointer dereference, address: 0000000000000008
    """

    @Test func findsWarningsStallsAndBugs() {
        let splats = SplatDetector.detect(dmesg, side: .patched)
        #expect(splats.map(\.kind) == [.warning, .stalledPool, .bug])
        #expect(splats[0].text.contains("process_one_work"))
        #expect(splats[0].text.contains("end trace"))
        #expect(!splats[0].text.contains("renamed from"), "a report ends where unrelated lines start")
        #expect(splats[0].title == "WARNING: at net/core/page_pool.c:1123 page_pool_release_retry+0x…/0x…")
    }

    /// A serial console writes "\r\n": read from the console log, the same report gives the same splats, each
    /// title one line (found with a real oops, whose console title swallowed the whole boot).
    @Test func consoleLineEndingsGiveTheSameSplats() {
        let console = dmesg.replacingOccurrences(of: "\n", with: "\r\n")
        let fromConsole = SplatDetector.detect(console, side: .patched)
        let fromDmesg = SplatDetector.detect(dmesg, side: .patched)
        #expect(fromConsole.map(\.kind) == [.warning, .stalledPool, .bug])
        #expect(fromConsole.map(\.title) == fromDmesg.map(\.title))
        #expect(fromConsole.allSatisfy { !$0.title.contains("\n") && !$0.title.contains("\r") })
        #expect(console.lastLines(1) == ["[   80.000000] BUG: kernel NULL pointer dereference, address: 0000000000000008"])
    }

    @Test func theOOMKillerIsOneSplatWhoseTitleMatchesAcrossBoots() {
        let first = SplatDetector.detect("""
        [   25.101010] python3 invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0
        [   25.412345] Out of memory: Killed process 312 (python3) total-vm:1052436kB, anon-rss:900000kB, file-rss:4kB, UID:0 oom_score_adj:0
        """, side: .patched)
        let second = SplatDetector.detect("[   31.000001] Out of memory: Killed process 977 (python3) total-vm:1052440kB, anon-rss:899996kB",
                                          side: .baseline)
        #expect(first.map(\.kind) == [.oom])
        #expect(first.first?.title == "Out of memory: Killed process … (python3)")
        #expect(first.first?.title == second.first?.title)
    }

    @Test func cleanBootHasNoSplats() {
        #expect(SplatDetector.detect("[    0.000000] Linux version 6.12.117\n[    1.0] Run /sbin/netrig-init as init process\n", side: .baseline).isEmpty)
    }
}

@Suite struct WorkloadCatalogTests {
    @Test func builtInMsgZerocopyLoads() throws {
        let workload = try WorkloadCatalog(directory: repositoryRoot + "/workloads").load("msg_zerocopy")
        #expect(workload.topologies == [.loop, .pair])
        #expect(workload.nics.contains(.netdevsim))
        #expect(workload.programs.map(\.name) == ["msg_zerocopy"])
        #expect(workload.modes.map(\.name) == ["copy", "zerocopy"])
        #expect(workload.client.first == "{msg_zerocopy}")
        #expect(workload.metrics.first?.scale == 0.046875)
    }

    @Test func withoutANamedNICEachShippedWorkloadGetsTheNICItIsWrittenFor() throws {
        let catalog = WorkloadCatalog(directory: repositoryRoot + "/workloads")
        // The throughput workloads measure on a NIC whose rate holds still in virtual time, and say nothing
        // before measuring there; the page-pool workloads keep the page-pool NIC they list first.
        for name in ["msg_zerocopy", "iperf3", "tcp_mmap"] {
            let workload = try catalog.load(name)
            #expect(workload.measuresDataRate, "\(name)")
            let choice = NICChoice.automatic(for: workload)
            #expect(choice.model.throughputInVirtualTime.isSteady, "\(name): \(choice)")
            #expect(NICChoice.caveat(for: choice.model, workload: workload, clock: .virtual) == nil)
            let warning = try #require(NICChoice.caveat(for: .igb, workload: workload, clock: nil))
            #expect(warning.contains("never measured") && warning.contains("--nic virtio-net or e1000e or vmxnet3 or veth"), "\(warning)")
            #expect(NICChoice.caveat(for: .e1000e, workload: workload, clock: .virtual) == nil, "steady with TSO off")
        }
        for name in ["pp_churn", "pp_inflight_teardown"] {
            let workload = try catalog.load(name)
            #expect(!workload.measuresDataRate, "\(name)")
            #expect(NICChoice.automatic(for: workload).model == .vmxnet3)
            #expect(NICChoice.caveat(for: .vmxnet3, workload: workload, clock: .virtual) == nil)
        }
    }

    @Test func unknownWorkloadNamesTheKnownOnes() {
        #expect {
            try WorkloadCatalog(directory: repositoryRoot + "/workloads").load("nope")
        } throws: { ($0 as! NetrigError).message.contains("msg_zerocopy") }
    }

    @Test func badFilesAreRejectedWithTheirPath() {
        #expect { try WorkloadCatalog.parse("name = \"x\"\ntopology = \"ring\"\n", path: "w.toml") } throws: {
            ($0 as! NetrigError).subject == "w.toml"
        }
        #expect { try WorkloadCatalog.parse("name = [", path: "w.toml") } throws: { ($0 as! NetrigError).message.contains("TOML") }
    }

    @Test func argumentsAreFilledWithoutSplitting() {
        let filled = GuestWorkloadRunner.fill(["{prog}", "-D", "{peer_ip}", "a {x} b"], ["prog": "/root/p", "peer_ip": "198.18.0.2", "x": "$(reboot)"])
        #expect(filled == ["/root/p", "-D", "198.18.0.2", "a $(reboot) b"])
    }

    @Test func metricExtraction() {
        let metric = MetricSpec(name: "t", unit: "MiB/s", step: "client", stream: .stderr, pattern: #"tx=(\d+) \("#, scale: 0.046875, perSecond: true)
        #expect(GuestWorkloadRunner.extract(metric, from: "serr: x\ntx=840 (39 MB) txc=840 zc=n\n", duration: 2) == 19.6875)
        #expect(GuestWorkloadRunner.extract(metric, from: "nothing", duration: 2) == nil)
    }
}

@Suite struct WorkloadFilesTests {
    @Test func everyShippedWorkloadLoadsWithItsKeys() throws {
        let catalog = WorkloadCatalog(directory: repositoryRoot + "/workloads")
        #expect(catalog.names() == ["devmem_rx", "devmem_tx", "iou_zcrx", "iperf3", "msg_zerocopy", "nk_qlease", "pp_churn", "pp_inflight_teardown", "tcp_mmap"])
        let devmem = try catalog.load("devmem_rx")
        #expect(devmem.unsupported.first?.reason.hasPrefix("unsupported by this NIC") == true)
        #expect(devmem.scripts?.keys.sorted() == ["devmem_rx.py"])
        #expect(devmem.xdpPass == false, "no dma-buf binds to a device running XDP")
        let vmxnet3 = NetworkLink(model: .vmxnet3, topology: .loop)
        #expect(LinkSetup.loopScript(vmxnet3).contains("netrig-xdp"))
        #expect(!LinkSetup.loopScript(vmxnet3, xdpPass: false).contains("netrig-xdp"))
        #expect(!LinkSetup.pairEndScript(vmxnet3, end: 1, xdpPass: false).contains("netrig-xdp"))
        // QEMU's TSO emulation for these models sends IP fragments: both ends segment in software instead.
        for model in [NICModel.e1000e, .vmxnet3, .igb] {
            let loop = LinkSetup.loopScript(NetworkLink(model: model, topology: .loop))
            #expect(loop.contains("ethtool -K nr0 tso off\nip netns exec peer ethtool -K nr1 tso off\n"), "\(loop)")
            #expect(LinkSetup.pairEndScript(NetworkLink(model: model, topology: .pair), end: 1).contains("ethtool -K nr1 tso off"))
        }
        for model in [NICModel.virtioNet, .veth, .netdevsim] {
            #expect(!LinkSetup.loopScript(NetworkLink(model: model, topology: .loop)).contains("ethtool -K"))
        }
        let churn = try catalog.load("pp_churn")
        #expect(churn.scripts?["pp_churn.sh"]?.hasPrefix("#!/bin/sh") == true, "the script's text travels with the workload")
        #expect(churn.client == ["sh", "{pp_churn.sh}", "{peer_ns}", "{peer_if}", "{peer_ip}", "{duration}"])
        #expect(churn.topologies == [.loop])
        let iperf = try catalog.load("iperf3")
        #expect(iperf.programs.isEmpty, "Debian's iperf3 from the image")
        #expect(iperf.metrics.map(\.name) == ["throughput", "sender_cpu", "receiver_cpu"])
        #expect(iperf.metrics.filter { !$0.higherIsBetter }.map(\.name) == ["sender_cpu", "receiver_cpu"])
        let mmap = try catalog.load("tcp_mmap")
        #expect(mmap.clientSuccessStatuses == [124])
        #expect(mmap.serverPersists == true)
        #expect(mmap.programs.first?.libraries == ["-lcrypto", "-lpthread"])
        #expect(mmap.metrics.first { $0.name == "mapped" }?.modes == ["mmap"])
        #expect(mmap.metrics.first { $0.name == "throughput" }?.modes == nil)
    }

    @Test func metricsParseFromRealOutput() throws {
        let catalog = WorkloadCatalog(directory: repositoryRoot + "/workloads")
        let iperf = try catalog.load("iperf3")
        let client = """
        CPU Utilization: local/sender 93.1% (2.9%u/90.2%s), remote/receiver 61.5% (5.0%u/56.5%s)
        [  5]   0.00-2.00   sec  77.2 MBytes   324 Mbits/sec    0             sender
        [  5]   0.00-2.04   sec  76.9 MBytes   316 Mbits/sec                  receiver
        """
        #expect(iperf.metrics.map { GuestWorkloadRunner.extract($0, from: client, duration: 2) } == [316, 93.1, 61.5])
        let mmap = try catalog.load("tcp_mmap")
        let server = """
        received 71.5 MB (12.5 % mmap'ed) in 2.00191 s, 0.299609 Gbit
          cpu usage user:0.004 sys:0.82, 11523.1 usec per MB, 2364 c-switches, rcv_mss 1448
        """
        #expect(mmap.metrics.map { GuestWorkloadRunner.extract($0, from: server, duration: 2) } == [0.299609, 11523.1, 12.5])
    }
}

@Suite struct PagePoolProbeTests {
    @Test func detachedPoolsWithPagesAreOneLeftoverEvent() throws {
        // As ynl --output-json prints a page-pool-get dump.
        let json = """
        [{"id": 9, "ifindex": 5, "napi-id": 513, "inflight": 0, "inflight-mem": 0},
         {"id": 8, "inflight": 1, "inflight-mem": 4096, "detach-time": 1764000000}]
        """
        let pools = try #require(PagePoolProbe.parse(json))
        #expect(pools.count == 2)
        #expect(pools[0].detachTime == nil && pools[0].ifindex == 5)
        #expect(pools[1].inflight == 1 && pools[1].inflightMemory == 4096)
        let leftovers = PagePoolProbe.leftovers(pools, side: .patched)
        #expect(leftovers.count == 1)
        #expect(leftovers[0].kind == .pagePoolLeftover && leftovers[0].kind.isPagePool)
        #expect(leftovers[0].text == "pool 8: 1 page(s) in flight (4096 bytes), detached at 1764000000")
        #expect(PagePoolProbe.leftovers([pools[0]], side: .patched).isEmpty)
        #expect(PagePoolProbe.parse("Traceback (most recent call last):") == nil)
    }
}
