"""The printed report: tables from the results dict, and the verdict on each target."""

from __future__ import annotations

from typing import Any

from benchmarks.figures import dig, ms, ratio, stat, table
from benchmarks.programs import PROGRAMS
from benchmarks.targets import host_p50, rate, share, targets

HELLO = "python hello"


def _machine(results: dict[str, Any]) -> str:
    machine = results.get("machine") or {}
    rows = [
        ("cpu", machine.get("cpu")),
        ("cores", machine.get("cores")),
        ("memory", machine.get("memory")),
        ("os", machine.get("os")),
        ("kernel", machine.get("kernel")),
        ("docker", machine.get("docker")),
        (
            "load average at start / end",
            f"{machine.get('load_average')} / {machine.get('load_average_end', '?')}",
        ),
        ("cores busy just before the run", machine.get("busy_cores_before")),
        ("worker image", machine.get("image")),
    ]
    for tool, version in (machine.get("host_tools") or {}).items():
        image_version = (machine.get("image_tools") or {}).get(tool, "?")
        rows.append((f"{tool} (host / image)", f"{version} / {image_version}"))
    others = machine.get("other_containers") or []
    rows.append(("other running containers at start", str(len(others))))
    settings = dig(results, "engine", "settings")
    if settings:
        rows.append(("engine settings", ", ".join(f"{k}={v}" for k, v in settings.items())))
    rows.append(("mode", "quick" if results.get("quick") else "full"))
    width = max(len(key) for key, _ in rows)
    return "\n".join(["== machine ==", *(f"{k:<{width}}  {v}" for k, v in rows), ""])


def _overview(results: dict[str, Any]) -> str:
    rows = []
    for program in PROGRAMS:
        label = program.label
        base = host_p50(results, label)
        engine = stat(dig(results, "engine", "sequential", label, "e2e"))
        docker = stat(dig(results, "docker_run", label))
        pooled = (
            stat(dig(results, "peer", "pooled", program.kind))
            if program.language == "python"
            else None
        )
        fresh = (
            stat(dig(results, "peer", "session_per_run", program.kind))
            if program.language == "python"
            else None
        )
        missing = dig(results, "host", "sequential", label, "missing")
        rows.append(
            [
                label,
                f"n/a ({missing} not on host)" if missing else ms(base),
                ms(docker),
                ms(pooled),
                ms(fresh),
                ms(engine),
                ratio(engine, base),
                ratio(docker, base),
            ]
        )
    headers = [
        "program (p50 ms)",
        "bare host",
        "docker run",
        "llm-sandbox pooled",
        "llm-sandbox session/run",
        "engine e2e",
        "engine/host",
        "docker/host",
    ]
    note = "compiled languages: compile + run every time (fresh Go build cache, as in the engine)\n"
    return table("latency, sequential (p50 ms)", headers, rows) + note


def _host(results: dict[str, Any]) -> str:
    rows = []
    for program in PROGRAMS:
        data = dig(results, "host", "sequential", program.label) or {}
        if "missing" in data:
            missing = f"n/a ({data['missing']} not installed)"
            rows.append([program.label, "-", missing, "", "", "", ""])
            continue
        rows.append(
            [
                program.label,
                dig(data, "total", "n") or "-",
                ms(stat(data.get("compile"))),
                ms(stat(data.get("run"))),
                ms(stat(data.get("total"))),
                ms(stat(data.get("total"), "p95")),
                ms(stat(data.get("cpu"))),
            ]
        )
    headers = ["program", "n", "compile p50", "run p50", "total p50", "total p95", "CPU p50"]
    return table("bare host, sequential (ms)", headers, rows)


def _engine(results: dict[str, Any]) -> str:
    rows = []
    for program in PROGRAMS:
        data = dig(results, "engine", "sequential", program.label) or {}
        rows.append(
            [
                program.label,
                dig(data, "e2e", "n") or 0,
                ms(stat(data.get("e2e"))),
                ms(stat(data.get("e2e"), "p95")),
                ms(stat(data.get("e2e"), "p99")),
                ms(stat(data.get("compile"))),
                ms(stat(data.get("run"))),
                ms(stat(data.get("overhead"))),
                ms(stat(data.get("overhead"), "p95")),
                data.get("failures", "-"),
            ]
        )
    headers = [
        "program",
        "n",
        "e2e p50",
        "e2e p95",
        "e2e p99",
        "compile p50",
        "run p50",
        "overhead p50",
        "overhead p95",
        "failed",
    ]
    note = (
        "compile/run: measured by the agent inside the container; "
        "overhead = e2e - (compile + run), per request\n"
    )
    return table("engine end to end over NATS, sequential (ms)", headers, rows) + note


def _uncapped(results: dict[str, Any]) -> str:
    data = results.get("engine_uncapped") or {}
    if not data or "error" in data:
        return ""
    rows = []
    for program in PROGRAMS:
        item = data.get(program.label) or {}
        capped = stat(dig(results, "engine", "sequential", program.label, "e2e"))
        e2e = stat(item.get("e2e"))
        rows.append(
            [
                program.label,
                dig(item, "e2e", "n") or 0,
                ms(e2e),
                ms(stat(item.get("compile"))),
                ms(stat(item.get("run"))),
                ms(stat(item.get("overhead"))),
                ratio(e2e, host_p50(results, program.label)),
                ms(capped),
            ]
        )
    headers = [
        "program",
        "n",
        "e2e p50",
        "compile p50",
        "run p50",
        "overhead p50",
        "e2e/host",
        "capped e2e p50",
    ]
    title = f"engine with the CPU cap lifted (CODE_ENGINE_CPUS={data.get('cpus')}), sequential (ms)"
    return table(title, headers, rows)


def _peer(results: dict[str, Any]) -> str:
    peer = results.get("peer") or {}
    if "skipped" in peer or "error" in peer:
        return f"== llm-sandbox ==\n{peer.get('skipped') or peer.get('error')}\n"
    rows = []
    modes = (
        ("pooled", "pooled: a SandboxSession(pool=...) per request"),
        ("open_session", "one pooled session kept open, run() per request"),
        ("session_per_run", "a new SandboxSession (container) per request"),
    )
    for mode, description in modes:
        for kind, summary in (peer.get(mode) or {}).items():
            engine = stat(dig(results, "engine", "sequential", f"python {kind}", "e2e"))
            rows.append(
                [
                    description,
                    f"python {kind}",
                    summary.get("n"),
                    ms(stat(summary)),
                    ms(stat(summary, "p95")),
                    ms(engine),
                    ratio(stat(summary), engine),
                ]
            )
    headers = ["mode", "program", "n", "p50", "p95", "engine p50", "engine faster by"]
    title = f"llm-sandbox {peer.get('version', '')} on an image derived from the worker image (ms)"
    return table(title, headers, rows)


def _throughput(results: dict[str, Any]) -> str:
    rows = []
    capped = dig(results, "engine", "throughput") or {}
    lifted = dig(results, "engine_uncapped", "throughput") or {}
    for level in sorted({*capped, *lifted}, key=int):
        item, free = capped.get(level), lifted.get(level)
        h, e = rate(item, "host"), rate(item, "engine")
        fh, fe = rate(free, "host"), rate(free, "engine")
        rows.append(
            [
                level,
                f"{h:.1f}" if h else "n/a",
                f"{e:.1f}" if e else "n/a",
                share(e, h),
                ms(stat(dig(item, "engine", "latency"))),
                ms(stat(dig(item, "engine", "latency"), "p95")),
                dig(item, "engine", "failures") if item else "-",
                f"{fh:.1f}" if fh else "n/a",
                f"{fe:.1f}" if fe else "n/a",
                share(fe, fh),
            ]
        )
    headers = [
        "in flight",
        "host jobs/s",
        "engine jobs/s",
        "engine/host",
        "engine p50",
        "engine p95",
        "failed",
        "cap lifted: host",
        "engine",
        "engine/host",
    ]
    concurrency = dig(results, "engine", "settings", "concurrency")
    note = (
        "host: a pool of that many processes, measured right before the engine at each level;\n"
        f"engine: CODE_ENGINE_CONCURRENCY={concurrency}, the rest queued in the engine\n"
    )
    note += _bounds(results)
    return table("throughput, python hello (closed loop)", headers, rows) + note


def _bounds(results: dict[str, Any]) -> str:
    """What the CPU allows: the containers' cap, and all cores over everything a job costs."""
    settings = dig(results, "engine", "settings") or {}
    per_job = dig(results, "engine", "resources", "cpu_ms_per_job") or {}
    cores = dig(results, "machine", "cores")
    container_ms = per_job.get("engine's containers")
    if not settings or not container_ms or not cores:
        return ""
    capped = settings["concurrency"] * settings["cpus"]
    engine_ms = sum(v for k, v in per_job.items() if not k.startswith("machine"))
    return (
        f"CPU bounds: {settings['concurrency']} containers x {settings['cpus']} CPU = "
        f"{capped:g} CPUs / {container_ms:.1f} ms container CPU per job = "
        f"{capped * 1000 / container_ms:.0f} jobs/s; {cores} cores / {engine_ms:.1f} ms "
        f"engine CPU per job (all parties) = {cores * 1000 / engine_ms:.0f} jobs/s\n"
    )


def _breakdown(results: dict[str, Any]) -> str:
    sequential = dig(results, "engine", "sequential", HELLO) or {}
    overhead = stat(sequential.get("overhead"))
    echo = stat(dig(results, "engine", "nats_echo"))
    exchange = stat(dig(results, "agent", "jobs", HELLO, "agent_ms"))
    ping = stat(dig(results, "agent", "ping"))
    agent_work = daemon = None
    if exchange is not None and ping is not None:
        agent_work = exchange - ping
    if overhead is not None and exchange is not None and echo is not None:
        daemon = overhead - exchange - echo
    rows = [
        ["end to end through the engine", ms(stat(sequential.get("e2e")))],
        [
            "  program run step, measured by the agent (execution_time_ms)",
            ms(stat(sequential.get("run"))),
        ],
        ["  engine overhead: end to end - run step, per request", ms(overhead)],
        ["    NATS request-reply to a trivial responder (client + server)", ms(echo)],
        ["    agent exchange beyond the run step (direct: round trip - wall_ms)", ms(exchange)],
        ["      attach stream round trip (agent ping, through dockerd)", ms(ping)],
        ["      the agent's own work per job (exchange - ping)", ms(agent_work)],
        ["    the daemon's own share (overhead - exchange - NATS)", ms(daemon)],
        [
            "agent cleanup after the result, before its next job (not in the latency)",
            ms(stat(dig(results, "agent", "jobs", HELLO, "cleanup_after_result"))),
        ],
    ]
    for label, data in (dig(results, "agent", "jobs") or {}).items():
        if label != HELLO:
            rows.append(
                [
                    f"{label}: agent exchange beyond compile and run (direct)",
                    ms(stat(data.get("agent_ms"))),
                ]
            )
    note = (
        "p50s of separate measurements: the sub-rows add up only approximately; the direct\n"
        "agent exchange uses the engine's own container setup and job messages, no daemon\n"
    )
    return table("where the time goes, python hello (p50 ms)", ["", "ms"], rows) + note


def _cpu(results: dict[str, Any]) -> str:
    jobs = dig(results, "agent", "jobs") or {}
    rows = []
    for label, data in jobs.items():
        host = stat(dig(results, "host", "sequential", label, "cpu"))
        step = stat(data.get("step_cpu"))
        container = data.get("container_cpu_ms_per_job")
        rows.append(
            [
                label,
                ms(host),
                ms(step),
                ms(container),
                ms(container - step if container is not None and step is not None else None),
            ]
        )
    headers = [
        "program",
        "bare host",
        "in container: job processes",
        "whole container (cgroup)",
        "agent's share",
    ]
    note = (
        "job processes: rusage of the compile and run steps as the agent reports it; whole\n"
        "container: its cgroup, agent included, over sequential jobs sent directly to one agent\n"
    )
    return table("CPU per job (ms)", headers, rows) + note


def _resources(results: dict[str, Any]) -> str:
    data = dig(results, "engine", "resources")
    if not data:
        return ""
    idle = data.get("idle_cpu_ms_per_s") or {}
    rows = [
        [name, f"{value:.2f}", f"{idle[name]:.1f}" if name in idle else "n/a"]
        for name, value in data["cpu_ms_per_job"].items()
    ]
    title = (
        f"CPU per job over {data['jobs']} python hello jobs, {data['concurrency']} in flight "
        f"({data['jobs'] / data['elapsed_s']:.1f} jobs/s, {data['failures']} failed)"
    )
    text = table(title, ["who", "CPU ms/job", "idle: CPU ms/s"], rows)
    text += (
        "dockerd, containerd and the machine total are shared with everything else running\n"
        "on this host (see 'other running containers'); the daemon, nats-server, the client\n"
        "and the engine's containers (its cgroups, replaced ones included) are the engine's own\n\n"
    )
    rss = data["rss_kb"]
    text += table(
        "daemon RSS (KiB) after N jobs",
        ["jobs", "RSS"],
        [[jobs, kb if kb is not None else "n/a"] for jobs, kb in rss],
    )
    return text


def _profiles(results: dict[str, Any]) -> str:
    text = ""
    for title, data in (
        ("py-spy: the daemon under load (CPU samples)", dig(results, "engine", "profile")),
        ("py-spy: the agent, python hello (wall clock)", dig(results, "agent", "profile")),
    ):
        if not data:
            continue
        extra = ""
        if "daemon_cpu_ms_per_job" in data:
            extra = (
                f", {data['jobs_per_s']:.1f} jobs/s, daemon CPU "
                f"{data['daemon_cpu_ms_per_job']:.2f} ms/job while sampled"
            )
        rows = [[frame, f"{inc:.1%}", f"{own:.1%}"] for frame, inc, own in data["inclusive"]]
        text += table(
            f"{title}: {data['samples']} samples{extra}; {data['file']}",
            ["frame (inclusive)", "inclusive", "own"],
            rows,
        )
        text += table(
            "  where the samples fell (leaf frames)",
            ["frame", "share"],
            [[frame, f"{share:.1%}"] for frame, share in data["leaves"]],
        )
    return text


def render(results: dict[str, Any]) -> str:
    parts = [
        _machine(results),
        _overview(results),
        _host(results),
        _engine(results),
        _uncapped(results),
        _peer(results),
        _throughput(results),
        _breakdown(results),
        _cpu(results),
        _resources(results),
        _profiles(results),
        table("targets", ["target", "measured", "verdict"], targets(results)),
    ]
    errors = [
        f"{name}: {data['error']}"
        for name, data in results.items()
        if isinstance(data, dict) and "error" in data
    ]
    if errors:
        parts.append("== phases that failed ==\n" + "\n".join(errors) + "\n")
    return "\n".join(p for p in parts if p)
