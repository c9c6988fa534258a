#!/usr/bin/env python3
"""Offline `rmdeploy plan` of the global profile next to cfn-lint on the same rendered template.

Prints the median wall time of each (release build, several runs) and their ratio.
Goals (issue 2): plan under 50 ms, at least 20 times faster than cfn-lint; (issue 13) still under
50 ms with the cost estimate, which `rmdeploy cost` times on its own.

    python3 bench/plan_vs_cfn_lint.py [--runs 15] [--lint-runs 5]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wall(cmd, runs, **kw):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15, help="rmdeploy plan runs")
    ap.add_argument("--lint-runs", type=int, default=5, help="cfn-lint runs")
    ap.add_argument("--profile", default="global")
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "rmdeploy")
    tools = subprocess.run([os.path.join(ROOT, "scripts", "python-tools")], check=True,
                           capture_output=True, text=True).stdout.strip()
    env = dict(os.environ, NO_COLOR="1")

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([binary, "render", "-p", args.profile, "--out", tmp], check=True,
                       stdout=subprocess.DEVNULL, env=env)
        template = os.path.join(tmp, "stack.yaml")
        size = os.path.getsize(template)
        plan = wall([binary, "plan", "-p", args.profile, "--offline"], args.runs, env=env)
        cost = wall([binary, "cost", "-p", args.profile], args.runs, env=env)
        lint = wall([os.path.join(tools, "cfn-lint"), "--regions", "us-east-1", "eu-west-1",
                     "ap-southeast-1", "--", template], args.lint_runs)

    ms = lambda s: f"{s * 1000:8.1f} ms"
    print(f"profile {args.profile}: rendered template {size:,} bytes (YAML)")
    print(f"{'command':<34} {'median':>11} {'min':>11} {'max':>11} runs")
    print(f"{'rmdeploy plan (render, checks, cost)':<34} {ms(plan[0])} {ms(plan[1])} {ms(plan[2])} {args.runs}")
    print(f"{'rmdeploy cost (render + estimate)':<34} {ms(cost[0])} {ms(cost[1])} {ms(cost[2])} {args.runs}")
    print(f"{'cfn-lint (3 regions)':<34} {ms(lint[0])} {ms(lint[1])} {ms(lint[2])} {args.lint_runs}")
    ratio = lint[0] / plan[0]
    print(f"ratio: rmdeploy plan is {ratio:.1f}x faster than cfn-lint (goal: >= 20x); "
          f"plan {'meets' if plan[0] < 0.050 else 'misses'} the 50 ms goal")


if __name__ == "__main__":
    sys.exit(main())
