"""Limits written to a container's cgroup: finding its files, and the order of writes."""

from pathlib import Path

import pytest

from service.sandbox import cgroups

ID = "4f" * 32


def proc_with(tmp_path: Path, pid: int, text: str) -> Path:
    proc = tmp_path / "proc"
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "cgroup").write_text(text)
    return proc


def make_files(root: Path, names: dict[str, str]) -> None:
    for name, value in names.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value)


V1 = (
    "12:pids:/docker/{id}\n11:cpu,cpuacct:/docker/{id}\n10:memory:/docker/{id}\n"
    "1:name=systemd:/docker/{id}\n0::/\n"
)


def test_v1_files_are_found_in_each_controllers_hierarchy(tmp_path):
    root = tmp_path / "cgroup"
    make_files(
        root,
        {
            f"cpu,cpuacct/docker/{ID}/cpu.cfs_quota_us": "100000",
            f"cpu,cpuacct/docker/{ID}/cpu.cfs_period_us": "200000",
            f"memory/docker/{ID}/memory.limit_in_bytes": str(400 << 20),
            f"memory/docker/{ID}/memory.memsw.limit_in_bytes": str(400 << 20),
        },
    )
    files = cgroups.find(ID, 4242, root=root, proc=proc_with(tmp_path, 4242, V1.format(id=ID)))
    assert files == cgroups.CgroupFiles(
        root / f"cpu,cpuacct/docker/{ID}", root / f"memory/docker/{ID}", unified=False
    )
    files.set_cpus(1.0, 200_000)
    assert (files.cpu / "cpu.cfs_quota_us").read_text() == "200000"
    assert (files.cpu / "cpu.cfs_period_us").read_text() == "200000"


def test_v2_files_are_the_unified_hierarchys(tmp_path):
    root = tmp_path / "cgroup"
    scope = f"system.slice/docker-{ID}.scope"
    make_files(root, {f"{scope}/cpu.max": "100000 200000", f"{scope}/memory.max": "419430400"})
    proc = proc_with(tmp_path, 7, f"0::/{scope}\n")
    files = cgroups.find(ID, 7, root=root, proc=proc)
    assert files is not None and files.unified
    files.set_cpus(0.5, 200_000)
    files.set_memory(64 << 20, 400 << 20)
    assert (root / scope / "cpu.max").read_text() == "100000 200000"
    assert (root / scope / "memory.max").read_text() == str(64 << 20)


@pytest.mark.parametrize(
    "text",
    [
        "11:cpu,cpuacct:/docker/someone-else\n10:memory:/docker/someone-else\n",  # not its id
        f"11:cpu,cpuacct:/docker/{ID}\n",  # no memory controller
        "garbage\n",
    ],
)
def test_a_cgroup_not_named_for_the_container_is_never_taken(tmp_path, text):
    root = tmp_path / "cgroup"
    make_files(
        root,
        {
            "cpu,cpuacct/docker/someone-else/cpu.cfs_quota_us": "1",
            "memory/docker/someone-else/memory.limit_in_bytes": "1",
            f"cpu,cpuacct/docker/{ID}/cpu.cfs_quota_us": "1",
        },
    )
    assert cgroups.find(ID, 5, root=root, proc=proc_with(tmp_path, 5, text)) is None


def test_nothing_is_found_without_the_process_or_the_files(tmp_path):
    # The daemon in another pid namespace (Compose) does not see the container's process.
    assert cgroups.find(ID, 99, root=tmp_path, proc=tmp_path) is None
    assert cgroups.find(ID, 0) is None
    # It sees the process, but not the host's cgroup tree.
    proc = proc_with(tmp_path, 5, V1.format(id=ID))
    assert cgroups.find(ID, 5, root=tmp_path / "nothing", proc=proc) is None


def test_v1_memory_and_swap_limits_are_written_in_an_order_the_kernel_accepts(
    tmp_path, monkeypatch
):
    memory = tmp_path / "memory"
    make_files(memory, {"memory.limit_in_bytes": "0", "memory.memsw.limit_in_bytes": "0"})
    written: list[str] = []
    real = cgroups._write
    monkeypatch.setattr(
        cgroups, "_write", lambda path, value: (written.append(path.name), real(path, value))
    )
    files = cgroups.CgroupFiles(tmp_path / "cpu", memory, unified=False)
    # memory+swap may never be below memory: raised first, lowered last.
    files.set_memory(512 << 20, 400 << 20)
    assert written == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
    written.clear()
    files.set_memory(64 << 20, 512 << 20)
    assert written == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
    assert (memory / "memory.memsw.limit_in_bytes").read_text() == str(64 << 20)
    # Without swap accounting there is no memsw file: the limit alone.
    (memory / "memory.memsw.limit_in_bytes").unlink()
    written.clear()
    files.set_memory(128 << 20, 64 << 20)
    assert written == ["memory.limit_in_bytes"]
