extension RunEngine {
    /// Runs `body` for each side, one after the other (baseline first) or both at once, and decides whose
    /// fault a failure is from what the other side did (`attribute`). Both at once, a side that fails does
    /// not cancel the other: the baseline's own outcome is the evidence the blame needs.
    func runSides(_ sides: [(Side, Phase)], together: Bool, purpose: BootPurpose, context: TestContext,
                  _ body: @escaping @Sendable (Side, Phase) async throws -> BootResult) async throws -> [Side: BootResult] {
        var outcomes: [Side: Result<BootResult, any Error>] = [:]
        if together {
            outcomes = await withTaskGroup(of: (Side, Result<BootResult, any Error>).self) { group in
                for (side, phase) in sides {
                    group.addTask {
                        do { return (side, .success(try await body(side, phase))) } catch { return (side, .failure(error)) }
                    }
                }
                var collected: [Side: Result<BootResult, any Error>] = [:]
                for await (side, outcome) in group { collected[side] = outcome }
                return collected
            }
        } else {
            for (side, phase) in sides {
                do { outcomes[side] = .success(try await body(side, phase)) } catch {
                    outcomes[side] = .failure(error)
                    break
                }
            }
        }
        var results: [Side: BootResult] = [:]
        var failures: [Side: any Error] = [:]
        for (side, outcome) in outcomes {
            switch outcome {
            case .success(let result):
                results[side] = result
                if side == .baseline { await context.machine.baselineCompleted(purpose.rawValue, seconds: result.bootSeconds) }
            case .failure(let error):
                failures[side] = error
            }
        }
        // Interrupted: whatever the cut-off step said is no evidence; the phase it was in is kept.
        if Task.isCancelled, let error = failures[.baseline] ?? failures[.patched] { throw error }
        if let error = failures[.baseline] {
            var failure = Self.attribute(Self.netrigError(error, phase: .testBaseline), side: .baseline, evidence: nil, plan: context.plan.request)
            if let other = failures[.patched] {
                failure.details.append("the patched side failed too: \(Self.netrigError(other, phase: .testPatched).message)")
            }
            throw failure
        }
        if let error = failures[.patched] {
            throw Self.attribute(Self.netrigError(error, phase: .testPatched), side: .patched,
                                 evidence: await context.machine.baselineEvidence(purpose.rawValue, link: context.link.label, workload: context.workload.name),
                                 plan: context.plan.request)
        }
        return results
    }

    /// A `NetrigError` as it is; any other error wrapped as an infrastructure failure of `phase`, with
    /// the error itself as its cause.
    static func netrigError(_ error: any Error, phase: Phase) -> NetrigError {
        error as? NetrigError ?? NetrigError(phase: phase, blame: .infrastructure, message: "\(error)", code: .other, cause: error)
    }
}
