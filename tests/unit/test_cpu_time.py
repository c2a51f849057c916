"""CPU time limits: what a request may ask for, how the agent counts, what the reply says."""

import base64
import json
import os
import shutil
import time

import pytest

from agent import cputime
from service.config import Settings
from service.errors import ConfigError, InvalidRequest
from service.jobs.outcome import error_text, verdict
from service.requests import limits_for, parse_request
from service.testing import step_result
from service.testing.waiting import wait_until
from wire import Kind, Status


def request(settings: Settings | None = None, **fields: object):
    settings = settings or Settings.from_env({})
    body = {"language": "python", "code": base64.b64encode(b"print(1)").decode(), **fields}
    return parse_request(
        json.dumps(body).encode(), Kind.COMPILER, limits_for(Kind.COMPILER, settings)
    )


def test_the_cpu_limit_defaults_to_the_wall_limit():
    assert request().limits.cpu_time_limit_ms == 10_000
    assert request(timeout_ms=1500).limits.cpu_time_limit_ms == 1500


def test_the_cpu_limit_is_clamped_to_the_server_maximum():
    assert request(cpu_time_limit_ms=50_000).limits.cpu_time_limit_ms == 10_000
    settings = Settings.from_env({"CODE_ENGINE_MAX_CPU_TIME_MS": "2000"})
    assert request(settings, cpu_time_limit_ms=5000).limits.cpu_time_limit_ms == 2000
    assert request(settings, timeout_ms=9000).limits.cpu_time_limit_ms == 2000
    assert request(settings, cpu_time_limit_ms=700).limits.cpu_time_limit_ms == 700


def test_a_cpu_limit_below_one_is_refused():
    with pytest.raises(InvalidRequest, match="cpu_time_limit_ms must be at least 1, got 0"):
        request(cpu_time_limit_ms=0)


def test_a_negative_maximum_is_a_config_error():
    with pytest.raises(ConfigError, match="CODE_ENGINE_MAX_CPU_TIME_MS"):
        Settings.from_env({"CODE_ENGINE_MAX_CPU_TIME_MS": "-1"})


def test_the_error_names_the_limit_that_stopped_the_program():
    limited = request(timeout_ms=2000, cpu_time_limit_ms=1000)
    cpu = step_result(cpu_exceeded=True, exit_code=None, signal=9, cpu_ms=1004.0)
    wall = step_result(timed_out=True, exit_code=None, signal=9)
    assert verdict(cpu, limited.language) is verdict(wall, limited.language) is Status.TIMEOUT
    assert error_text(cpu, Status.TIMEOUT, limited) == "CPU time limit exceeded (1000 ms)"
    assert error_text(wall, Status.TIMEOUT, limited) == "wall-clock limit exceeded (2000 ms)"


def test_the_meter_counts_the_cgroup_minus_the_agent(tmp_path, monkeypatch):
    counter = tmp_path / "cpuacct.usage"
    counter.write_text("1000000000\n")
    monkeypatch.setattr(cputime, "_COUNTERS", ((str(counter), "ns"),))
    agent_seconds = iter([10.0, 10.25])
    monkeypatch.setattr(cputime.time, "process_time", lambda: next(agent_seconds))
    meter = cputime.CpuMeter()
    assert meter.exact
    counter.write_text("2500000000\n")  # 1.5 s more, 0.25 s of it the agent's
    assert meter.used_ms() == pytest.approx(1250.0)
    meter.close()


def test_the_meter_reads_cgroup_v2(tmp_path, monkeypatch):
    stat = tmp_path / "cpu.stat"
    stat.write_text("usage_usec 100\nuser_usec 60\nsystem_usec 40\n")
    monkeypatch.setattr(cputime, "_COUNTERS", ((str(stat), "usage_usec"),))
    monkeypatch.setattr(cputime.time, "process_time", lambda: 0.0)
    meter = cputime.CpuMeter()
    stat.write_text("usage_usec 20100\nuser_usec 60\nsystem_usec 40\n")
    assert meter.used_ms() == pytest.approx(20.0)
    meter.close()


def test_without_a_counter_the_process_table_counts_live_and_reaped_processes(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(cputime, "_COUNTERS", ((str(tmp_path / "missing"), "ns"),))
    # On a host the process table is everyone's: this test's table holds its child alone.
    table = tmp_path / "proc"
    table.mkdir()
    monkeypatch.setattr(cputime, "PROC", str(table))
    meter = cputime.CpuMeter()
    assert not meter.exact
    before = meter.used_ms()
    assert before is not None and before < 50
    # A live child spinning, then the same child reaped: both times count.
    child = os.fork()
    if child == 0:
        end = time.process_time() + 0.3
        while time.process_time() < end:
            pass
        os._exit(0)
    (table / str(child)).symlink_to(f"/proc/{child}")
    wait_until(
        lambda: (meter.used_ms() or 0.0) >= 150,
        timeout=10,
        interval=0.01,
        what="150 ms of the spinning child's CPU time",
    )
    live = meter.used_ms()
    assert live is not None and live >= 150, live
    os.waitpid(child, 0)
    reaped = meter.used_ms()
    assert reaped is not None and 280 <= reaped < 400, reaped
    meter.close()


def test_the_process_table_leaves_out_the_agent_and_reads_every_tick_field(tmp_path):
    me = tmp_path / str(os.getpid())
    other = tmp_path / "4242"
    for directory in (me, other):
        directory.mkdir()
    # comm with a ") " in it; utime 7, stime 3, cutime 20, cstime 10 (ticks).
    line = "4242 (odd) name) S 1 1 1 0 -1 0 0 0 0 0 7 3 20 10 20 0 1 0 5 0 0\n"
    (other / "stat").write_text(line)
    (me / "stat").write_text(line.replace("4242", str(os.getpid()), 1))
    (tmp_path / "self").mkdir()
    counted = cputime._process_table_s(str(tmp_path))
    assert counted is not None
    assert counted - cputime._children_s() == pytest.approx(40 / cputime._TICKS)


def test_a_process_table_figure_is_held_to_the_wall_time_times_the_cpus(tmp_path, monkeypatch):
    # gVisor's accounting once summed 10 s of CPU over 1.3 s of wall time at half a CPU.
    monkeypatch.setattr(cputime, "_COUNTERS", ((str(tmp_path / "missing"), "ns"),))
    table = tmp_path / "proc"
    table.mkdir()
    monkeypatch.setattr(cputime, "PROC", str(table))
    clock = [100.0]
    monkeypatch.setattr(cputime.time, "monotonic", lambda: clock[0])
    held = cputime.CpuMeter(ceiling=0.5)
    as_read = cputime.CpuMeter(ceiling=None)
    busy = table / "4242"
    busy.mkdir()
    ticks = 10 * cputime._TICKS  # 10 s in utime
    (busy / "stat").write_text(f"4242 (spin) R 1 1 1 0 -1 0 0 0 0 0 {ticks} 0 0 0 20 0 1 0 5\n")
    clock[0] += 1.3
    assert held.used_ms() == pytest.approx(650.0)
    assert as_read.used_ms() == pytest.approx(10_000.0, abs=1000)  # plus this test's own children


def test_the_cpu_ceiling_comes_from_the_host():
    assert cputime._cpu_ceiling({"CODE_ENGINE_JOB_CPUS": "1.5"}) == 1.5
    assert cputime._cpu_ceiling({"CODE_ENGINE_JOB_CPUS": "junk"}) is None
    assert cputime._cpu_ceiling({"CODE_ENGINE_JOB_CPUS": "0"}) is None
    assert cputime._cpu_ceiling({}) is None


def test_a_child_reaped_in_the_middle_of_a_scan_is_not_lost(tmp_path, monkeypatch):
    # The interactor (pid 4242) is read, then its helper (4243) exits and is reaped
    # before its own entry is read: that scan lacks the helper's 60 ticks, and the
    # one taken again finds them in the interactor's cutime.
    line = "{pid} (python3) S 1 1 1 0 -1 0 0 0 0 0 {utime} 0 {cutime} 0 20 0 1 0 5 0 0\n"
    for pid, utime in ((4242, 5), (4243, 60)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(line.format(pid=pid, utime=utime, cutime=0))
    read = cputime._ticks

    def reaped_while_read(proc: str, pid: str) -> int:
        ticks = read(proc, pid)
        if pid == "4242" and (tmp_path / "4243").exists():
            shutil.rmtree(tmp_path / "4243")
            (tmp_path / "4242" / "stat").write_text(line.format(pid=4242, utime=5, cutime=60))
        return ticks

    monkeypatch.setattr(cputime, "_ticks", reaped_while_read)
    assert cputime._scan(str(tmp_path), lambda pid: True) == 65


def test_a_scan_that_keeps_losing_processes_keeps_its_largest_count(tmp_path, monkeypatch):
    (tmp_path / "4242").mkdir()
    counts = iter([30, 50, 40])

    def churning(proc: str, pid: str) -> int:
        if pid == "4243":
            raise FileNotFoundError(pid)
        return next(counts)

    (tmp_path / "4243").mkdir()
    monkeypatch.setattr(cputime, "_ticks", churning)
    assert cputime._scan(str(tmp_path), lambda pid: True) == 50
