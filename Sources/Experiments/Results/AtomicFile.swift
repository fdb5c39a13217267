import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@inline(__always)
private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}

/// A write that failed, with the path and the system's reason.
public struct WriteError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "cannot write \(path): \(reason)" }

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}

/// File writes that a killed process never leaves half done: the bytes go to a temporary file in
/// the same folder, are flushed to disk (fsync), then renamed over the target (atomic on POSIX
/// filesystems, NFS included). Readers see the old file or the new one, never a mix.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws(WriteError) {
        let dir = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let tmp = "\(dir)/.\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw WriteError(path: path, reason: String(cString: strerror(errno))) }
        var ok = true
        var reason = ""
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = systemWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    ok = false
                    reason = String(cString: strerror(errno))
                    return
                }
                offset += n
            }
        }
        if ok && fsync(fd) != 0 { ok = false; reason = String(cString: strerror(errno)) }
        if close(fd) != 0 && ok { ok = false; reason = String(cString: strerror(errno)) }
        guard ok else {
            unlink(tmp)
            throw WriteError(path: path, reason: reason)
        }
        guard rename(tmp, path) == 0 else {
            let r = String(cString: strerror(errno))
            unlink(tmp)
            throw WriteError(path: path, reason: r)
        }
    }

    public static func write(_ text: String, to path: String) throws(WriteError) {
        try write(Data(text.utf8), to: path)
    }

    /// Removes temporary files that killed writers left in `dir`. Call only while holding the
    /// lock that guards writes to that folder.
    public static func removeStaleTemporaries(in dir: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for name in names where name.hasPrefix(".") && name.contains(".tmp-") {
            unlink("\(dir)/\(name)")
        }
    }

    public static func makeDirectory(_ path: String) throws(WriteError) {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw WriteError(path: path, reason: (error as NSError).localizedDescription)
        }
    }
}

/// How the results store puts a file on disk. `AtomicFileWriter` in production; tests implement
/// it to simulate a failing disk (ENOSPC, EIO) at the I/O layer.
public protocol ResultsFileWriter: Sendable {
    func write(_ data: Data, to path: String) throws(WriteError)
}

extension ResultsFileWriter {
    public func write(_ text: String, to path: String) throws(WriteError) {
        try write(Data(text.utf8), to: path)
    }
}

/// Writes through `AtomicFile`: a killed process never leaves a file half written.
public struct AtomicFileWriter: ResultsFileWriter {
    public init() {}
    public func write(_ data: Data, to path: String) throws(WriteError) {
        try AtomicFile.write(data, to: path)
    }
}

/// How the results store reads its own files: the seam that lets tests count reads.
public protocol ResultsFileReader: Sendable {
    func contents(atPath path: String) -> Data?
    /// Identity of the file's current version (inode, modification time, size); nil when absent.
    /// Files are replaced by rename, so a new version has a new stamp.
    func stamp(atPath path: String) -> FileStamp?
}

public struct FileStamp: Sendable, Hashable {
    public let inode: UInt64
    public let modified: Int64   // nanoseconds
    public let size: Int64
}

/// Reads from the file system.
public struct FileSystemReader: ResultsFileReader {
    public init() {}
    public func contents(atPath path: String) -> Data? { FileManager.default.contents(atPath: path) }
    public func stamp(atPath path: String) -> FileStamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        #if canImport(Darwin)
        let ns = Int64(st.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(st.st_mtimespec.tv_nsec)
        #else
        let ns = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        #endif
        return FileStamp(inode: UInt64(st.st_ino), modified: ns, size: Int64(st.st_size))
    }
}

/// An exclusive advisory lock on a file (`flock`), released when the holder closes it or its
/// process dies — a `kill -9` never leaves a stale lock behind. On NFS, Linux maps `flock` onto
/// the server's byte-range locks (NFSv4), so runners on several hosts exclude each other too.
public final class FileLock: @unchecked Sendable {
    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Takes the lock without waiting; nil when another process holds it.
    public static func tryLock(_ path: String) throws(WriteError) -> FileLock? {
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw WriteError(path: path, reason: String(cString: strerror(errno))) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            return nil
        }
        return FileLock(fd: fd)
    }

    /// Waits for the lock.
    public static func lock(_ path: String) throws(WriteError) -> FileLock {
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw WriteError(path: path, reason: String(cString: strerror(errno))) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR {
                let r = String(cString: strerror(errno))
                close(fd)
                throw WriteError(path: path, reason: r)
            }
        }
        return FileLock(fd: fd)
    }

    public func unlock() {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { unlock() }
}
