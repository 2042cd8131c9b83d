extension RunEngine {
    /// Applies the series and builds the baseline, then every patch in order (the last is the patched
    /// kernel). A patch that does not build is recorded and the next one is built on top of it; only a
    /// last patch that does not build stops the run.
    func buildKernels(_ runID: RunID, plan resolved: ResolvedPlan, series: Series, workload: WorkloadDefinition,
                              patchBuilds: inout [PatchBuild]) async throws -> [Side: KernelArtifact] {
        let plan = resolved.request
        // The series first: a run whose tree or base cannot be had still says what it was given.
        try await store.recordSeries(runID, series: series, applied: nil)
        let tree = try await timed(.prepareTree, runID, detail: plan.treeRequest ?? "default tree") {
            try await kernel.prepareTree(request: plan.treeRequest, base: plan.baseRequest, series: series)
        }
        try await store.recordTree(runID, tree: tree)
        let applied = try await timed(.applySeries, runID, detail: "\(series.patches.count) patches on \(tree.baseCommit.prefix(12))") {
            try await kernel.apply(series, on: tree)
        }
        try await store.recordSeries(runID, series: series, applied: applied)
        let config = try await timed(.configure, runID, detail: plan.configName) {
            try kernel.configSpec(named: plan.configName)
        }
        var artifacts: [Side: KernelArtifact] = [:]
        let baseline = BuildRequest(side: .baseline, tree: tree, commit: applied.baseCommit, config: config, programs: workload.programs)
        let baselineArtifact = try await timed(.buildBaseline, runID, detail: "baseline at \(applied.baseCommit.prefix(12))") {
            try await kernel.build(baseline, progress: progress)
        }
        artifacts[.baseline] = baselineArtifact
        try await store.recordBuild(runID, baselineArtifact)
        if !resolved.buildOnly {
            // The workload's kconfig needs, checked on the baseline before the patches are built.
            let values = try Self.inPhase(.buildBaseline) { try kernel.configValues(of: baselineArtifact) }
            let missing = workload.requiredSymbols.filter { values[$0] == nil || values[$0] == "n" }
            if !missing.isEmpty {
                throw NetrigError(phase: .buildBaseline, blame: .usage, subject: "config \(plan.configName)",
                                  message: "workload \(workload.name) needs \(missing.joined(separator: ", ")), which this config does not enable",
                                  details: ["choose a config that does (netrig run --config default), or another workload"])
            }
        }
        patchBuilds = try await timed(.buildPatches, runID, detail: "\(applied.commits.count) patch(es), each on the one before") {
            try await self.kernel.buildEachPatch(series, applied: applied, baseline: baseline, built: baselineArtifact,
                                                 progress: self.progress)
        }
        try await store.recordPatchBuilds(runID, patchBuilds)
        for build in patchBuilds where build.isFinding {
            progress.note("patch \(build.patch)/\(series.patches.count): " + (build.succeeded
                ? "\(build.newWarnings.count) new warning(s): " + build.newWarnings.joined(separator: "; ")
                : "does not build: \(build.firstError ?? "see \(build.log ?? "the log")")"))
        }
        if let last = patchBuilds.last, !last.succeeded {
            throw NetrigError(phase: .buildPatches, blame: .series, subject: "patch \(last.patch)/\(series.patches.count) '\(last.subject)'",
                              message: "the patched kernel does not build", details: [last.firstError].compactMap { $0 },
                              patch: last.patch, code: .buildFailed, log: last.log, cached: last.cached)
        }
        let patched = BuildRequest(side: .patched, tree: tree, commit: applied.tipCommit, config: config, programs: workload.programs)
        artifacts[.patched] = try await timed(.buildPatched, runID, detail: "patched at \(applied.tipCommit.prefix(12))") {
            try await kernel.build(patched, progress: progress)
        }
        try await store.recordBuild(runID, artifacts[.patched]!)
        let changes = try Self.inPhase(.buildPatched) { try kernel.configChanges(from: artifacts[.baseline]!, to: artifacts[.patched]!) }
        try await store.recordConfigChanges(runID, changes)
        if !changes.isEmpty {
            progress.note("the series changes the effective config: "
                          + changes.map { "\($0.symbol) \($0.baseline) → \($0.patched)" }.joined(separator: ", "))
        }
        return artifacts
    }
}
