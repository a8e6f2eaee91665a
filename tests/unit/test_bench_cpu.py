"""`bench.cpu`: CPU time by process group, with a real child process burning CPU."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil

from bench.cpu import CpuLedger, Group

BURN_SECONDS = 0.3
# Burns CPU, then waits to be stopped: it is measured alive, as the benchmarks' servers are.
_BURNER = (
    f"import time\nend = time.process_time() + {BURN_SECONDS}\n"
    "while time.process_time() < end: pass\ntime.sleep(60)"
)


def test_a_group_counts_its_descendants_when_asked() -> None:
    burner = subprocess.Popen([sys.executable, "-c", _BURNER])
    try:
        me = os.getpid()
        ledger = CpuLedger(
            [
                Group("with the burner", [me], descendants=True),
                Group("without it", [me]),
                Group("the burner", [burner.pid]),
            ]
        )
        ledger.start()
        deadline = time.monotonic() + 30
        process = psutil.Process(burner.pid)
        while sum(process.cpu_times()[:2]) < BURN_SECONDS and time.monotonic() < deadline:
            time.sleep(0.02)
        ledger.stop()
    finally:
        burner.kill()
        burner.wait()

    burned = ledger.used["the burner"]
    assert burned >= BURN_SECONDS * 0.8
    # The groups are read one after another: this process may tick in between.
    assert abs(ledger.used["with the burner"] - ledger.used["without it"] - burned) < 0.05
    assert ledger.used["without it"] < burned / 2
