import Foundation

/// Catches SIGINT, SIGTERM and SIGUSR1 (Slurm's warning before a time limit) while a sweep runs:
/// the first asks every run to checkpoint at its next update and stop; a second one exits
/// at once. The process then exits 128 + the signal: 130 (INT), 143 (TERM), 138 (USR1).
final class SignalTrap: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var first: Int32? = nil

    init(_ onFirst: @escaping @Sendable (Int32) -> Void) {
        for sig in SignalTrap.signals {
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

    static let signals = [SIGINT, SIGTERM, SIGUSR1]

    var caught: Int32? {
        lock.lock(); defer { lock.unlock() }
        return first
    }

    func release() {
        for s in sources { s.cancel() }
        sources = []
        for sig in SignalTrap.signals { signal(sig, SIG_DFL) }
    }
}
