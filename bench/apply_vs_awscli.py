#!/usr/bin/env python3
"""`rmdeploy apply` of the global stack next to `aws cloudformation deploy` of the same rendered
template, side by side against one moto_server, artifacts already built; then the no-op of each.

One run of each (the issue asks for one), default polling of both tools. Prints wall times and
ratios. Goals (issue 3): apply not slower than awscli; no-op apply under 2 s.

    python3 bench/apply_vs_awscli.py [--profile global]

Needs: the Python tools of scripts/python-tools (moto_server, cargo-lambda); installs awscli from
PyPI into ~/.cache/rmdeploy/bench-py (its botocore pins differ from moto's).
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "rmdeploy")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def awscli():
    venv = os.path.join(CACHE, "bench-py")
    aws = os.path.join(venv, "bin", "aws")
    if not os.path.exists(aws):
        print(f"installing awscli into {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--quiet", "awscli"], check=True)
    return aws


def timed(cmd, env, **kw):
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, **kw)
    took = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd[:3])}... failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return took, out.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="global")
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "rmdeploy")
    tools = subprocess.run([os.path.join(ROOT, "scripts", "python-tools")], check=True,
                           capture_output=True, text=True).stdout.strip()
    aws = awscli()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen([os.path.join(tools, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        env = dict(os.environ, NO_COLOR="1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_ENDPOINT_URL=url, AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
                   PATH=f"{tools}:{os.environ['PATH']}")
        env.pop("AWS_PROFILE", None)
        env.pop("RMDEPLOY_POLL_MS", None)

        # Artifacts built beforehand (not timed), as both tools would find them.
        _, built = timed([binary, "build", "-p", args.profile, "-o", "json"], env)
        built = json.loads(built)["built"]

        # The emulator lacks UpdateTerminationProtection (and awscli deploy does not set it):
        # both deploy the profile with it off.
        tmp_profiles = tempfile.TemporaryDirectory()
        with open(os.path.join(ROOT, "profiles", f"{args.profile}.yaml")) as f:
            text = f.read().replace("termination_protection: true", "termination_protection: false")
        mine = os.path.join(tmp_profiles.name, f"{args.profile}.yaml")
        with open(mine, "w") as f:
            f.write(text)

        # awscli needs an existing bucket for the template; rmdeploy's bootstrap stack is that
        # bucket, made beforehand (not timed) so both start from the same account.
        timed([binary, "bootstrap", "-p", mine], env)
        # rmdeploy: artifact uploads, template upload, change set, execution, outputs.
        create, _ = timed([binary, "apply", "-p", mine, "--no-build", "--yes", "--skip-quota-check"], env)
        noop, noop_out = timed([binary, "apply", "-p", mine, "--no-build", "--yes", "--skip-quota-check", "-o", "json"], env)
        report = json.loads(noop_out)
        assert report["action"] == "unchanged", report["action"]
        bucket = report["bootstrap"]["bucket"]

        # awscli: the same template under another stack name, same parameters and bucket.
        with tempfile.TemporaryDirectory() as tmp:
            import re
            text = re.sub(r"(?m)^stack_name: .*$", "stack_name: rainmaker-awscli", text)
            copy = os.path.join(tmp, "awscli.yaml")
            with open(copy, "w") as f:
                f.write(text)
            template = os.path.join(tmp, "stack.json")
            _, body = timed([binary, "render", "-p", copy, "-o", "json"], env)
            with open(template, "w") as f:
                f.write(body)
            params = [f"ArtifactsBucket={bucket}", "IotDataEndpoint=example-ats.iot.us-east-1.amazonaws.com"]
            params += [f"{b['parameter']}={b['key']}" for b in built]
            cmd = [aws, "cloudformation", "deploy", "--endpoint-url", url, "--template-file", template,
                   "--stack-name", "rainmaker-awscli", "--s3-bucket", bucket,
                   "--capabilities", "CAPABILITY_IAM", "CAPABILITY_NAMED_IAM",
                   "--no-fail-on-empty-changeset", "--parameter-overrides", *params]
            # awscli uploads the template to S3 and names it by URL; moto reads a TemplateURL
            # only in the s3.amazonaws.com shape. So awscli's S3 calls go to that host in path
            # style, through moto on loopback acting as the HTTP proxy.
            config = os.path.join(tmp, "aws-config")
            with open(config, "w") as f:
                f.write("[default]\ns3 =\n    addressing_style = path\n")
            aws_env = dict(env, AWS_ENDPOINT_URL_S3="http://s3.amazonaws.com", HTTP_PROXY=url,
                           NO_PROXY="127.0.0.1", AWS_CONFIG_FILE=config)
            aws_create, _ = timed(cmd, aws_env)
            aws_noop, _ = timed(cmd, aws_env)
    finally:
        moto.terminate()
        moto.wait()

    print(f"apply vs aws cloudformation deploy, profile {args.profile}, moto_server on loopback, one run each")
    print("(bucket made beforehand for both; rmdeploy's figures include uploading the Lambda zips)")
    print(f"{'':28}{'rmdeploy':>10}{'awscli':>10}{'ratio':>9}")
    print(f"{'create (s)':28}{create:>10.2f}{aws_create:>10.2f}{create / aws_create:>8.2f}x")
    print(f"{'no-op (s)':28}{noop:>10.2f}{aws_noop:>10.2f}{noop / aws_noop:>8.2f}x")
    print(f"goals: create not slower than awscli ({'met' if create <= aws_create else 'MISSED'}), "
          f"no-op under 2 s ({'met' if noop < 2 else 'MISSED'})")


if __name__ == "__main__":
    main()
