#!/usr/bin/env python3
"""Scale benchmark for `panka validate` and `panka plan` (issue: speed).

Generates stacks of 100, 1,000 and 10,000 components (a realistic mix of
all kinds, ~3 dependencies each, production overlays), then runs the real
binary on each and reports the median wall time and the peak resident
memory of the child process (from wait4's rusage), plus time per component
and the 10k/1k ratio.

    python3 bench/scale.py --panka target/release/panka [--sizes 100,1000,10000] [--runs 5]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

STACK = """apiVersion: core.panka.io/v1
kind: Stack
metadata: {name: bench, labels: {team: bench}}
spec:
  provider: {name: aws, region: us-east-1, accountId: "123456789012"}
  shared:
    network: {vpcId: vpc-0abc, privateSubnetIds: [subnet-a, subnet-b], publicSubnetIds: [subnet-c, subnet-d]}
    cluster: {name: bench}
    loadBalancer: {listenerArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shared/1/2", dnsName: lb.example.com}
  variables: {VERSION: "1.0.0", LOG_LEVEL: info}
  defaults: {infra: {resources: {cpu: 256, memory: 512}}}
  deployment: {parallelism: 8, requireApproval: [production]}
---
apiVersion: core.panka.io/v1
kind: Environment
metadata: {name: production}
spec:
  variables: {LOG_LEVEL: warn}
  requireApproval: true
"""


def component(kind, name, svc, spec):
    return f"---\napiVersion: components.panka.io/v1\nkind: {kind}\nmetadata: {{name: {name}, service: {svc}}}\nspec:\n{spec}"


def infra(name, svc, body):
    return f"---\napiVersion: infra.panka.io/v1\nkind: ComponentInfra\nmetadata: {{name: {name}, service: {svc}}}\nspec:\n{body}"


def service_files(i, priority):
    """Ten components of one service; returns (base text, overlay text, count, next priority)."""
    svc = f"svc-{i:05d}"
    prev = f"svc-{i - 1:05d}" if i > 0 else None
    docs = [f"---\napiVersion: core.panka.io/v1\nkind: Service\nmetadata: {{name: {svc}}}\nspec:\n  variables: {{IMAGE_REPO: 123456789012.dkr.ecr.us-east-1.amazonaws.com/{svc}}}\n"]
    overlay = []
    data = "db"
    if i % 10 == 3:
        docs.append(component("RDS", "db", svc, '  engine: {type: postgres, version: "16.4"}\n  database: {name: app}\n'))
        data_out = "address"
    else:
        docs.append(component("DynamoDB", "db", svc, "  attributes: [{name: id, type: S}]\n  partitionKey: id\n"))
        data_out = "tableName"
    docs.append(component("SQS", "q", svc, "  visibilityTimeoutSeconds: 120\n"))
    if i % 5 == 4:
        docs.append(component("SNS", "events", svc, "  subscriptions: [{name: to-q, component: q}]\n"))
        third = "events"
    elif i % 7 == 6:
        docs.append(component("ElastiCache", "cache", svc, '  version: "7.1"\n'))
        third = "cache"
    else:
        docs.append(component("S3", "files", svc, "  versioning: true\n"))
        third = "files"
    upstream = f"      valueFrom: {{component: {prev}/api-a, output: url}}\n" if prev else "      value: none\n"
    for name in ["api-a", "api-b", "api-c"]:
        docs.append(component("MicroService", name, svc, f"""  image: {{repository: "${{{svc}.IMAGE_REPO}}", tag: "${{VERSION}}"}}
  ports: [{{name: http, port: 8080}}]
  environment:
    - {{name: LOG_LEVEL, value: "${{LOG_LEVEL}}"}}
    - {{name: DATA, value: "${{{data}.{data_out}}}"}}
    - name: UPSTREAM
{upstream}  access: [{{component: q, actions: [publish]}}]
  healthCheck: {{readiness: {{http: {{path: /health, port: 8080}}}}}}
"""))
        docs.append(infra(name, svc, f"  scaling: {{replicas: 2}}\n  loadBalancer: {{pathPatterns: [\"/{svc}/{name}/*\"], priority: {priority}}}\n"))
        overlay.append(infra(name, svc, "  resources: {cpu: 512, memory: 1024}\n  scaling: {autoscaling: {min: 2, max: 8, targetCPUPercent: 60}}\n"))
        priority += 1
    for name in ["wrk-a", "wrk-b"]:
        docs.append(component("Worker", name, svc, f"""  image: {{repository: "${{{svc}.IMAGE_REPO}}", tag: "${{VERSION}}"}}
  command: ["./worker"]
  environment:
    - {{name: QUEUE, value: "${{q.url}}"}}
  access: [{{component: q, actions: [consume]}}, {{component: {third}, actions: [{'publish' if third == 'events' else 'read'}]}}]
"""))
        docs.append(infra(name, svc, "  scaling: {replicas: 1}\n"))
    docs.append(component("CronJob", "nightly", svc, f"""  image: {{repository: "${{{svc}.IMAGE_REPO}}", tag: "${{VERSION}}"}}
  schedule: "cron(0 3 * * ? *)"
  environment: [{{name: DATA, value: "${{{data}.{data_out}}}"}}]
  dependsOn: [wrk-a]
"""))
    docs.append(component("Lambda", "fn", svc, """  runtime: python3.12
  handler: app.handler
  code: {s3: {bucket: code-bucket, key: fn.zip}}
  triggers: [{component: q}]
  environment: [{name: BUCKET, value: "x"}]
"""))
    return "".join(docs), "".join(overlay), 10, priority


def generate(root, n):
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    with open(os.path.join(root, "stack.yaml"), "w") as f:
        f.write(STACK)
    priority, count, i = 1, 0, 0
    while count < n:
        base, over, c, priority = service_files(i, priority)
        d = os.path.join(root, "services", f"svc-{i:05d}")
        os.makedirs(d)
        with open(os.path.join(d, "service.yaml"), "w") as f:
            f.write(base)
        with open(os.path.join(d, "service.production.yaml"), "w") as f:
            f.write(over)
        count += c
        i += 1
    return count


def measure(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(cmd)} exited {code}:\n{err[-2000:]}")
    return took, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime  # KiB -> MiB


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--panka", default="target/release/panka")
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    results = []
    work = tempfile.mkdtemp(prefix="panka-bench-")
    try:
        for n in [int(s) for s in args.sizes.split(",")]:
            root = os.path.join(work, f"stack-{n}")
            count = generate(root, n)
            for cmd in ("validate", "plan"):
                argv = [args.panka, cmd, "-C", root, "-e", "production"]
                measure(argv)  # warm the page cache
                runs = [measure(argv) for _ in range(args.runs)]
                wall = statistics.median(r[0] for r in runs)
                rss = max(r[1] for r in runs)
                cpu = statistics.median(r[2] for r in runs)
                results.append({"components": count, "command": cmd, "wall_ms": round(wall * 1000, 1),
                                "peak_rss_mib": round(rss, 1), "cpu_ms": round(cpu * 1000, 1), "us_per_component": round(wall * 1e6 / count, 1)})
                print(f"{cmd:>8} {count:>6} components: {wall * 1000:8.1f} ms wall {cpu * 1000:8.1f} ms cpu  {rss:7.1f} MiB  "
                      f"{wall * 1e6 / count:7.1f} us/component", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    by = {(r["command"], r["components"]): r for r in results}
    for cmd in ("validate", "plan"):
        a, b = by.get((cmd, 1000)), by.get((cmd, 10000))
        if a and b:
            print(f"{cmd:>8} 10k/1k wall-time ratio: {b['wall_ms'] / a['wall_ms']:.2f} (targets: plan 1k <= 150 ms, 10k <= 1500 ms and <= 300 MiB, ratio <= 12)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
