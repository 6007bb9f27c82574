"""Memory and time of one process: peak RSS overall and per named stage."""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")


def own_peak_rss() -> int:
    """This process's peak resident set since it started its program, in bytes.

    The kernel's high-water mark of this program's memory (`VmHWM`), not `ru_maxrss`: Linux
    carries `ru_maxrss` across `exec`, so a child started by a 1 GiB parent reports 1 GiB.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    raise RuntimeError("/proc/self/status has no VmHWM line")


def reset_peak_rss() -> int:
    """Set this process's peak (`VmHWM`) back to its current resident set, which it returns in
    bytes: what a stage adds is then its own, whatever ran before it in the process."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return int(rss_mib() * MIB)


def peak_rss_mib() -> float:
    """This process's peak resident set so far (and its waited-for children's), in MiB."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    return max(own_peak_rss(), kids) / MIB


def rss_mib() -> float:
    """This process's current resident set, in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / MIB


@dataclass
class StageStats:
    """Seconds spent in a stage, and the highest RSS sampled while it ran (MiB)."""

    seconds: float = 0.0
    peak_rss_mib: float = 0.0
    calls: int = 0


@dataclass
class Stages:
    """Times named stages and samples RSS every `interval` s to find each stage's peak."""

    interval: float = 0.01
    stats: dict[str, StageStats] = field(default_factory=dict)
    _current: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Stages:
        """Start the RSS sampler thread."""
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the sampler."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @contextmanager
    def measure(self, label: str) -> Iterator[None]:
        """Time the block as stage `label` (nested stages count in both)."""
        stats = self.stats.setdefault(label, StageStats())
        self._current.append(label)
        started = time.perf_counter()
        try:
            yield
        finally:
            stats.seconds += time.perf_counter() - started
            stats.calls += 1
            self._note(rss_mib())
            self._current.remove(label)

    def _note(self, rss: float) -> None:
        for label in list(self._current):
            stats = self.stats[label]
            stats.peak_rss_mib = max(stats.peak_rss_mib, rss)

    def _sample(self) -> None:
        with open("/proc/self/statm") as f:
            while not self._stop.wait(self.interval):
                f.seek(0)
                self._note(int(f.read().split()[1]) * PAGE / MIB)
