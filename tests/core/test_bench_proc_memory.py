"""bench/proc_memory.py reports each process's own peak memory, not an inherited one."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench.proc_memory import PeakSampler, descendants, reset_peak

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")

# Holds 80 MB for a moment, then frees it and waits to be stopped.
HOG = (
    "import sys, time\n"
    "b = bytearray(80 * 1024 * 1024)\n"
    "for i in range(0, len(b), 4096): b[i] = 1\n"
    "time.sleep(0.6)\n"
    "del b\n"
    "print('freed', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_a_child_s_peak_is_its_own_and_outlives_the_memory():
    ballast = bytearray(160 * 1024 * 1024)  # this process's peak is now above 160 MB
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    child = subprocess.Popen([sys.executable, "-c", HOG], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        with PeakSampler(lambda: [os.getpid()], interval=0.05) as sampler:
            assert child.stdout.readline().strip() == "freed"  # the 80 MB are gone now
            time.sleep(0.2)
        peaks = {p.pid: p for p in sampler.peaks}
        assert child.pid in descendants([os.getpid()])
        assert peaks[child.pid].depth == 1
        assert peaks[child.pid].peak_mb >= 80  # VmHWM keeps the high-water mark
        assert peaks[child.pid].anon_mb >= 80  # sampled while it was held: its own heap
        me = peaks[os.getpid()]
        assert me.depth == 0
        assert me.peak_mb >= 160
        # The child's own: its 80 MB and an interpreter, not the parent's 160 MB or more.
        assert peaks[child.pid].peak_mb < 150
    finally:
        child.stdin.close()
        child.wait(timeout=10)
        del ballast


def test_reset_peak_lowers_a_long_lived_process_s_high_water_mark():
    child = subprocess.Popen([sys.executable, "-c", HOG], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "freed"
        with PeakSampler(lambda: [child.pid], interval=0.05, descend=False) as before:
            pass
        reset_peak([child.pid])
        with PeakSampler(lambda: [child.pid], interval=0.05, descend=False) as after:
            pass
        [b], [a] = before.peaks, after.peaks
        assert b.peak_mb >= 80
        assert a.peak_mb < 60  # only what it holds now
    finally:
        child.stdin.close()
        child.wait(timeout=10)
