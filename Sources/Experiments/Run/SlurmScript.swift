import Foundation

/// Writes the sbatch scripts of `rnn-exp slurm`: a job array whose task `i` runs
/// `rnn-exp run FILE... --shard i/N --jobs C`, and a summary job that runs after every task
/// (`--dependency=afterany`) and regenerates `summary.csv` and `metrics.csv`.
///
/// What this relies on, for many nodes writing one results folder: the folder is on a shared
/// filesystem (NFS, Lustre, GPFS) where `rename` within a folder is atomic and `flock` is
/// honoured across hosts (Linux NFSv4 clients map it to the server's locks). Each run is
/// claimed by one process at a time, every file lands by rename, and `status` is written last,
/// so tasks never interleave partial files, and resubmitting the same scripts runs only what is
/// missing or failed.
public struct SlurmScript: Sendable {
    public var files: [String]
    public var overrides: [String]
    /// `--only` selections, passed on to every task's `rnn-exp run` (and the summary job's).
    public var only: [String] = []
    public var results: String
    public var tasks: Int
    public var parallel: Int?
    public var time: String?
    public var cpusPerTask: Int
    public var partition: String?
    public var output: String
    public var extraArguments: [String]
    /// Seconds before the time limit at which Slurm signals the task (USR1) to checkpoint.
    public var grace: Int
    /// Absolute path of the rnn-exp binary the nodes run.
    public var binary: String
    /// Folder the tasks run in (relative paths in the command resolve from there).
    public var workingDirectory: String
    public var name: String

    public init(files: [String], overrides: [String], only: [String] = [], results: String, tasks: Int, parallel: Int?, time: String?,
                cpusPerTask: Int, partition: String?, output: String, extraArguments: [String],
                grace: Int = SlurmScript.defaultGrace, binary: String, workingDirectory: String, name: String) {
        self.grace = grace
        self.files = files; self.overrides = overrides; self.only = only; self.results = results; self.tasks = tasks
        self.parallel = parallel; self.time = time; self.cpusPerTask = cpusPerTask; self.partition = partition
        self.output = output; self.extraArguments = extraArguments; self.binary = binary
        self.workingDirectory = workingDirectory; self.name = name
    }

    /// Seconds of warning before a time limit: ample for every running run to finish its update and
    /// write a checkpoint (well under a second on the example models, inside an epoch too).
    public static let defaultGrace = 120

    /// The exit status of `rnn-exp run` stopped by SIGUSR1 (128 + 10) after checkpointing.
    public static let stoppedBySignalStatus = 138

    /// Array tasks when the user names none: one per run, at most this many.
    public static let defaultMaxTasks = 16

    /// A Slurm time limit: `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`.
    public static func isTimeLimit(_ text: String) -> Bool {
        text.range(of: #"^(\d+-)?\d{1,2}(:\d{2}){0,2}$"#, options: .regularExpression) != nil
    }

    /// Writes both scripts (executable) into `output`, and `output/logs/` for the tasks' logs.
    public func write() throws(WriteError) {
        try AtomicFile.makeDirectory("\(output)/logs")
        try AtomicFile.write(arrayScript, to: arrayPath)
        try AtomicFile.write(summaryScript, to: summaryPath)
        chmod(arrayPath, 0o755)
        chmod(summaryPath, 0o755)
    }

    /// Single-quotes a word for the shell.
    static func shellQuote(_ s: String) -> String {
        if !s.isEmpty && s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,+%@".contains($0) }) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    var commonArguments: [String] {
        files + overrides.flatMap { ["--set", $0] } + only.flatMap { ["--only", $0] } + ["--results", results]
    }

    func header(jobName: String, array: Bool) -> [String] {
        var lines = ["#!/bin/bash", "# Written by rnn-exp slurm. Submitting it again runs only what is missing.",
                     "#SBATCH --job-name=\(Self.shellQuote(jobName))"]
        if array {
            lines.append("#SBATCH --array=0-\(tasks - 1)" + (parallel.map { "%\($0)" } ?? ""))
            lines.append("#SBATCH --cpus-per-task=\(cpusPerTask)")
            lines.append("#SBATCH --output=\(Self.shellQuote(output))/logs/%x-%A_%a.out")
            lines.append("#SBATCH --signal=B:USR1@\(grace)")
            lines.append("#SBATCH --requeue")
            lines.append("#SBATCH --open-mode=append")  // a requeued task's log keeps every start
        } else {
            lines.append("#SBATCH --cpus-per-task=1")
            lines.append("#SBATCH --output=\(Self.shellQuote(output))/logs/%x-%j.out")
        }
        if let t = time { lines.append("#SBATCH --time=\(t)") }
        if let p = partition { lines.append("#SBATCH --partition=\(Self.shellQuote(p))") }
        for a in extraArguments { lines.append("#SBATCH \(a)") }
        lines += ["", "set -u", "cd \(Self.shellQuote(workingDirectory)) || exit 1"]
        return lines
    }

    /// The array job: task i trains shard i of N and exits with the run status (0 all done,
    /// 1 some run failed or diverged), so Slurm records failed tasks as FAILED. Before its time
    /// limit (or a preemption) Slurm sends the batch shell USR1 (`--signal=B:USR1@grace`); the
    /// script passes it on, rnn-exp checkpoints every running run and exits 138, and the task
    /// requeues itself (`--requeue`): when it starts again, every run continues where it stopped.
    public var arrayScript: String {
        var lines = header(jobName: "rnn-exp-\(name)", array: true)
        lines.append("export OPENBLAS_NUM_THREADS=1")
        let args = ["run"] + commonArguments + ["--shard", "${SLURM_ARRAY_TASK_ID}/\(tasks)", "--jobs", "\(cpusPerTask)"]
        lines.append(Self.shellQuote(binary) + " " + args.map { $0.hasPrefix("${") ? "\"\($0)\"" : Self.shellQuote($0) }.joined(separator: " ") + " &")
        lines += [
            "pid=$!",
            "trap 'kill -USR1 \"$pid\" 2>/dev/null' USR1",
            "while :; do wait \"$pid\"; status=$?; kill -0 \"$pid\" 2>/dev/null || break; done",
            "if [ \"$status\" -eq \(Self.stoppedBySignalStatus) ]; then",
            "  echo \"rnn-exp: checkpointed before the time limit; requeueing task $SLURM_JOB_ID\"",
            "  scontrol requeue \"$SLURM_JOB_ID\" && exit 0",
            "fi",
            "exit \"$status\"",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// The summary job: regenerates the aggregated files once every task has ended.
    public var summaryScript: String {
        var lines = header(jobName: "rnn-exp-\(name)-summary", array: false)
        let args = ["summarize"] + commonArguments
        lines.append("exec \(Self.shellQuote(binary)) " + args.map(Self.shellQuote).joined(separator: " "))
        return lines.joined(separator: "\n") + "\n"
    }

    public var arrayPath: String { "\(output)/rnn-exp-\(name).sbatch" }
    public var summaryPath: String { "\(output)/rnn-exp-\(name)-summary.sbatch" }

    /// The commands that submit both jobs, the summary after the array (without waiting).
    public var submitCommands: String {
        "jid=$(sbatch --parsable \(Self.shellQuote(arrayPath))) && sbatch --dependency=afterany:${jid%%;*} \(Self.shellQuote(summaryPath))"
    }
}
