#!/usr/bin/env python3
"""Wall time of the same benchmarks in two builds, measured in alternating pairs.

On a shared machine single runs move by ±20% with the load, so a before/after comparison runs
the two binaries one after the other (alternating which goes first), several times, and reports
the median of the per-pair ratios (after/before) with their range. Both sides are pinned to the same cores.

  tools/compare_builds.py BEFORE AFTER FILTER [FILTER...] [--pairs 7] [--cores 0,1]

BEFORE and AFTER are Google Benchmark binaries (e.g. an old checkout's build/bench/kernel_bench
and this one's); AFTER may also be `same`, to compare two benchmarks of one binary: then give
FILTER as 'BEFORE_FILTER=AFTER_FILTER', e.g.
  tools/compare_builds.py build/bench/kernel_bench same \\
      'fc<10, double, same>/N:4000$=fc_residual<10, double, same>/N:4000$'
"""

import argparse
import json
import os
import statistics
import subprocess
import sys


def run(binary, pattern, cores, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run(
        ["taskset", "-c", cores, binary, f"--benchmark_filter={pattern}",
         "--benchmark_format=json", "--benchmark_repetitions=1"],
        check=True, capture_output=True, text=True, env=env).stdout
    runs = [b for b in json.loads(out)["benchmarks"] if b.get("run_type") == "iteration"]
    if len(runs) != 1:
        sys.exit(f"filter {pattern!r} matched {len(runs)} benchmarks in {binary}; it must match one")
    return runs[0]["real_time"]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("filters", nargs="+")
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--cores", default="0,1")
    args = parser.parse_args()
    threads = len(args.cores.split(","))
    after_binary = args.before if args.after == "same" else args.after
    for spec in args.filters:
        before_filter, _, after_filter = spec.partition("=")
        after_filter = after_filter or before_filter
        ratios = []
        for k in range(args.pairs):
            # Alternate which side runs first, so that warm-up and drift do not favour one.
            if k % 2 == 0:
                b = run(args.before, before_filter, args.cores, threads)
                a = run(after_binary, after_filter, args.cores, threads)
            else:
                a = run(after_binary, after_filter, args.cores, threads)
                b = run(args.before, before_filter, args.cores, threads)
            ratios.append(a / b)
        print(f"{spec}: after/before median {statistics.median(ratios):.3f} "
              f"(range {min(ratios):.3f}-{max(ratios):.3f}, {args.pairs} pairs)", flush=True)


if __name__ == "__main__":
    main()
