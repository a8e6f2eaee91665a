"""`bench.runs.PeakRss`: the largest resident memory of each group's processes, sampled while they run,
with a real child process holding memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.runs import PeakRss, child_pids

HELD_MIB = 64
# Fills its memory, then waits to be stopped.
_HOLDER = f"import time\nheld = b'x' * ({HELD_MIB} * 2**20)\ntime.sleep(60)"


def test_groups_found_while_it_samples_count_and_empty_ones_are_left_out() -> None:
    me = os.getpid()
    with PeakRss({"this process": [me], "children": lambda: child_pids(me), "nobody": []}) as rss:
        # The child starts after sampling began: a function finds it where a list could not.
        holder = subprocess.Popen([sys.executable, "-c", _HOLDER])
        try:
            deadline = time.monotonic() + 30
            while rss.mib.get("children", 0.0) < HELD_MIB and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            holder.kill()
            holder.wait()

    assert list(rss.mib) == ["this process", "children"]
    assert rss.mib["children"] >= HELD_MIB
    assert rss.mib["this process"] > 10
