"""A process's resident memory from /proc/self/status, for the benchmarks that report it (Linux)."""

from __future__ import annotations


def rss_mb(field: str = "VmRSS") -> float:
    """A memory field of this process in MB: VmRSS now, VmHWM its peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_rss_mb() -> float:
    """This process's own peak resident memory (VmHWM starts again at exec; ru_maxrss keeps the parent's)."""
    return rss_mb("VmHWM")
