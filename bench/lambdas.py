#!/usr/bin/env python3
"""The bundled Lambdas: zip size per binary and architecture, local cold start (exec to the first
poll of the Runtime API, median of several runs), and handler time per event, against a Runtime API
served here on loopback with DynamoDB in moto_server.

Goals (issue 5): zip at most 2 MB; cold start under 10 ms median.

    python3 bench/lambdas.py [--runs 20]

Cold start and handler time need executables for this machine's CPU: they run the x86_64 build
(the china profile) on an x86_64 machine.
"""
import argparse
import base64
import http.server
import json
import os
import platform
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Api:
    """A Lambda Runtime API: hands out queued events, times the function's answers."""

    def __init__(self):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        self.first_poll = None
        self.handed = {}
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def do_GET(self):
                if api.first_poll is None:
                    api.first_poll = time.perf_counter()
                event = api.events.get()
                if event is None:
                    return
                body = json.dumps(event).encode()
                rid = f"r{time.perf_counter_ns()}"
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:f")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                api.handed[rid] = time.perf_counter()

            def do_POST(self):
                took = time.perf_counter() - api.handed.get(self.path.split("/")[4], time.perf_counter())
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                api.answers.put((self.path.endswith("/response"), took, body))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # a killed function drops its connection: not worth a traceback
        self.server.handle_error = lambda *a: None
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.events.put(None)
        self.server.shutdown()


def env(api, moto):
    return {
        "AWS_LAMBDA_RUNTIME_API": api.address, "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto, "TABLE_NODE_PARAMS": "node_params", "TABLE_NODES": "nodes",
        "TABLE_TIMESERIES": "timeseries", "TABLE_OTA_JOBS": "ota_jobs", "TABLE_USER_NODES": "user_nodes",
        "TABLE_MAPPING_REQUESTS": "mapping_requests", "IOT_DATA_ENDPOINT": moto, "FIRMWARE_BUCKET": "bench-fw",
        "USER_POOL_CLIENT_ID": "bench", "OAUTH2_ISSUER": "https://issuer.invalid/", "OAUTH2_AUDIENCE": "bench",
        "OAUTH2_JWKS_URI": "http://127.0.0.1:9/jwks.json", "RUST_LOG": "warn",
        "TABLE_CLAIMS": "claims", "THING_TYPE": "bench-esp-node", "NODE_POLICY": "bench-node",
        "CLAIMS_PER_USER_PER_HOUR": "20",
    }


def cold_start(bootstrap, moto, runs):
    times = []
    for _ in range(runs):
        api = Api()
        start = time.perf_counter()
        p = subprocess.Popen([bootstrap], env=env(api, moto), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while api.first_poll is None:
            if p.poll() is not None:
                raise SystemExit(f"{bootstrap} exited ({p.returncode}) before polling the Runtime API")
            time.sleep(0.0005)
        times.append(api.first_poll - start)
        p.kill()
        p.wait()
        api.close()
    return statistics.median(times)


def handler_times(bootstrap, moto, events, runs):
    api = Api()
    p = subprocess.Popen([bootstrap], env=env(api, moto), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times = []
    for i in range(runs):
        api.events.put(events(i))
        ok, took, body = api.answers.get(timeout=30)
        times.append(took)
    p.kill()
    p.wait()
    api.close()
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "rmdeploy")
    tools = subprocess.run([os.path.join(ROOT, "scripts", "python-tools")], check=True,
                           capture_output=True, text=True).stdout.strip()
    path = f"{tools}:{os.environ['PATH']}"
    sizes = {}
    dirs = {}
    for profile, arch in (("dev", "arm64"), ("china", "x86_64")):
        out = subprocess.run([binary, "build", "-p", profile, "-o", "json"], capture_output=True, text=True,
                             env=dict(os.environ, PATH=path), check=True).stdout
        for b in json.loads(out)["built"]:
            sizes.setdefault(b["binary"], {})[arch] = b["zip_bytes"]
    target = os.environ.get("RMDEPLOY_LAMBDA_TARGET", os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "rmdeploy", "lambda-target"))
    for b in sizes:
        dirs[b] = os.path.join(target, "lambda", "x86_64", b, "bootstrap")

    port = None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    moto = subprocess.Popen([os.path.join(tools, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        import urllib.request
        def ddb(target, body):
            req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={
                "X-Amz-Target": f"DynamoDB_20120810.{target}", "Content-Type": "application/x-amz-json-1.0",
                "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x"})
            urllib.request.urlopen(req).read()
        for name, hash_key, range_key in (("node_params", "node_id", "sk"), ("nodes", "node_id", None),
                                          ("timeseries", "node_id", "ts"), ("ota_jobs", "job_id", "sk"),
                                          ("user_nodes", "user_id", "node_id")):
            attrs = [{"AttributeName": hash_key, "AttributeType": "S"}]
            keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
            if range_key:
                attrs.append({"AttributeName": range_key, "AttributeType": "S"})
                keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
            table = {"TableName": name, "AttributeDefinitions": attrs, "KeySchema": keys,
                     "BillingMode": "PAY_PER_REQUEST"}
            if name == "user_nodes":  # the stack's by_node index (node-alert reads it)
                table["GlobalSecondaryIndexes"] = [{"IndexName": "by_node", "Projection": {"ProjectionType": "KEYS_ONLY"},
                    "KeySchema": [{"AttributeName": "node_id", "KeyType": "HASH"}, {"AttributeName": "user_id", "KeyType": "RANGE"}]}]
            ddb("CreateTable", table)

        def rule(node, suffix, payload, at):
            """What a topic rule hands the function: the payload base64-encoded, apart from the
            fields AWS IoT vouches for (lambdas/rainmaker/src/event.rs)."""
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            return {"payload": base64.b64encode(raw).decode(), "node_id": node,
                    "topic": f"node/{node}/{suffix}", "received_at": at}

        events = {
            "params": lambda i: rule("n1", "params/local", {"Light": {"Power": i % 2 == 0}}, 1000 + i),
            "node-config": lambda i: rule(f"n{i}", "config", {"info": {"name": "L", "fw_version": "1.0"},
                                                              "devices": []}, 1000 + i),
            "ts-ingest": lambda i: rule("n1", "tsdata", {"ts_data": [{"name": "S.T", "dt": "f",
                                                                      "records": [{"v": i, "t": 100 + i}]}]}, 1000 + i),
            "cmd-resp": lambda i: rule("n1", "from-node", bytes([1, 4]) + f"r{i:03}".encode() + bytes([3, 1, 0]),
                                       1000 + i),
            "node-alert": lambda i: rule("n1", "alert", {"esp.alert.str": "bench"}, 1000 + i),
            "api": lambda i: {"httpMethod": "GET", "path": "/v1/user/nodes", "queryStringParameters": None,
                              "body": None, "requestContext": {"authorizer": {"principalId": "u1"}}},
            "ota-status": lambda i: rule("n1", "otastatus", {"ota_job_id": "j1", "status": "in-progress"}, 1000 + i),
        }
        native = platform.machine() in ("x86_64", "AMD64")
        print(f"bundled Lambdas: zip size, local cold start and handler time (median of {args.runs})")
        print(f"{'binary':<13}{'arm64 zip':>12}{'x86_64 zip':>12}{'cold start':>13}{'per event':>12}")
        results = {}
        for b in sorted(sizes):
            cold = handler = "-"
            results[b] = dict(sizes[b], cold_ms=None, event_ms=None)
            if native and os.path.exists(dirs[b]):
                results[b]["cold_ms"] = cold_start(dirs[b], url, args.runs) * 1000
                cold = f"{results[b]['cold_ms']:.1f} ms"
                if b in events:
                    results[b]["event_ms"] = handler_times(dirs[b], url, events[b], args.runs) * 1000
                    handler = f"{results[b]['event_ms']:.1f} ms"
            print(f"{b:<13}{sizes[b].get('arm64', 0):>12,}{sizes[b].get('x86_64', 0):>12,}{cold:>13}{handler:>12}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"runs": args.runs, "binaries": results}, f, indent=2)
        worst = max(max(v.values()) for v in sizes.values())
        print(f"goal: zip at most 2 MB ({'met' if worst <= 2_000_000 else 'MISSED: largest ' + format(worst, ',')}); "
              "cold start under 10 ms median")
        print("per event: DynamoDB writes to moto_server on loopback (a Python emulator, slower than DynamoDB)")
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    main()
