"""Resident memory of a process from /proc: current RSS, peak RSS (VmHWM), and resetting the peak."""

from __future__ import annotations

from pathlib import Path


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise ValueError(f"/proc/{pid}/status has no {field}")


def rss_mib(pid: int) -> float:
    """Current resident set size in MiB."""
    return _status_kib(pid, "VmRSS") / 1024


def peak_rss_mib(pid: int) -> float:
    """Peak resident set size (VmHWM) in MiB since start or the last reset."""
    return _status_kib(pid, "VmHWM") / 1024


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (writes 5 to /proc/PID/clear_refs); False where not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (from /proc/PID/task/*/children)."""
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            pending += [int(child) for child in children.read_text().split()]
    return pids


def tree_rss_mib(pid: int) -> float:
    """Current RSS of `pid` and its descendants together, in MiB (shared pages counted in each)."""
    return sum(rss_mib(p) for p in process_tree(pid))


def tree_peak_rss_mib(pid: int) -> float:
    """Sum of the peaks (VmHWM) of `pid` and its descendants: an upper bound of their peak together."""
    return sum(peak_rss_mib(p) for p in process_tree(pid))


def tree_reset_peak(pid: int) -> bool:
    """reset_peak for `pid` and every descendant; False where one was not permitted."""
    return all([reset_peak(p) for p in process_tree(pid)])
