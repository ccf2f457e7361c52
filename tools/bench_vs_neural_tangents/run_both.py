#!/usr/bin/env python3
"""Times tangent and neural-tangents on the same shapes, machine and thread count, in one go, and
writes a Markdown table of ratios (default: results.md next to this script).

  python3 tools/bench_vs_neural_tangents/run_both.py                 # default sizes (~10 min)
  python3 tools/bench_vs_neural_tangents/run_both.py --full          # every size of the issue
  python3 tools/bench_vs_neural_tangents/run_both.py --threads 2 --python /tmp/ntvenv/bin/python
  python3 tools/bench_vs_neural_tangents/run_both.py --only wrn      # WideResNet only (~3 min)

It configures and builds tangent's benchmarks in build-bench/ (Release, -march=native through
TANGENT_NATIVE; --no-build skips this), then runs every case in its own process, pinned with
taskset (util-linux; required) to the first --threads cores, which is what bounds XLA's threads:
  tangent:          taskset -c 0-<t-1> OMP_NUM_THREADS=<threads> build-bench/bench/<binary> ...
  neural-tangents:  taskset -c 0-<t-1> <python> nt_bench.py ...
The neural-tangents environment is tools/reference/requirements.txt (see its README).
--only runs the cases whose key contains its text (fc, cnn_flatten, myrtle_gap, wrn, predict),
builds only their binaries, and prints the table without writing results.md unless --out is given.
Only ratios measured within one run mean anything; absolute times depend on the machine's load.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def fc(depth, n, dtype="double", same=True, targets=()):
    kind = "same" if same else "cross"
    nt_dtype = "float64" if dtype == "double" else "float32"
    return {
        "key": "fc", "name": f"FC depth {depth} ReLU, d = 784, {nt_dtype}, {kind}-input",
        "n": n, "binary": "kernel_bench", "filter": f"fc<{depth}, {dtype}, {kind}>/N:{n}/real_time$",
        "nt": ["fc", "--depth", str(depth), "--n", str(n), "--dtype", nt_dtype] +
              ([] if same else ["--cross"]),
        "targets": targets,
    }


def cnn(case, side, n, targets=()):
    name = {"cnn_flatten": f"CNN depth 10 + Flatten, {side}×{side}×3, float64",
            "myrtle_gap": f"Myrtle-5 CNN + GlobalAvgPool, {side}×{side}×3, float64"}[case]
    return {"key": case, "name": name, "n": n, "binary": "cnn_bench",
            "filter": f"{case}<{side}>/N:{n}/real_time$",
            "nt": [case, "--side", str(side), "--n", str(n)], "targets": targets}


def wrn(side, n):
    # examples/wide_resnet.cpp's network: neural-tangents' README WideResnet, block size 2, on
    # grey-scale images (Fashion-MNIST averaged down to side×side); random inputs of that shape.
    return {"key": "wrn", "name": f"WideResNet-16 + AvgPool, {side}×{side}×1, float64", "n": n,
            "binary": "cnn_bench", "filter": f"wrn16<{side}>/N:{n}/real_time$",
            "nt": ["wrn", "--side", str(side), "--n", str(n), "--block-size", "2"], "targets": ()}


def cases(full):
    if full:
        fc_sizes, flat_sizes, gap_sizes = [1000, 2000, 4000, 8000, 10000], [256, 512, 1024], \
            [64, 128, 256]
        out = []
        for depth in (1, 3, 10):
            for dtype in ("double", "float"):
                for same in (True, False):
                    for n in fc_sizes:
                        out.append(fc(depth, n, dtype, same,
                                      ("fc",) if (depth, n, same) == (3, 8000, True) else ()))
        out += [cnn("cnn_flatten", 16, n, ("flatten",) if n == 256 else ()) for n in flat_sizes]
        out += [cnn("myrtle_gap", s, n, ("gap",) if n == 128 else ()) for s in (8, 16)
                for n in gap_sizes]
        out += [wrn(7, n) for n in (64, 128, 256)] + [wrn(14, n) for n in (32, 64)]
        return out, [2000, 4000, 8000]
    return [
        fc(1, 4000),
        fc(3, 8000, "double", True, ("fc",)),
        fc(3, 8000, "float", True, ("fc",)),
        fc(3, 4000, "double", False, ("cross",)),
        fc(10, 4000, "double", True, ("deep",)),
        cnn("cnn_flatten", 16, 256, ("flatten",)),
        cnn("myrtle_gap", 8, 128, ("gap",)),
        cnn("myrtle_gap", 16, 64, ("gap",)),
    ], [4000]


def extra_cases():
    """Cases outside the default list (which results.md records), run by --only: the WideResNet
    of examples/wide_resnet.cpp on 7×7 and 14×14 images, at sizes where neural-tangents takes
    about 20 s per run on 2 cores (it runs three times: compile, then the best of 2)."""
    return [wrn(7, 128), wrn(14, 32)]


def pinned(cmd, threads):
    # XLA sizes its thread pools from the CPUs the process may run on, so the affinity mask is
    # what gives both sides the same thread count.
    if not shutil.which("taskset"):
        sys.exit("run_both.py needs taskset (Debian: util-linux) to give both sides the same cores")
    if (os.cpu_count() or 1) < threads:
        sys.exit(f"--threads {threads} is more than this machine's {os.cpu_count()} CPUs")
    return ["taskset", "-c", f"0-{threads - 1}"] + cmd


def run_tangent(build, binary, filt, threads, repetitions):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = pinned([str(build / "bench" / binary), f"--benchmark_filter={filt}",
                  "--benchmark_min_time=0", f"--benchmark_repetitions={repetitions}",
                  "--benchmark_format=json"], threads)
    print("  $", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    runs = [b for b in json.loads(out)["benchmarks"] if b.get("run_type") == "iteration"]
    if not runs:
        sys.exit(f"no benchmark matched {filt!r} in {binary}")
    best = min(runs, key=lambda b: b["real_time"])
    scale = {"ms": 1e-3, "us": 1e-6, "ns": 1e-9, "s": 1.0}[best["time_unit"]]
    best["seconds"] = best["real_time"] * scale
    return best


def run_nt(python, args, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = pinned([python, str(HERE / "nt_bench.py")] + args, threads)
    print("  $", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def machine():
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def mark(ok):
    return "met" if ok else "**missed**"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--python", default="/tmp/ntvenv/bin/python",
                   help="Python of the neural-tangents environment")
    p.add_argument("--build", default=str(ROOT / "build-bench"))
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--full", action="store_true", help="every size of issue 7 (hours)")
    p.add_argument("--repetitions", type=int, default=3, help="tangent runs per case (best kept)")
    p.add_argument("--skip-nt", action="store_true", help="time tangent only")
    p.add_argument("--only", help="run only the cases whose key contains this text "
                   "(fc, cnn_flatten, myrtle_gap, wrn, predict); nothing is written without --out")
    p.add_argument("--out", help="the Markdown table (default: results.md next to this script, "
                   "unless --only is given)")
    a = p.parse_args()
    build = pathlib.Path(a.build)
    out = a.out or (None if a.only else str(HERE / "results.md"))

    case_list, predict_sizes = cases(a.full)
    if a.only:
        pool = case_list if a.full else case_list + extra_cases()
        case_list = [c for c in pool if a.only in c["key"]]
        if a.only not in "predict":
            predict_sizes = []
        if not case_list and not predict_sizes:
            sys.exit(f"--only {a.only}: no case matches (keys: fc, cnn_flatten, myrtle_gap, wrn, "
                     "predict)")
    binaries = sorted({c["binary"] for c in case_list} |
                      ({"predict_bench"} if predict_sizes else set()))

    if not a.no_build:
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                        "-DTANGENT_BUILD_TESTS=OFF", "-DTANGENT_BUILD_EXAMPLES=OFF",
                        "-DTANGENT_NATIVE=ON"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", str(build), "-j", str(a.threads), "--target",
                        *binaries], check=True, stdout=subprocess.DEVNULL)

    rows, checks, nt_versions, label = [], [], None, ""
    fc_times = {}
    for c in case_list:
        print(c["name"], "N =", c["n"], flush=True)
        ours = run_tangent(build, c["binary"], c["filter"], a.threads, a.repetitions)
        label = ours.get("label", label)
        theirs = None if a.skip_nt else run_nt(a.python, c["nt"], a.threads)
        if theirs:
            nt_versions = theirs["versions"]
        ratio = theirs["seconds"] / ours["seconds"] if theirs else None
        rows.append((c, ours, theirs, ratio))
        # Issue 13's targets (issue 7's, which they tighten, are kept where they still apply).
        if "fc" in c["targets"]:
            fc_times["float" if "float32" in c["name"] else "double"] = ours["seconds"]
            if "float64" in c["name"]:
                if ratio is not None:
                    checks.append((f"FC depth 3, N = {c['n']}, float64: ≥ 3× faster than "
                                   "neural-tangents", f"{ratio:.2f}×", ratio >= 3))
                checks.append((f"FC depth 3, N = {c['n']}, float64: ≤ 1.3× the SYRK floor at the "
                               "best GEMM rate", f"{ours['x_syrk']:.2f}×", ours["x_syrk"] <= 1.3))
                checks.append((f"FC depth 3, N = {c['n']}, float64: peak RSS ≤ 1.2 × (outputs + "
                               "inputs)", f"{ours['rss/io']:.2f}×", ours["rss/io"] <= 1.2))
        if "cross" in c["targets"]:
            checks.append((f"FC depth 3, cross-input N = {c['n']}: ≤ 1.3× the GEMM floor",
                           f"{ours['x_gemm']:.2f}×", ours["x_gemm"] <= 1.3))
        if "deep" in c["targets"]:
            checks.append((f"FC depth 10, same-input N = {c['n']}: ≤ 1.6× the SYRK floor",
                           f"{ours['x_syrk']:.2f}×", ours["x_syrk"] <= 1.6))
        if "gap" in c["targets"] and ratio is not None:
            checks.append((f"{c['name'].split(',')[0]}, {c['name'].split(', ')[1]}, N = {c['n']}: "
                           "≥ 15× faster than neural-tangents", f"{ratio:.2f}×", ratio >= 15))
        if "flatten" in c["targets"] and ratio is not None:
            checks.append((f"CNN + Flatten, N = {c['n']}: ≥ 8× faster than neural-tangents",
                           f"{ratio:.2f}×", ratio >= 8))
    if "double" in fc_times and "float" in fc_times:
        speedup = fc_times["double"] / fc_times["float"]
        checks.append(("FC depth 3: float32 ≥ 1.9× faster than float64", f"{speedup:.2f}×",
                       speedup >= 1.9))

    predict_rows = []
    for n in predict_sizes:
        print("predictions N =", n, flush=True)
        eig = run_tangent(build, "predict_bench", f"eigendecomposition_floor/N:{n}/real_time$",
                          a.threads, a.repetitions)
        pred = run_tangent(build, "predict_bench",
                           f"gradient_descent_mse_100_times/N:{n}/real_time$", a.threads,
                           a.repetitions)
        ratio = pred["seconds"] / eig["seconds"]
        predict_rows.append((n, eig, pred, ratio))
        checks.append((f"Predictions at 100 times, N = {n}: ≤ 1.3 × one eigendecomposition",
                       f"{ratio:.2f}×", ratio <= 1.3))

    today = datetime.date.today().isoformat()
    lines = [
        f"Measured {today} on {machine()}, {a.threads} threads on both sides "
        f"(both pinned with taskset to cores 0–{a.threads - 1}; tangent also OMP_NUM_THREADS), "
        f"tangent built Release with -march=native "
        f"({label}).",
        "neural-tangents " + (f"{nt_versions['neural_tangents']} on jax {nt_versions['jax']}"
                              if nt_versions else "not run") +
        ", CPU, jit, nt.batch, compile excluded, best of 2 runs; tangent best of "
        f"{a.repetitions}. NNGP and NTK together in every case.",
        "",
        f"Command: `python3 tools/bench_vs_neural_tangents/run_both.py --threads {a.threads}"
        + (" --full" if a.full else "") + (f" --only {a.only}" if a.only else "") + "`",
        "",
        "The floors are at the machine's best GEMM rate (Eigen's or OpenBLAS's, whichever was "
        "faster in that case): the full product x1·x2ᵀ, and for a same-input Gram matrix the "
        "symmetric rank-k update, half its work. blas/eigen: OpenBLAS's GEMM time over Eigen's.",
        "",
        "| case | N | tangent (s) | neural-tangents (s) | speed-up | × GEMM floor | × SYRK floor "
        "| blas/eigen | peak RSS / (in + out) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c, ours, theirs, ratio in rows:
        lines.append(
            f"| {c['name']} | {c['n']:,} | {ours['seconds']:.3f} | "
            + (f"{theirs['seconds']:.3f} | {ratio:.1f}×" if theirs else "– | –")
            + (f" | {ours['x_gemm']:.2f} | "
               + (f"{ours['x_syrk']:.2f}" if "x_syrk" in ours else "–")
               + (f" | {ours['blas/eigen']:.2f}" if "blas/eigen" in ours else " | –")
               + f" | {ours['rss/io']:.2f} |" if "x_gemm" in ours
               else " | – | – | – | – |"))
    if predict_rows:
        lines += ["", "| predictions (100 time points, test and train) | N | eigendecomposition "
                  "(s) | predictions (s) | ratio |", "|---|---:|---:|---:|---:|"]
    for n, eig, pred, ratio in predict_rows:
        lines.append(f"| gradient_descent_mse, 1,000 test points, 10 outputs | {n:,} | "
                     f"{eig['seconds']:.3f} | {pred['seconds']:.3f} | {ratio:.2f}× |")
    if checks:
        lines += ["", "| target | measured | |", "|---|---:|---|"]
    for what, value, ok in checks:
        lines.append(f"| {what} | {value} | {mark(ok)} |")
    text = "\n".join(lines) + "\n"
    if out:
        pathlib.Path(out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
