"""The cores and memory this process may use, read from the container's cgroup limits.

A shared server often shows all of its host's cores and memory; a sweep's worker count
and a server's capacity limits come from the container's CPU quota and memory limit
instead (cgroup v2 or v1), and from ``/proc/meminfo``.
"""

from __future__ import annotations

import math
import os

__all__ = ["WORKERS_ENV", "WORKER_MEMORY_BYTES", "available_memory", "default_workers",
           "usable_cores"]

# A worker holds its own TensorFlow: about 0.85 GB resident once it has trained a run
# (measured on the reference run with XLA).
WORKER_MEMORY_BYTES = 900 * 2**20
WORKERS_ENV = "DEEPREPLAY_SWEEP_WORKERS"


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _cgroup_cpus() -> float | None:
    """The CPU quota of this container in cores (cgroup v2 or v1), None when unlimited."""
    v2 = _read("/sys/fs/cgroup/cpu.max")
    if v2:
        quota, _, period = v2.partition(" ")
        if quota != "max" and period:
            return int(quota) / int(period)
        return None
    quota, period = (_read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                     _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))
    if quota and period and int(quota) > 0:
        return int(quota) / int(period)
    return None


def _available_memory() -> int | None:
    """Bytes this process could still use: the container's limit less its usage, or the
    machine's available memory, whichever is smaller; None when unknown."""
    values = []
    for limit_path, usage_path in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read(limit_path), _read(usage_path)
        if limit and usage and limit.isdigit() and usage.isdigit() and int(limit) < 2**60:
            values.append(int(limit) - int(usage))
    meminfo = _read("/proc/meminfo") or ""
    for line in meminfo.splitlines():
        if line.startswith("MemAvailable:"):
            values.append(int(line.split()[1]) * 1024)
    return min(values) if values else None


def usable_cores() -> int:
    """The cores this process may run on, capped by a container's CPU quota (a shared
    server often shows all of the host's cores); at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_cpus()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, int(cores))


def available_memory() -> int | None:
    """Bytes this process could still use (see ``_available_memory``); None when unknown."""
    return _available_memory()


def default_workers() -> int:
    """One worker per core this process may use, as far as memory allows.

    Cores are those of :func:`usable_cores`; each worker needs about
    ``WORKER_MEMORY_BYTES`` of the memory available now. ``DEEPREPLAY_SWEEP_WORKERS``
    sets an upper bound.
    """
    cores = usable_cores()
    memory = _available_memory()
    if memory is not None:
        cores = min(cores, max(1, memory // WORKER_MEMORY_BYTES))
    cap = os.environ.get(WORKERS_ENV, "").strip()
    if cap.isdigit() and int(cap) >= 1:
        cores = min(cores, int(cap))
    return max(1, int(cores))
