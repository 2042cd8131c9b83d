import NetrigCore

/// Runs a workload on booted guests over their sessions: wires the link, then for each mode and repetition
/// starts the server step in the background on the peer end (the namespace in `loop`, the second guest in
/// `pair`), runs the client step on the first guest, and parses the metrics.
public struct GuestWorkloadRunner: WorkloadExecutor {
    public var progress: any ProgressObserver

    public init(progress: any ProgressObserver = SilentProgress()) {
        self.progress = progress
    }

    public func run(_ workload: WorkloadDefinition, side: Side, link: NetworkLink, programs: [String: String],
                    repetitions: Int, firstRepetition: Int = 1, warmup: Bool = false,
                    on guests: [any GuestSession]) async throws -> WorkloadOutcome {
        let nic = link.model
        guard let guest = guests.first else { return WorkloadOutcome(status: .completed, samples: [], transcript: "") }
        guard workload.nics.contains(nic) else {
            return WorkloadOutcome(status: .unsupported(reason: "\(workload.name) does not run on \(nic.rawValue) (it supports \(workload.nics.map(\.rawValue).joined(separator: ", ")))"),
                                   samples: [], transcript: "")
        }
        var transcript = try await LinkSetup.wire(link, on: guests, xdpPass: workload.xdpPass ?? true)
        var samples: [Sample] = []
        if warmup, let first = workload.modes.first {
            progress.status("\(side.rawValue): \(workload.name) warm-up on \(nic.rawValue)")
            let (outputs, _) = try await runOnce(workload, mode: first, link: link, programs: programs, guests: guests)
            transcript += "## warm-up (\(first.name), discarded)\n"
            for (step, output) in outputs.sorted(by: { $0.key < $1.key }) {
                transcript += "### \(step) (\(output.ending))\n\(output.standardOutput)\(output.standardError)\n"
            }
        }
        for mode in workload.modes {
            for repetition in firstRepetition..<(firstRepetition + repetitions) {
                try Task.checkCancellation()
                progress.status("\(side.rawValue): \(workload.name) \(mode.name) #\(repetition) on \(nic.rawValue)")
                let (outputs, cpu) = try await runOnce(workload, mode: mode, link: link, programs: programs, guests: guests)
                transcript += "## \(mode.name) #\(repetition)\n"
                for (step, output) in outputs.sorted(by: { $0.key < $1.key }) {
                    transcript += "### \(step) (\(output.ending))\n\(output.standardOutput)\(output.standardError)\n"
                }
                let combined = outputs.values.map { $0.standardOutput + $0.standardError }.joined(separator: "\n")
                if let unsupported = workload.unsupported.first(where: { (try? Regex($0.pattern)).map(combined.contains) ?? false }) {
                    return WorkloadOutcome(status: .unsupported(reason: unsupported.reason), samples: [], transcript: transcript)
                }
                // The client first: when it fails, the server that netrig then stops is not the news.
                let steps = outputs.keys.sorted { ($0 == "client" ? 0 : 1, $0) < ($1 == "client" ? 0 : 1, $1) }
                if let step = steps.first(where: { step in
                    let output = outputs[step]!
                    return output.exitStatus != 0 && !(step == "client" && (workload.clientSuccessStatuses ?? []).contains(output.exitStatus))
                }), let failed = outputs[step] {
                    throw NetrigError(blame: .series, subject: "workload \(workload.name) (\(mode.name)) on guest \(guest.name)",
                                      message: "step '\(step)' \(failed.ending)",
                                      details: (failed.standardOutput + failed.standardError).lastLines(8), code: .workloadFailed)
                }
                for metric in workload.metrics where metric.modes?.contains(mode.name) ?? true {
                    guard let output = outputs[metric.step] else { continue }
                    let text = metric.stream == .stdout ? output.standardOutput : output.standardError
                    guard let value = Self.extract(metric, from: text, duration: workload.duration) else {
                        throw NetrigError(blame: .infrastructure, subject: "workload \(workload.name), metric \(metric.name)",
                                          message: "the \(metric.step) output has no match for /\(metric.pattern)/",
                                          details: text.lastLines(5))
                    }
                    samples.append(Sample(side: side, workload: workload.name, nic: nic, metric: "\(mode.name)/\(metric.name)",
                                          unit: metric.unit, repetition: repetition, value: value, higherIsBetter: metric.higherIsBetter,
                                          cpuBusy: cpu.first ?? nil, peerCPUBusy: cpu.count > 1 ? cpu[1] : nil))
                }
            }
        }
        transcript += try await LinkSetup.counters(link, on: guests)
        transcript += try await LinkSetup.teardown(link, on: guests)
        return WorkloadOutcome(status: .completed, samples: samples, transcript: transcript)
    }

    /// Runs the server in the background (when there is one) and the client in the foreground; returns the
    /// output of each step by name, and how busy each guest's CPUs were (%) during the client step.
    func runOnce(_ workload: WorkloadDefinition, mode: WorkloadMode, link: NetworkLink, programs: [String: String],
                 guests: [any GuestSession]) async throws -> ([String: CommandOutput], [Double?]) {
        let guest = guests[0]
        let serverGuest = link.topology == .pair ? guests[1] : guests[0]
        var values = Self.substitutions(workload, link: link, programs: programs)
        values["mode"] = mode.name
        var outputs: [String: CommandOutput] = [:]
        let hasServer = !workload.server.isEmpty
        if hasServer {
            let inNamespace = link.topology == .loop ? ["ip", "netns", "exec", link.peerNamespace] : []
            let server = inNamespace + Self.fill(workload.server + mode.serverArguments, values)
            let start = "rm -f /tmp/netrig-server.*\n" + ShellQuote.join(server)
                + " </dev/null >/tmp/netrig-server.out 2>/tmp/netrig-server.err &\necho $! >/tmp/netrig-server.pid\nsleep 0.5\n"
            _ = try await serverGuest.runScript(start, timeout: .seconds(30))
        }
        // The client's own guest reads its CPU times right before and after the client, in the same
        // command: SSH round trips between separate reads would count the idle guest's waiting for them
        // (in virtual time, idle jumps to the next timer) as part of the sample. Its TCP loss counters
        // over the same span go to the transcript: a sample that fell short shows whether TCP waited
        // for a retransmission timeout meanwhile.
        // Beside the loss counters, every counter that moved, on both ends (in `loop` the receiving end's
        // namespace has its own counters, and nstat its own history file there): where a frame was lost.
        let peerCounters = link.topology == .loop ? ShellQuote.join(["ip", "netns", "exec", link.peerNamespace, "nstat"]) : nil
        let peerHistory = "NSTAT_HISTORY=/tmp/netrig-nstat.peer"
        let client = ["sh", "-c", "head -n 1 /proc/stat >/tmp/netrig-cpu.0; nstat -n >/dev/null 2>&1; "
                      + (peerCounters.map { "\(peerHistory) \($0) -n >/dev/null 2>&1; " } ?? "")
                      + "\"$@\"; s=$?; "
                      + "head -n 1 /proc/stat >/tmp/netrig-cpu.1; { nstat -s -z \(Self.tcpLossCounters.joined(separator: " ")); "
                      + "echo '# every counter that moved, this end'; nstat -s; "
                      + (peerCounters.map { "echo '# every counter that moved, the receiving end (\(link.peerNamespace))'; \(peerHistory) \($0) -s; " } ?? "")
                      + "} >/tmp/netrig-tcp 2>&1; "
                      // A client the kernel killed is reported as killed (the shell dies of the same signal).
                      + "if [ $s -gt 128 ]; then trap - $(kill -l $((s - 128))); kill -$((s - 128)) $$; fi; exit $s",
                      "sh"] + Self.fill(workload.client + mode.clientArguments, values)
        let peers = link.topology == .pair ? [serverGuest] : []
        var before: [CPUTimes?] = []
        for end in peers { before.append(try await Self.cpuTimes(of: end)) }
        do {
            outputs["client"] = try await guest.run(client, timeout: workload.timeout)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw NetrigError(blame: .series, subject: "workload \(workload.name) (\(mode.name)) on guest \(guest.name)",
                              message: "the client step failed or exceeded its timeout of \(workload.timeout): \(error)",
                              code: .workloadFailed, cause: error)
        }
        let own = try await guest.run(["cat", "/tmp/netrig-cpu.0", "/tmp/netrig-cpu.1"], timeout: .seconds(30)).standardOutput.lines.filter { !$0.isEmpty }
        var tcp = try await guest.run(["cat", "/tmp/netrig-tcp"], timeout: .seconds(30))
        tcp.exitStatus = 0  // context for the transcript, never a failed step
        outputs["tcp counters"] = tcp
        var cpu: [Double?] = [own.count == 2 ? CPUTimes(procStat: own[0]).flatMap { start in
            CPUTimes(procStat: own[1]).flatMap { CPUTimes.busyPercent(from: start, to: $0) } } : nil]
        for (end, start) in zip(peers, before) {
            let after = try await Self.cpuTimes(of: end)
            cpu.append(start.flatMap { start in after.flatMap { CPUTimes.busyPercent(from: start, to: $0) } })
        }
        if hasServer {
            // A server that exits by itself gets 20 s after the client; one that persists gets a second for
            // its report, then SIGINT (and SIGKILL if that does not end it).
            let (rounds, stop) = workload.serverPersists == true ? (5, "kill -INT \"$pid\"; sleep 0.5; kill -KILL \"$pid\" 2>/dev/null")
                                                         : (100, "kill \"$pid\"; echo \"netrig: server still running, killed\" >&2")
            let wait = """
            pid=$(cat /tmp/netrig-server.pid)
            i=0
            while kill -0 "$pid" 2>/dev/null && [ $i -lt \(rounds) ]; do sleep 0.2; i=$((i+1)); done
            if kill -0 "$pid" 2>/dev/null; then \(stop); fi
            wait "$pid" 2>/dev/null
            cat /tmp/netrig-server.out
            cat /tmp/netrig-server.err >&2
            """
            var server = try await serverGuest.runScript(wait, timeout: .seconds(60))
            server.exitStatus = server.standardError.contains("netrig: server still running") ? 1 : 0
            outputs["server"] = server
        }
        return (outputs, cpu)
    }

    /// nstat's names of the sender's TCP loss events: segments sent again, retransmission timeouts, tail
    /// loss probes.
    static let tcpLossCounters = ["TcpRetransSegs", "TcpExtTCPTimeouts", "TcpExtTCPLossProbes", "TcpExtTCPSpuriousRTOs"]

    static func cpuTimes(of guest: any GuestSession) async throws -> CPUTimes? {
        CPUTimes(procStat: try await guest.run(["head", "-n", "1", "/proc/stat"], timeout: .seconds(30)).standardOutput)
    }

    static func substitutions(_ workload: WorkloadDefinition, link: NetworkLink, programs: [String: String]) -> [String: String] {
        var values = [
            "duration": String(workload.duration), "server_duration": String(workload.duration + 3),
            "local_ip": link.localAddress, "peer_ip": link.peerAddress,
            "local_if": link.localInterface, "peer_if": link.peerInterface, "peer_ns": link.peerNamespace,
            "local_mac": link.localMAC, "peer_mac": link.peerMAC,
        ]
        for (name, path) in programs { values[name] = path }
        return values
    }

    /// Replaces `{name}` in each argument; an argument stays one argument whatever it contains.
    static func fill(_ argv: [String], _ values: [String: String]) -> [String] {
        argv.map { argument in
            var text = argument
            for (key, value) in values { text = text.replacingAll("{\(key)}", with: value) }
            return text
        }
    }

    static func extract(_ metric: MetricSpec, from text: String, duration: Int) -> Double? {
        guard let regex = try? Regex(metric.pattern), let match = text.firstMatch(of: regex), match.count > 1,
              let substring = match[1].substring, let value = Double(substring) else { return nil }
        let scaled = value * metric.scale
        return metric.perSecond ? scaled / Double(duration) : scaled
    }
}
