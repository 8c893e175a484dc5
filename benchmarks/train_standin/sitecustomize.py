"""Benchmark probe loaded into both trainers' processes (via PYTHONPATH): the time of every optimizer step and
the process's peak RSS, written as JSON to $BENCH_PROBE_OUT at exit. The same probe for both, so both are
measured the same way."""

import atexit
import json
import os
import resource
import time

_OUT = os.environ.get("BENCH_PROBE_OUT")
_STEPS: list[float] = []
_RSS: list[int] = []  # peak RSS (KB) so far at each step: where in the run the peak is reached

if _OUT:
    import torch

    _step = torch.optim.AdamW.step

    def _timed_step(self, *args, **kwargs):
        result = _step(self, *args, **kwargs)
        _STEPS.append(time.perf_counter())
        _RSS.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        return result

    torch.optim.AdamW.step = _timed_step

    @atexit.register
    def _write() -> None:
        with open(_OUT, "w") as f:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            json.dump({"steps": _STEPS, "rss_at_steps_kb": _RSS, "peak_rss_kb": peak}, f)
