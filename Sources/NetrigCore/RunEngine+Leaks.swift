extension RunEngine {
    /// The leak check: both sides boot with kmemleak at once (leak boots measure nothing). A leak the
    /// patched kernel shows and the baseline does not is confirmed by a second leak boot of both sides
    /// before it is reported: kmemleak misses an object that a stale pointer still references, and a
    /// pre-existing leak the baseline missed once would otherwise look new. A leak round a resumed run
    /// stored is kept.
    func checkLeaks(_ context: TestContext) async throws {
        for round in 1...context.plan.maxLeakRounds {
            let candidates = Comparison.newLeakCandidates(context.evidence.current.countedLeaks)
            if round > 1, candidates.isEmpty { break }
            let detail = round == 1 ? "kmemleak on, each mode once, both sides at once"
                : "confirming \(candidates.count) new leak(s): " + candidates.map(\.fingerprint).joined(separator: ", ")
            var sides = Self.plannedSides
            for (side, _) in Self.plannedSides where context.evidence.current.hasLeakRound(side, round) {
                sides.removeAll { $0.0 == side }
                progress.note("\(side.rawValue): leak check \(round) kept from the stored run")
                if side == .baseline { await context.machine.baselineCompleted(BootPurpose.leaks.rawValue, seconds: nil) }
            }
            if sides.isEmpty { continue }
            _ = try await timed(.checkLeaks, context.runID, detail: detail) {
                try await self.runSides(sides, together: true, purpose: .leaks, context: context) { side, _ in
                    try await self.bootUnderMachine(side: side, phase: .checkLeaks, purpose: .leaks, context: context,
                                                    repetitions: 1, firstRepetition: 1, round: round)
                }
            }
        }
    }
}
