"""The worker agent: PID 1 of every hardened worker container.

The agent prepares a build directory, runs untrusted programs in it as the job
user (the container's job uid, no capabilities, under limits, one more seccomp
filter and a Landlock ruleset), and resets the container between jobs: it kills
every job process and wipes everything a job can write, then verifies that
nothing is left. It speaks the
protocol of :mod:`agent.protocol` with the host over its stdin and stdout, one
JSON message per line; diagnostics go to stderr.

Standard library only: the worker image has nothing but Debian's python3. The
modules, from the outside in:

    __main__   entry point (the image runs ``python3 -I -u /opt/code-engine``,
               see worker/Dockerfile)
    loop       start-up (PID 1 check, signals, SIGCHLD wakeup pipe, mallopt)
               and the message loop, writing whole lines
    protocol   every message between host and agent; shared with the host
    jobs       the Agent: job, run and finish requests; reset, cleanup, verify
    steps      running one step: spawning, the selector loop, output capture,
               measuring
    warm       interpreters started ahead of the runs that will use them
    forkserver warm Pythons forked from one interpreter started per container
    jail       what a job process gets before exec: rlimits, oom_score_adj,
               SCHED_IDLE, the switch to the job user
    seccomp    the job's own seccomp filter (no io_uring)
    processes  the container's other processes: kill_all, reaping, OOM counts
    files      descriptor-relative, O_NOFOLLOW file work: the job's files and
               directories, wiping, locking the build read-only
    ipc        System V IPC objects: listing and removing them
    errors     the agent's exception tree
    log        diagnostics on stderr
    libc       the C library, for prctl, mallopt and the IPC control calls
"""
