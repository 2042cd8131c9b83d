import NetrigCore

/// Runs a workload on a booted guest over its session: wires the topology, then for each mode and
/// repetition starts the server step in the background, runs the client step, and parses the metrics.
public struct GuestWorkloadRunner: WorkloadExecutor {
    public var progress: any ProgressObserver

    public init(progress: any ProgressObserver = SilentProgress()) {
        self.progress = progress
    }

    public func run(_ workload: WorkloadDefinition, side: Side, phase: Phase, nic: NICModel, programs: [String: String],
                    repetitions: Int, firstRepetition: Int = 1, warmup: Bool = false,
                    on guest: any GuestSession) async throws -> WorkloadOutcome {
        var transcript = ""
        guard workload.nics.contains(nic) else {
            return WorkloadOutcome(status: .unsupported(reason: "\(workload.name) does not run on \(nic.rawValue) (it supports \(workload.nics.map(\.rawValue).joined(separator: ", ")))"),
                                   samples: [], transcript: "")
        }
        let setup = try await guest.runScript(Self.loopSetupScript(nic: nic), timeout: .seconds(120))
        transcript += "## setup (loop topology, \(nic.rawValue))\n\(setup.standardOutput)\(setup.standardError)\n"
        guard setup.exitStatus == 0 else {
            throw NetrigError(phase: phase, blame: .infrastructure, subject: "guest \(guest.name), \(nic.rawValue)",
                              message: "setting up the loop topology failed (status \(setup.exitStatus))",
                              details: (setup.standardOutput + setup.standardError).lastLines(8))
        }
        var samples: [Sample] = []
        if warmup, let first = workload.modes.first {
            progress.status("\(side.rawValue): \(workload.name) warm-up on \(nic.rawValue)")
            let outputs = try await runOnce(workload, mode: first, programs: programs, guest: guest, phase: phase)
            transcript += "## warm-up (\(first.name), discarded)\n"
            for (step, output) in outputs.sorted(by: { $0.key < $1.key }) {
                transcript += "### \(step) (status \(output.exitStatus))\n\(output.standardOutput)\(output.standardError)\n"
            }
        }
        for mode in workload.modes {
            for repetition in firstRepetition..<(firstRepetition + repetitions) {
                progress.status("\(side.rawValue): \(workload.name) \(mode.name) #\(repetition) on \(nic.rawValue)")
                let outputs = try await runOnce(workload, mode: mode, programs: programs, guest: guest, phase: phase)
                transcript += "## \(mode.name) #\(repetition)\n"
                for (step, output) in outputs.sorted(by: { $0.key < $1.key }) {
                    transcript += "### \(step) (status \(output.exitStatus))\n\(output.standardOutput)\(output.standardError)\n"
                }
                let combined = outputs.values.map { $0.standardOutput + $0.standardError }.joined(separator: "\n")
                if let unsupported = workload.unsupported.first(where: { (try? Regex($0.pattern)).map(combined.contains) ?? false }) {
                    return WorkloadOutcome(status: .unsupported(reason: unsupported.reason), samples: [], transcript: transcript)
                }
                if let failed = outputs.first(where: { $0.value.exitStatus != 0 }) {
                    throw NetrigError(phase: phase, blame: .series, subject: "workload \(workload.name) (\(mode.name)) on guest \(guest.name)",
                                      message: "step '\(failed.key)' exited with status \(failed.value.exitStatus)",
                                      details: (failed.value.standardOutput + failed.value.standardError).lastLines(8))
                }
                for metric in workload.metrics {
                    guard let output = outputs[metric.step] else { continue }
                    let text = metric.stream == .stdout ? output.standardOutput : output.standardError
                    guard let value = Self.extract(metric, from: text, duration: workload.duration) else {
                        throw NetrigError(phase: phase, blame: .infrastructure, subject: "workload \(workload.name), metric \(metric.name)",
                                          message: "the \(metric.step) output has no match for /\(metric.pattern)/",
                                          details: text.lastLines(5))
                    }
                    samples.append(Sample(side: side, workload: workload.name, nic: nic, metric: "\(mode.name)/\(metric.name)",
                                          unit: metric.unit, repetition: repetition, value: value, higherIsBetter: metric.higherIsBetter))
                }
            }
        }
        return WorkloadOutcome(status: .completed, samples: samples, transcript: transcript)
    }

    /// Runs the server in the background (when there is one) and the client in the foreground; returns the
    /// output of each step by name.
    func runOnce(_ workload: WorkloadDefinition, mode: WorkloadMode, programs: [String: String],
                 guest: any GuestSession, phase: Phase) async throws -> [String: CommandOutput] {
        let values = Self.substitutions(workload, programs: programs)
        var outputs: [String: CommandOutput] = [:]
        let hasServer = !workload.server.isEmpty
        if hasServer {
            let server = Self.fill(workload.server + mode.serverArguments, values)
            let start = "rm -f /tmp/netrig-server.*\n" + ShellQuote.join(server)
                + " </dev/null >/tmp/netrig-server.out 2>/tmp/netrig-server.err &\necho $! >/tmp/netrig-server.pid\nsleep 0.5\n"
            _ = try await guest.runScript(start, timeout: .seconds(30))
        }
        let client = Self.fill(workload.client + mode.clientArguments, values)
        do {
            outputs["client"] = try await guest.run(client, timeout: workload.timeout)
        } catch {
            throw NetrigError(phase: phase, blame: .series, subject: "workload \(workload.name) (\(mode.name)) on guest \(guest.name)",
                              message: "the client step failed or exceeded its timeout of \(workload.timeout): \(error)")
        }
        if hasServer {
            let wait = """
            pid=$(cat /tmp/netrig-server.pid)
            i=0
            while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done
            if kill -0 "$pid" 2>/dev/null; then kill "$pid"; echo "netrig: server still running, killed" >&2; fi
            wait "$pid" 2>/dev/null
            cat /tmp/netrig-server.out
            cat /tmp/netrig-server.err >&2
            """
            var server = try await guest.runScript(wait, timeout: .seconds(60))
            server.exitStatus = server.standardError.contains("netrig: server still running") ? 1 : 0
            outputs["server"] = server
        }
        return outputs
    }

    static func substitutions(_ workload: WorkloadDefinition, programs: [String: String]) -> [String: String] {
        var values = [
            "duration": String(workload.duration), "server_duration": String(workload.duration + 3),
            "local_ip": GuestAddressing.localAddress, "peer_ip": GuestAddressing.peerAddress,
            "local_if": GuestAddressing.localInterface, "peer_if": GuestAddressing.peerInterface,
            "peer_ns": GuestAddressing.peerNamespace,
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

    /// The loop topology: the two test NICs (found by MAC) wired back to back, the second moved into
    /// namespace `peer`, and the link proven with ping. The guest driver must be the one the model implies.
    static func loopSetupScript(nic: NICModel) -> String {
        let a = GuestAddressing.self
        return """
        set -e
        find_if() { for d in /sys/class/net/*; do [ "$(cat "$d/address")" = "$1" ] && { basename "$d"; return 0; }; done; echo "no NIC with MAC $1" >&2; return 1; }
        ip netns del \(a.peerNamespace) 2>/dev/null || true
        first=$(find_if \(a.testMAC(0)))
        second=$(find_if \(a.testMAC(1)))
        driver=$(basename "$(readlink /sys/class/net/$first/device/driver)")
        [ "$driver" = "\(nic.driver)" ] || { echo "NIC $first is driven by $driver, expected \(nic.driver)" >&2; exit 3; }
        ip link set "$first" down; ip link set "$first" name \(a.localInterface)
        ip link set "$second" down; ip link set "$second" name \(a.peerInterface)
        ip netns add \(a.peerNamespace)
        ip link set \(a.peerInterface) netns \(a.peerNamespace)
        ip addr add \(a.localAddress)/24 dev \(a.localInterface)
        ip link set \(a.localInterface) up
        ip -n \(a.peerNamespace) addr add \(a.peerAddress)/24 dev \(a.peerInterface)
        ip -n \(a.peerNamespace) link set \(a.peerInterface) up
        ip -n \(a.peerNamespace) link set lo up
        for i in $(seq 1 30); do ping -q -c 1 -W 1 \(a.peerAddress) >/dev/null 2>&1 && break; sleep 0.5; done
        ping -q -c 1 -W 2 \(a.peerAddress)
        echo "loop: \(a.localInterface) ($driver) <-> \(a.peerNamespace)/\(a.peerInterface)"
        """
    }
}
