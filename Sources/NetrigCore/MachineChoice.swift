/// The accelerator and clock of every boot of one run, and what the run's baseline boots proved.
///
/// It starts as the probe, the user or the stored run said. A run that began under a probed KVM whose
/// guest printed nothing falls back to TCG, but only while no guest of the run has booted under KVM: once
/// one has, KVM is proven here and a silent console is that kernel's doing. Every throughput boot waits
/// for the one before (or, both sides at once, both fall back together), so a fallback comes before
/// anything is measured and both sides share one accelerator and clock.
public actor MachineChoice {
    public private(set) var accelerator: Accelerator
    public private(set) var clock: MeasurementClock
    /// Why this accelerator: the probe's answer, `--accel`, the stored run.
    public let reason: String
    /// Whether a silent KVM console may turn the run to TCG (a probed KVM, not a forced one).
    let mayFallBack: Bool
    /// The clock after a fallback to TCG.
    let fallbackClock: MeasurementClock
    /// A guest of this run has booted under `accelerator`.
    public private(set) var proven = false
    /// Why the run fell back to TCG, when it did.
    public private(set) var fallback: String?
    private var noteTaken = false
    /// What the baseline got through in this run, by boot purpose ("throughput", "leaks"): its boot time,
    /// nil for a boot kept from a stored run.
    private var baselineBoots: [String: Double?] = [:]

    public init(accelerator: Accelerator, clock: MeasurementClock, reason: String, mayFallBack: Bool, fallbackClock: MeasurementClock) {
        self.accelerator = accelerator
        self.clock = clock
        self.reason = reason
        self.mayFallBack = mayFallBack
        self.fallbackClock = fallbackClock
    }

    public var current: (Accelerator, MeasurementClock) { (accelerator, clock) }

    /// "TCG, virtual clock: a KVM guest printed nothing within 6 s".
    public var description: String { "\(accelerator.rawValue.uppercased()), \(clock.rawValue) clock: \(reason)" }

    public func booted() { proven = true }

    public enum Fallback: Equatable, Sendable {
        /// Not to be retried: the accelerator was forced, or KVM is proven by an earlier boot.
        case refused
        /// The run is on TCG already (the other side fell back first): boot again.
        case again
        /// This call turned the run to TCG, with this clock: boot again, and tell.
        case switched(MeasurementClock)
    }

    /// A guest booted under `used` printed nothing on its console.
    public func fallBack(from used: Accelerator, reason: String) -> Fallback {
        guard used == .kvm else { return .refused }
        if accelerator == .tcg { return .again }
        guard mayFallBack, !proven else { return .refused }
        accelerator = .tcg
        clock = fallbackClock
        fallback = reason
        return .switched(fallbackClock)
    }

    /// Why a KVM guest of `whose` ("run 7 (baseline)", "netrig boot") did not run, and the answer that
    /// corrects the host's kept one: what the run engine and `netrig boot` both say and keep.
    public static func kvmFailure(_ error: NetrigError, of whose: String, silentFor: Duration) -> (reason: String, correction: AcceleratorAnswer) {
        let reason = error.code == .consoleSilent
            ? "a KVM guest of \(whose) printed nothing within \(silentFor)"
            : "QEMU could not start a KVM guest of \(whose): \(error.message.prefix(200))"
        return (reason, AcceleratorAnswer(.tcg, reason + " (nested virtualization does not work here)"))
    }

    /// The fallback, once: the note of the phase it happened in.
    public func takeNote() -> String? {
        guard let fallback, !noteTaken else { return nil }
        noteTaken = true
        return "accelerator fallback: \(fallback); every boot ran again under TCG, \(clock.rawValue) clock"
    }

    func baselineCompleted(_ purpose: String, seconds: Double?) {
        if baselineBoots[purpose] == nil { baselineBoots[purpose] = .some(seconds) }
    }

    /// In words, how the baseline got through boots of this purpose, when it did: the evidence that blames
    /// the series for what the patched side then does.
    func baselineEvidence(_ purpose: String, link: String, workload: String) -> String? {
        guard let entry = baselineBoots[purpose] else { return nil }
        let how = "\(link), \(accelerator.rawValue.uppercased()), \(clock.rawValue) clock"
        let time = entry.map { " in \(Int($0.rounded())) s" } ?? " (a boot stored before the run was resumed)"
        return "the baseline booted the same way (\(how))\(time) and got through \(workload)"
    }
}
