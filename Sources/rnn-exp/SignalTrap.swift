import Foundation

/// Catches SIGINT and SIGTERM while a sweep runs: the first asks for a clean stop, a second one
/// exits at once.
final class SignalTrap: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var first: Int32? = nil

    init(_ onFirst: @escaping @Sendable (Int32) -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.lock.lock()
                let again = self.first != nil
                if !again { self.first = sig }
                self.lock.unlock()
                if again { exit(128 + sig) }
                onFirst(sig)
            }
            source.resume()
            sources.append(source)
        }
    }

    var caught: Int32? {
        lock.lock(); defer { lock.unlock() }
        return first
    }

    func release() {
        for s in sources { s.cancel() }
        sources = []
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
