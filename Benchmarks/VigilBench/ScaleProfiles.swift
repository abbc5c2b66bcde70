import Foundation
import VigilCore

/// `vigil-bench scale-profiles --count N --out DIR [--ngrams 200] [--syscalls 40]
/// [--destinations 4] [--files 4]`: N profiles of a realistic size, each its own program
/// (/opt/vigil-bench-scale/prog-I) with its own syscalls, n-grams over them, destinations,
/// listening port, write directories and mapped libraries, for Benchmarks/scale.sh. Unlike
/// `synth-profiles` (copies of one learned profile), no two share a kernel map entry, so
/// the maps hold N profiles' worth of distinct entries. Deterministic: the same N gives the
/// same files.
func runScaleProfiles() throws {
    let n = argument("--count", default: 10)
    let out = stringArgument("--out", default: "")
    let ngrams = argument("--ngrams", default: 200)
    let syscalls = argument("--syscalls", default: 40)
    let destinations = argument("--destinations", default: 4)
    let files = argument("--files", default: 4)
    guard !out.isEmpty, n >= 0, syscalls >= 1, syscalls <= 300 else {
        FileHandle.standardError.write(Data("usage: vigil-bench scale-profiles --count N --out DIR [--ngrams 200] [--syscalls 1...300] [--destinations 4] [--files 4]\n".utf8))
        exit(2)
    }
    let now = UInt64(Date().timeIntervalSince1970) * 1_000_000_000
    let seen = Sighting(host: "bench", at: now, count: 10)
    for i in 0..<n {
        var rng = SplitMix64(seed: UInt64(i) &+ 1)
        var p = Profile(identity: ProfileIdentity(executable: "/opt/vigil-bench-scale/prog-\(i)"))
        // Named syscalls only (the profile format stores names).
        let named = (0..<SyscallTable.count).filter { !SyscallTable.name($0).hasPrefix("syscall_") }.map(UInt32.init)
        var calls: [UInt32] = []
        while calls.count < min(syscalls, named.count) {
            let c = named[Int(rng.next() % UInt64(named.count))]
            if !calls.contains(c) { calls.append(c) }
        }
        for c in calls { p.syscalls[c] = seen }
        var tries = 0
        while p.ngrams.count < ngrams, tries < ngrams * 10 {
            tries += 1
            let gram = (0..<6).map { _ in calls[Int(rng.next() % UInt64(calls.count))] }
            p.ngrams[NgramHash.hash(gram)] = NgramItem(calls: gram, seen: seen)
        }
        for d in 0..<destinations {
            p.destinations[NetworkDestination(transport: .tcp, address: "10.\(i / 250 % 250).\(i % 250).\(d + 1)", port: UInt16(5000 + d))] = seen
        }
        p.listens[ListeningSocket(transport: .tcp, address: "0.0.0.0", port: UInt16(20000 + i % 40000))] = seen
        for f in 0..<files {
            p.writes["/var/lib/vigil-bench-scale/prog-\(i)/dir-\(f)/*"] = seen
            p.maps["/usr/lib/vigil-bench-scale/prog-\(i)/lib\(f).so"] = seen
        }
        p.binaries[String(repeating: "0", count: 48) + String(format: "%016x", i)] = seen
        let path = (out as NSString).appendingPathComponent(p.id + ".json")
        guard FileManager.default.createFile(atPath: path, contents: Data(ProfileCodec.encode(p))) else {
            FileHandle.standardError.write(Data("vigil-bench: cannot write \(path)\n".utf8))
            exit(1)
        }
    }
    print("\(n) profiles of \(ngrams) n-grams, \(syscalls) syscalls, \(destinations) destinations, 1 listening port, \(files) write directories and \(files) mapped files each, written to \(out)")
}

