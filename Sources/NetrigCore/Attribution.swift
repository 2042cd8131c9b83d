extension RunEngine {
    /// Blame follows evidence. Adapters blame `series` for what the kernel under test did (it panicked,
    /// hung, failed its workload, said something in dmesg). On the baseline side that is the base tree's
    /// doing, never the series'. On the patched side it stays the series' only when the baseline, booted
    /// the same way in this run, got through the same step (`evidence` says how); without that evidence
    /// netrig cannot decide. An infrastructure failure (libvirt, disk, SSH refused) stays one, except a
    /// silent KVM console once the baseline has booted under KVM: then it is the patched kernel's.
    static func attribute(_ failure: NetrigError, side: Side, evidence: String?, plan: RunPlan) -> NetrigError {
        var failure = failure
        let kernelCaused = failure.blame == .series || failure.blame == .baseline
        switch side {
        case .baseline:
            guard kernelCaused || failure.code == .consoleSilent else { return failure }
            if failure.blame != .infrastructure { failure.blame = .baseline }
            failure.details.append("blame: the baseline (the base tree without the series) failed this way, so the series is not blamed; "
                                   + "nothing about the patched kernel was decided")
            if case let extra = plan.kernelArguments, !extra.isEmpty {
                failure.details.append("every guest boots with --append '\(extra.joined(separator: " "))': check it")
            }
        case .patched:
            guard kernelCaused || (failure.code == .consoleSilent && evidence != nil) else { return failure }
            if let evidence {
                failure.blame = .series
                failure.details.append("blame: the series, because \(evidence) and the patched kernel did not")
            } else {
                failure.blame = .infrastructure
                failure.details.append("blame: undecided, because the baseline did not get through the same step in this run")
            }
        }
        return failure
    }
}
