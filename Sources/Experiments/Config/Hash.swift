import Foundation

/// FNV-1a 64: the short hash in run ids and the checksums of data files in the canonical YAML.
enum Hash {
    static func fnv1a(_ bytes: some Sequence<UInt8>, seed: UInt64 = 0xCBF2_9CE4_8422_2325) -> UInt64 {
        var h = seed
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01B3
        }
        return h
    }

    static func short(_ text: String) -> String {
        let h = fnv1a(text.utf8)
        return String(String(h, radix: 16).leftPadded(to: 16).prefix(6))
    }
}

/// Checksums of data files, read once per process.
enum FileChecksum {
    nonisolated(unsafe) private static var cache: [String: String] = [:]
    private static let lock = NSLock()

    static func of(_ path: String) -> String {
        lock.lock()
        defer { lock.unlock() }
        if let c = cache[path] { return c }
        let value: String
        if let data = FileManager.default.contents(atPath: path) {
            value = "fnv1a64:" + String(Hash.fnv1a(data), radix: 16).leftPadded(to: 16)
        } else {
            value = "unreadable"
        }
        cache[path] = value
        return value
    }
}

extension String {
    func leftPadded(to n: Int, with c: Character = "0") -> String {
        count >= n ? self : String(repeating: c, count: n - count) + self
    }
}
