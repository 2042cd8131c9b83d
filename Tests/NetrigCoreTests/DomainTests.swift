import Testing
@testable import NetrigCore

@Suite struct DomainTests {
    @Test func configAssignments() {
        #expect(ConfigAssignment(line: "CONFIG_NET_DEVMEM=y") == ConfigAssignment(symbol: "CONFIG_NET_DEVMEM", value: "y"))
        #expect(ConfigAssignment(line: "# CONFIG_X86_MCE is not set") == ConfigAssignment(symbol: "CONFIG_X86_MCE", value: "n"))
        #expect(ConfigAssignment(line: "# a comment") == nil)
        #expect(ConfigAssignment(line: "CONFIG_CMDLINE=\"a b\"")?.value == "\"a b\"")
    }

    @Test func laterFragmentsOverrideEarlierOnes() {
        let spec = KernelConfigSpec(name: "off", base: "tinyconfig", fragments: [
            ConfigFragment(name: "netmem", text: "CONFIG_X86_MCE=y\nCONFIG_NET_DEVMEM=y\n"),
            ConfigFragment(name: "devmem-off", text: "# CONFIG_X86_MCE is not set\n# CONFIG_NET_DEVMEM is not set\n"),
        ])
        #expect(spec.requested == [ConfigAssignment(symbol: "CONFIG_X86_MCE", value: "n"),
                                   ConfigAssignment(symbol: "CONFIG_NET_DEVMEM", value: "n")])
    }

    @Test func leakAndSplatClassification() {
        func leak(_ side: Side, _ fingerprint: String) -> Leak {
            Leak(side: side, size: 8, comm: "c", backtrace: [], fingerprint: fingerprint, raw: "")
        }
        let comparison = Comparison(samples: [], leaks: [leak(.baseline, "old"), leak(.baseline, "both"), leak(.patched, "both"),
                                                         leak(.patched, "new"), leak(.patched, "new")],
                                    splats: [Splat(side: .baseline, kind: .warning, title: "W1", text: ""),
                                             Splat(side: .patched, kind: .warning, title: "W1", text: ""),
                                             Splat(side: .patched, kind: .stalledPool, title: "stalled", text: ""),
                                             Splat(side: .patched, kind: .stalledPool, title: "stalled", text: "second boot")])
        #expect(comparison.newLeaks.map(\.fingerprint) == ["new"])
        #expect(comparison.goneLeaks.map(\.fingerprint) == ["old"])
        #expect(comparison.persistingLeaks.map(\.fingerprint) == ["both"])
        #expect(comparison.newSplats.map(\.title) == ["stalled"])
        #expect(comparison.preexistingSplats.map(\.title) == ["W1"])
        #expect(comparison.seriesBrokeSomething)
    }

    @Test func newLeaksNeedEveryLeakCheckOfThePatchedSide() {
        func leak(_ side: Side, _ fingerprint: String, round: Int) -> Leak {
            Leak(side: side, size: 8, comm: "c", backtrace: [], fingerprint: fingerprint, raw: "", round: round)
        }
        let leaks = [leak(.patched, "twice", round: 1), leak(.patched, "twice", round: 2), leak(.patched, "once", round: 1),
                     leak(.baseline, "flaky-old", round: 2), leak(.patched, "flaky-old", round: 1)]
        let confirmed = Comparison(samples: [], leaks: leaks, splats: [], patchedLeakRounds: 2)
        #expect(confirmed.newLeaks.map(\.fingerprint) == ["twice"])
        #expect(confirmed.unconfirmedLeaks.map(\.fingerprint) == ["once"])
        #expect(confirmed.persistingLeaks.map(\.fingerprint) == ["flaky-old"], "a baseline leak seen in any round is pre-existing")
        let single = Comparison(samples: [], leaks: leaks.filter { $0.round == 1 }, splats: [], patchedLeakRounds: 1)
        #expect(Set(single.newLeaks.map(\.fingerprint)) == ["twice", "once", "flaky-old"], "one leak check: nothing to confirm with")
    }

    @Test func configChangesAndMatrixVerdicts() {
        let changes = ConfigChange.between(["CONFIG_A": "y", "CONFIG_B": "m", "CONFIG_C": "y"],
                                           ["CONFIG_A": "y", "CONFIG_B": "y", "CONFIG_D": "y"])
        #expect(changes == [ConfigChange(symbol: "CONFIG_B", baseline: "m", patched: "y"),
                            ConfigChange(symbol: "CONFIG_C", baseline: "y", patched: "n"),
                            ConfigChange(symbol: "CONFIG_D", baseline: "n", patched: "y")])
        #expect(Verdict.combined([.pass, .pass]) == .pass)
        #expect(Verdict.combined([.pass, .error]) == .error)
        #expect(Verdict.combined([.error, .fail, .pass]) == .fail, "a definite finding outweighs an undecided config")
    }

    @Test func percentagesHaveTwoDecimalsAndASign() {
        #expect(Percent.format(0.0125) == "+1.25%")
        #expect(Percent.format(-0.004) == "-0.40%")
        #expect(Percent.format(-0.00001) == "+0.00%", "no negative zero")
        #expect(Percent.format(0.1234, signed: false) == "12.34%")
        #expect(Percent.format(.nan) == "-")
    }

    @Test func shellQuoting() {
        #expect(ShellQuote.join(["ip", "netns", "exec", "peer"]) == "ip netns exec peer")
        #expect(ShellQuote.quote("a b") == "'a b'")
        #expect(ShellQuote.quote("it's") == "'it'\\''s'")
        #expect(ShellQuote.quote("$(reboot)") == "'$(reboot)'")
        #expect(ShellQuote.quote("") == "''")
    }

    @Test func directoriesFollowXDG() {
        let dirs = NetrigDirectories(environment: ["HOME": "/h", "XDG_CACHE_HOME": "/c"])
        #expect(dirs.cache == "/c/netrig")
        #expect(dirs.data == "/h/.local/share/netrig")
        #expect(NetrigDirectories(environment: ["HOME": "/h", "NETRIG_DATA_DIR": "/d"]).defaultStore == "/d/netrig.sqlite")
    }
}
