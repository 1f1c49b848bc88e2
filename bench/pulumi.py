#!/usr/bin/env python3
"""Real-engine benchmark (issue 10): `panka apply` of the payments example
(11 components) through the real `pulumi` CLI and YAML language host built
by `make pulumi`, with the stand-in AWS provider (instant: no delay is
injected), on the local backend.

Three applies: create (nothing deployed), update (VERSION changes, which 4
components use), and no-op (nothing changed). For each, per component:

- pulumi processes started (engine invocations: `stack select`, `up`,
  `up` …), counted by a timing wrapper in front of the real CLI;
- wall time: from panka's "started" to its "done" event (`--output json`);
- panka's own share: that wall time minus the time its pulumi calls took
  (measured by the wrapper around each call: fork/exec of the wrapper is
  counted as pulumi's).

Then `panka drift` (issue 13): each component's `refresh --preview-only`
alone (`--component`, one at a time) gives the slowest single refresh; the
whole stack at `--parallelism 16` is compared with it (target: wall time
≤ 1.2 × the slowest single refresh).

Medians and maxima are printed; nothing is asserted.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(__file__))
from apply import ts  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TOOLS = os.path.join(ROOT, ".tools", "bin")

WRAPPER = """#!/usr/bin/env bash
# Times one real pulumi call: "<project> <command> <start s> <end s>". The
# clock is read first and last, with no fork between (EPOCHREALTIME), so what
# the wrapper itself costs is counted as panka's share, not pulumi's.
start=$EPOCHREALTIME
"$BENCH_PULUMI_REAL" "$@" & child=$!
trap 'kill -INT $child 2>/dev/null' INT TERM
wait $child; rc=$?
end=$EPOCHREALTIME
# Builtins only from here (no fork): panka waits for this too.
words=(); for a in "$@"; do case "$a" in -*) break ;; *) words+=("$a") ;; esac; done
IFS=_; cmd="${words[*]}"; unset IFS
project=none
if [ -f Pulumi.yaml ]; then
  while IFS= read -r line; do
    case "$line" in name:*) project=${line#name:}; project=${project// /}; project=${project//\\"/}; break ;; esac
  done < Pulumi.yaml
fi
printf '%s %s %s %s\\n' "$project" "$cmd" "$start" "$end" >> "$BENCH_PULUMI_LOG"
exit $rc
"""


def seed(cloud, token, name, outputs):
    _, module, type_name = token.split(":")
    d = os.path.join(cloud, module.split("/")[0], type_name)
    os.makedirs(d, exist_ok=True)
    rec = {"type": token, "urn": "", "id": outputs.get("arn", name), "name": name, "key": name,
           "inputs": {}, "outputs": outputs, "seeded": True}
    with open(os.path.join(d, name + ".json"), "w") as f:
        json.dump(rec, f)


def run(panka, stack, env, log, args):
    open(log, "w").close()
    t = time.monotonic()
    p = subprocess.run([panka, "-C", stack, "-e", "dev", "apply", "--auto-approve", "--output", "json",
                        "--pulumi", env["BENCH_WRAPPER"]] + args, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t
    if p.returncode != 0:
        sys.exit(f"apply failed ({p.returncode}):\n{p.stderr[-4000:]}\n{p.stdout[-2000:]}")
    calls = defaultdict(list)
    for line in open(log):
        project, cmd, start, end = line.split()
        calls[project].append((cmd, float(end) - float(start)))
    started, done = {}, {}
    for line in p.stderr.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("event") == "started":
            started[e["component"]] = ts(e["time"])
        elif e.get("event") == "done":
            done[e["component"]] = ts(e["time"])
    rows = []
    for c, t0 in started.items():
        project = c.replace("/", "-") if not c.startswith("_stack/") else None
        mine = calls.get(project, []) if project else []
        elapsed = done.get(c, t0) - t0
        rows.append((c, len(mine), elapsed, elapsed - sum(d for _, d in mine)))
    return wall, rows, calls


def report(label, wall, rows, components):
    print(f"\n{label}: wall {wall:.2f} s, {len(rows)} component(s) ran")
    ran = {c for c, *_ in rows}
    procs = [n for _, n, _, _ in rows]
    not_run = components - ran
    if rows:
        print(f"  pulumi processes per component: median {statistics.median(procs):.0f}, max {max(procs)}")
        walls = [w for _, _, w, _ in rows]
        own = [o * 1000 for _, _, _, o in rows]
        print(f"  wall per component: median {statistics.median(walls):.2f} s, max {max(walls):.2f} s")
        print(f"  panka's own share per component: median {statistics.median(own):.1f} ms, max {max(own):.1f} ms")
    if not_run:
        print(f"  components with no pulumi process: {len(not_run)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--panka", default="target/release/panka")
    a = ap.parse_args()
    panka = os.path.abspath(a.panka)
    pulumi = os.path.join(TOOLS, "pulumi")
    if not os.path.exists(pulumi):
        sys.exit("run `make pulumi` first")
    tmp = tempfile.mkdtemp(prefix="panka-pulumi-bench-")
    home = os.path.join(ROOT, "target", "pulumi-home")
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "install-stand-in.sh"), home], check=True)
    stack = os.path.join(tmp, "payments")
    shutil.copytree(os.path.join(ROOT, "examples", "payments"), stack)
    cloud = os.path.join(tmp, "cloud")
    seed(cloud, "aws:ecs/cluster:Cluster", "platform-dev",
         {"name": "platform-dev", "arn": "arn:aws:ecs:eu-west-1:111111111111:cluster/platform-dev"})
    lb = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/platform-dev/0a1b2c3d4e5f6a7b"
    seed(cloud, "aws:lb/loadBalancer:LoadBalancer", "platform-dev",
         {"arn": lb, "name": "platform-dev", "dnsName": "platform-dev.elb.amazonaws.com"})
    seed(cloud, "aws:lb/listener:Listener", "platform-dev-listener",
         {"arn": lb.replace(":loadbalancer/", ":listener/") + "/8c9d0e1f2a3b4c5d", "loadBalancerArn": lb, "port": 443})
    wrapper = os.path.join(tmp, "pulumi")
    with open(wrapper, "w") as f:
        f.write(WRAPPER)
    os.chmod(wrapper, 0o755)
    log = os.path.join(tmp, "calls.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PANKA_", "AWS_", "FAKE_AWS"))}
    env.update({"HOME": tmp, "PULUMI_HOME": home, "FAKE_AWS_DIR": cloud, "PULUMI_CONFIG_PASSPHRASE": "bench",
                "PULUMI_SKIP_UPDATE_CHECK": "true", "PATH": TOOLS + ":" + env.get("PATH", ""),
                "BENCH_PULUMI_REAL": pulumi, "BENCH_PULUMI_LOG": log, "BENCH_WRAPPER": wrapper, "NO_COLOR": "1"})
    components = set()
    for root, _, files in os.walk(os.path.join(stack, "services")):
        if "/components/" in root + "/" and any(f.endswith(".yaml") and not f.startswith("infra") for f in files):
            parts = root.split(os.sep)
            components.add(f"{parts[-3]}/{parts[-1]}")
    print(f"pulumi {subprocess.run([pulumi, 'version'], capture_output=True, text=True).stdout.strip()}, "
          f"stand-in provider (instant), payments example, {len(components)} components, local backend")
    for label, args in [("create", []), ("update (VERSION)", ["--var", "VERSION=9.9.9"]),
                        ("no-op", ["--var", "VERSION=9.9.9"])]:
        wall, rows, calls = run(panka, stack, env, log, args)
        report(label, wall, rows, components)
        if label == "no-op":
            print(f"  pulumi processes in all: {sum(len(v) for v in calls.values())}"
                  f" ({', '.join(sorted({c for v in calls.values() for c, _ in v})) or 'none'})")
    drift(panka, stack, env, log, components)
    shutil.rmtree(tmp, ignore_errors=True)


def drift(panka, stack, env, log, components):
    def once(args):
        open(log, "w").close()
        t = time.monotonic()
        p = subprocess.run([panka, "-C", stack, "-e", "dev", "drift", "--output", "json",
                            "--pulumi", env["BENCH_WRAPPER"]] + args, env=env, capture_output=True, text=True)
        wall = time.monotonic() - t
        if p.returncode != 0:
            sys.exit(f"drift failed ({p.returncode}):\n{p.stderr[-4000:]}")
        refreshes = [float(e) - float(s) for _, cmd, s, e in (l.split() for l in open(log)) if cmd == "refresh"]
        return wall, refreshes
    single = []
    for c in sorted(components):
        wall, refreshes = once(["--component", c, "--var", "VERSION=9.9.9"])
        single.append((max(refreshes), wall, c))
    slowest, slowest_wall, which = max(single)
    wall, refreshes = once(["--parallelism", "16", "--var", "VERSION=9.9.9"])
    print(f"\ndrift: slowest single refresh {slowest:.2f} s ({which}; its whole `panka drift` {slowest_wall:.2f} s)")
    print(f"  all {len(refreshes)} components at --parallelism 16: wall {wall:.2f} s,"
          f" refresh median {statistics.median(refreshes):.2f} s, max {max(refreshes):.2f} s;"
          f" ratio to the slowest single refresh {wall / slowest:.2f} (target ≤ 1.2), {os.cpu_count()} CPU(s)")


if __name__ == "__main__":
    main()
