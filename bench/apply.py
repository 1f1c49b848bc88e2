#!/usr/bin/env python3
"""Apply benchmark (issue 5): `panka apply` of a generated 200-component
stack against the pulumi test double (docs/pulumi-double.md).

1. Wall time / critical-path lower bound, with every component's `up`
   taking --sleep-ms in the double, for several parallelism values. The
   lower bound is (components on the longest dependency chain) x sleep.
2. panka's own overhead per component with an instant double, at
   parallelism 1: for each component, the time between its "done" and the
   previous one's, minus the double's own run time for its calls
   (PULUMI_DOUBLE_TIMING); the median is reported.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time
from collections import defaultdict
from datetime import datetime

sys.path.insert(0, os.path.dirname(__file__))
from scale import generate  # noqa: E402


def env_for(tmp, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PANKA_", "AWS_", "PULUMI_DOUBLE"))}
    env.update({"HOME": tmp, "PULUMI_CONFIG_PASSPHRASE": "bench", "NO_COLOR": "1"})
    env.update(extra)
    return env


def apply(panka, double, stack, env, parallelism):
    shutil.rmtree(os.path.join(stack, ".panka"), ignore_errors=True)
    t = time.monotonic()
    p = subprocess.run([panka, "-C", stack, "-e", "dev", "apply", "--auto-approve", "--parallelism", str(parallelism),
                        "--pulumi", double, "--output", "json"], env=env, capture_output=True, text=True)
    wall = time.monotonic() - t
    if p.returncode != 0:
        sys.exit(f"apply failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return wall, p


def ts(s):
    # 2026-11-22T04:40:49.816707661Z -> microseconds precision
    s = s.replace("Z", "+00:00")
    if "." in s:
        head, rest = s.split(".", 1)
        frac, tz = rest[:rest.index("+")], rest[rest.index("+"):]
        s = f"{head}.{frac[:6]}{tz}"
    return datetime.fromisoformat(s).timestamp()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--panka", default="target/release/panka")
    ap.add_argument("--double", default="target/release/pulumi-double")
    ap.add_argument("--components", type=int, default=200)
    ap.add_argument("--sleep-ms", type=int, default=1000)
    ap.add_argument("--parallelism", default="8,16,32,64")
    a = ap.parse_args()
    panka, double = os.path.abspath(a.panka), os.path.abspath(a.double)
    tmp = tempfile.mkdtemp(prefix="panka-apply-bench-")
    stack = os.path.join(tmp, "stack")
    generate(stack, a.components)
    g = subprocess.run([panka, "-C", stack, "-e", "dev", "graph", "--format", "json"], env=env_for(tmp),
                       capture_output=True, text=True, check=True)
    graph = json.loads(g.stdout)
    waves = graph.get("waves") or []
    depth = len(waves)
    widest = max((len(w) for w in waves), default=0)
    n = sum(len(w) for w in waves)
    print(f"{n} components, {depth} waves (longest chain), widest wave {widest}")
    bound = depth * a.sleep_ms / 1000
    for par in [int(x) for x in a.parallelism.split(",")]:
        wall, _ = apply(panka, double, stack, env_for(tmp, PULUMI_DOUBLE_SLEEP_MS=str(a.sleep_ms)), par)
        print(f"parallelism {par:>3}: wall {wall:6.2f}s  lower bound {bound:5.2f}s  ratio {wall / bound:.3f}")
    timing = os.path.join(tmp, "timing.log")
    wall, p = apply(panka, double, stack, env_for(tmp, PULUMI_DOUBLE_TIMING=timing), 1)
    own = defaultdict(float)
    for line in open(timing):
        parts = line.split()
        if len(parts) != 2:
            continue  # `pulumi version`, run outside any project
        project, micros = parts
        own[project] += int(micros) / 1e6
    done = []
    for line in p.stderr.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("event") in ("started", "done"):
            done.append((e["event"], e["component"], ts(e["time"])))
    overheads = []
    prev = None
    for ev, comp, t in done:
        if ev == "done":
            if prev is not None:
                overheads.append(t - prev - own[comp.replace("/", "-")])
            prev = t
    med = statistics.median(overheads) * 1000
    print(f"instant double, parallelism 1: wall {wall:.2f}s for {n} components = {wall / n * 1000:.1f} ms each "
          f"(incl. the double's 3 process runs); panka's own overhead per component: median {med:.1f} ms, "
          f"p90 {statistics.quantiles(overheads, n=10)[-1] * 1000:.1f} ms")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
