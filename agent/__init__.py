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
    step_runner running one step: the selector loop, output capture, measuring
    interaction a run against a problem's interactor; relay carries the job's
               output to it under gVisor
    warm       interpreters started ahead of the runs that will use them
    forkserver warm Pythons forked from one interpreter started per container
    layout     the container's directories and job uids (shared with the host)
    jail       the one way a job's process starts (Jail, spawn): rlimits,
               oom_score_adj, signals, SCHED_IDLE, the job user, Landlock, seccomp
    seccomp    the job's own seccomp filter (no io_uring)
    landlock   the ruleset that hides the container's cgroup files from jobs
    processes  the container's other processes: kill_all, kill_user, reaping,
               OOM counts, the no-job-process precondition
    leftovers  what outlives a job's processes: descriptors in flight, inet
               sockets, tmpfs space no name holds
    files      descriptor-relative, O_NOFOLLOW file work: the job's files and
               directories, wiping, locking the build read-only
    ipc        System V IPC objects: listing and removing them (as their creator)
    cputime    the CPU time of all of a step's processes
    memory     the guest's memory watch under gVisor
    environment the agent's start-up environment, erased once read
    errors     the agent's exception tree
    log        diagnostics on stderr
    libc       the C library, for prctl, mallopt and the IPC control calls
"""
