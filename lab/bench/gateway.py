#!/usr/bin/env python3
"""`make bench-gateway`: the API gateway against the same model server straight, side by side in one run.

On this machine, loopback only:
- one llama.cpp server (the serving lab's cached build and tiny model, --api-key-file);
- in front of it nginx with the gateway role's own template (roles/gateway/templates/nginx.conf.j2), Lua module,
  a hashed key store and TLS (a throw-away self-signed certificate). Nothing is installed: nginx runs with a
  prefix under runs/bench/gateway.

For each concurrency (1, 8 and 32 streaming clients, the official openai SDK, one thread each), the same number of
streaming chat completions go straight to the engine and through the gateway, alternately by round. Per request:
time to first token, mean inter-token latency and tokens/s. Per side: requests/s, the gateway's CPU-seconds per
request (nginx master + workers, from /proc) and the client's. Goals (issue 19): TTFT through the gateway <= direct
+ 5 ms at 1 stream; throughput >= 90 % of direct at 32 streams. Writes runs/bench/gateway.json and prints a table.
The tiny model makes tokens far faster than a real one (thousands per second on CPU): the gateway's share of each
token is as large here as it will ever be.

On a GPU host without Debian's packages installed (the lent H200): ``--nginx-root DIR`` runs nginx, its Lua module,
LuaJIT and lua-resty-core from Debian's .deb files unpacked there with ``dpkg -x``; ``--model FILE.gguf``,
``--n-gpu-layers`` and ``--parallel`` choose what the engine serves and where (tests/fixtures/gpu/h200-gateway-bench/).
"""

import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import jinja2
import openai
import yaml

ROOT = Path(os.environ.get("LLMFLEET_ROOT", Path(__file__).resolve().parents[2]))
OUT = ROOT / "runs" / "bench" / "gateway"
ENGINE_PORT, GATEWAY_PORT = 18901, 18943


def artifacts():
    path = ROOT / "lab" / "cache" / "serving" / "artifacts.json"
    if not path.exists():
        subprocess.run(["bash", str(ROOT / "lab" / "serving" / "prepare.sh")], check=True)
    return json.loads(path.read_text())


def cpu_seconds(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError):
            pass
    return total


def nginx_pids(master):
    kids = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    return [master] + [int(k) for k in kids]


def wait(url, timeout=60, **kw):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            subprocess.run(["curl", "-sf", "-o", "/dev/null", url] + kw.get("curl", []), check=True, timeout=5)
            return
        except subprocess.SubprocessError:
            time.sleep(0.3)
    raise SystemExit("%s did not answer in %ds" % (url, timeout))


def nginx_cmd(args):
    """nginx's argv: the system's, or Debian's binary unpacked under --nginx-root (its libraries beside it)."""
    if not args.nginx_root:
        return ["nginx"]
    return [str(Path(args.nginx_root) / "usr" / "sbin" / "nginx"), "-e", str(OUT / "logs" / "error.log")]


def nginx_env(args):
    if not args.nginx_root:
        return None
    libs = [Path(args.nginx_root) / sub / "x86_64-linux-gnu" for sub in ("usr/lib", "lib")]
    return dict(os.environ, LD_LIBRARY_PATH=":".join(str(lib) for lib in libs))


def start(art, key, engine_key, args):
    shutil.rmtree(OUT, ignore_errors=True)
    for sub in ("tls", "state/audit", "logs", "conf"):
        (OUT / sub).mkdir(parents=True)
    os.chmod(OUT / "state" / "audit", 0o777)
    (OUT / "engine.key").write_text(engine_key)
    os.chmod(OUT / "engine.key", 0o600)
    model = Path(args.model) if args.model else Path(art["model"]) / "tiny-llama.gguf"
    engine = subprocess.Popen([str(Path(art["llama_cpp_build"]) / "bin" / "llama-server"), "--model", str(model),
                               "--host", "127.0.0.1", "--port", str(ENGINE_PORT), "--alias", "tiny",
                               "--chat-template", "chatml", "--threads", str(args.threads), "--parallel",
                               str(args.parallel), "--n-gpu-layers", str(args.n_gpu_layers), "--metrics",
                               "--no-webui", "--api-key-file", str(OUT / "engine.key")],
                              stdout=open(OUT / "logs" / "engine.log", "w"), stderr=subprocess.STDOUT)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(OUT / "tls" / "gateway.key"), "-out", str(OUT / "tls" / "gateway.crt"),
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "2"],
                   check=True, capture_output=True)
    (OUT / "state" / "keys.json").write_text(json.dumps({"keys": [
        {"name": "bench", "sha256": "sha256:" + hashlib.sha256(key.encode()).hexdigest(), "models": ["*"],
         "requests_per_minute": 0, "tokens_per_minute": 0}]}))
    (OUT / "conf" / "gateway.json").write_text(json.dumps({
        "keys_file": str(OUT / "state" / "keys.json"), "audit_dir": str(OUT / "state" / "audit"),
        "audit_fail_closed": True, "health_interval_sec": 2, "health_timeout_sec": 2, "max_fails": 3,
        "models": {"tiny": {"engine_key": engine_key, "backends": [
            {"name": "bench/tiny-0", "address": "127.0.0.1", "port": ENGINE_PORT, "health_path": "/health"}]}}}))
    defaults = yaml.safe_load((ROOT / "roles" / "gateway" / "defaults" / "main.yml").read_text())
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROOT / "roles" / "gateway" / "templates")),
                             trim_blocks=True, keep_trailing_newline=True)
    conf = env.get_template("nginx.conf.j2").render(
        ansible_managed="lab/bench/gateway.py", __gateway_ha=False, __gateway_lua_dir=str(ROOT / "roles" / "gateway"
                                                                                          / "files" / "lua"),
        __gateway_conf_file=str(OUT / "conf" / "gateway.json"), __gateway_listen_addresses=["127.0.0.1"],
        __gateway_tls_dir=str(OUT / "tls"), __gateway_metrics_allow=[],
        **dict((k, v) for k, v in defaults.items() if not str(v).startswith("{{")),
        )
    conf = conf.replace(":%s ssl;" % defaults["gateway_listen_port"], ":%d ssl;" % GATEWAY_PORT)
    conf = conf.replace("pid /run/nginx.pid;", "pid %s;" % (OUT / "nginx.pid"))
    conf = conf.replace("/var/log/nginx/error.log", str(OUT / "logs" / "error.log"))
    modules = Path(args.nginx_root or "/") / "usr" / "lib" / "nginx" / "modules"
    conf = conf.replace("include /etc/nginx/modules-enabled/*.conf;",
                        "load_module %s/ndk_http_module.so;\n"
                        "load_module %s/ngx_http_lua_module.so;" % (modules, modules))
    if args.nginx_root:
        # Debian's LuaJIT finds lua-resty-core and cjson under /usr by default: point it at the unpacked tree
        unpacked = Path(args.nginx_root)
        conf = conf.replace(";;\";", ";%s/usr/share/lua/5.1/?.lua;;\";\n    lua_package_cpath \"%s/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;;\";"
                            % (unpacked, unpacked), 1)
    (OUT / "conf" / "nginx.conf").write_text(conf)
    subprocess.run(nginx_cmd(args) + ["-p", str(OUT), "-c", str(OUT / "conf" / "nginx.conf")], check=True,
                   env=nginx_env(args))
    wait("http://127.0.0.1:%d/health" % ENGINE_PORT)
    wait("https://127.0.0.1:%d/healthz" % GATEWAY_PORT, curl=["--cacert", str(OUT / "tls" / "gateway.crt")])
    time.sleep(3)  # the gateway's first health checks
    return engine, int((OUT / "nginx.pid").read_text())


def one(client, max_tokens, rows):
    t0 = time.perf_counter()
    stamps = []
    for chunk in client.chat.completions.create(model="tiny", max_tokens=max_tokens, stream=True,
                                                messages=[{"role": "user", "content": "Tell me a story."}]):
        if chunk.choices and chunk.choices[0].delta.content:
            stamps.append(time.perf_counter())
    if not stamps:
        raise RuntimeError("no content")
    itl = statistics.mean(b - a for a, b in zip(stamps, stamps[1:])) if len(stamps) > 1 else 0.0
    rows.append({"ttft": stamps[0] - t0, "itl": itl, "tokens": len(stamps), "seconds": stamps[-1] - t0})


def client_of(spec):
    """An openai client from a picklable spec {base_url, api_key, verify}."""
    http = openai.DefaultHttpxClient(verify=spec["verify"]) if spec.get("verify") else None
    return openai.OpenAI(base_url=spec["base_url"], api_key=spec["api_key"], max_retries=0, http_client=http)


def client_proc(spec, threads, per_client, max_tokens, start_at):
    """One client process: THREADS streaming clients, PER_CLIENT requests each; returns (rows, errors, cpu_s)."""
    client, rows, errors = client_of(spec), [], []

    def worker():
        for _ in range(per_client):
            try:
                one(client, max_tokens, rows)
            except Exception as exc:  # pylint: disable=broad-except  # counted, reported
                errors.append(repr(exc))

    one(client, 2, [])  # connect before the clock starts
    time.sleep(max(0.0, start_at - time.time()))
    cpu0 = time.process_time()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return rows, errors, time.process_time() - cpu0


def side(spec, conc, per_client, max_tokens, pids, procs):
    """CONC streaming clients spread over PROCS client processes (one Python process saturates a core on SSE
    parsing and TLS before a gateway does: measured on the H200 host), started together."""
    procs = max(1, min(procs, conc))
    shares = [conc // procs + (1 if i < conc % procs else 0) for i in range(procs)]
    rows, errors, client_cpu = [], [], 0.0
    with concurrent.futures.ProcessPoolExecutor(procs) as pool:
        start_at = time.time() + 1.0 + 0.05 * procs
        futures = [pool.submit(client_proc, spec, n, per_client, max_tokens, start_at) for n in shares]
        time.sleep(max(0.0, start_at - time.time()))
        cpu0 = cpu_seconds(pids)
        t0 = time.perf_counter()
        for fut in futures:
            got_rows, got_errors, cpu = fut.result()
            rows += got_rows
            errors += got_errors
            client_cpu += cpu
        wall = time.perf_counter() - t0
    n = len(rows)
    if not n:
        raise SystemExit("every request failed: %s" % errors[:3])
    return {"requests": n, "errors": len(errors), "wall_s": round(wall, 3),
            "ttft_ms_p50": round(1000 * statistics.median(r["ttft"] for r in rows), 2),
            "ttft_ms_p95": round(1000 * sorted(r["ttft"] for r in rows)[int(0.95 * (n - 1))], 2),
            "itl_ms_mean": round(1000 * statistics.mean(r["itl"] for r in rows), 3),
            "tokens_per_s": round(sum(r["tokens"] for r in rows) / wall, 1),
            "requests_per_s": round(n / wall, 2),
            "gateway_cpu_s_per_request": round((cpu_seconds(pids) - cpu0) / max(n, 1), 5) if pids else None,
            "client_cpu_s_per_request": round(client_cpu / max(n, 1), 5),
            "error_samples": sorted(set(e[:300] for e in errors))[:5]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--requests", type=int, default=64, help="requests per side per concurrency (at least one each)")
    ap.add_argument("--rounds", type=int, default=2, help="direct and gateway alternate this many times")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--model", help="a GGUF file to serve instead of the lab's tiny model")
    ap.add_argument("--n-gpu-layers", type=int, default=0, help="llama-server --n-gpu-layers (0: CPU)")
    ap.add_argument("--parallel", type=int, default=8, help="llama-server --parallel (slots)")
    ap.add_argument("--threads", type=int, default=1, help="llama-server --threads")
    ap.add_argument("--client-procs", type=int, default=1,
                    help="client processes the streams are spread over (1 on the 2-core CI machine)")
    ap.add_argument("--nginx-root", help="Debian's nginx + Lua packages unpacked here (dpkg -x) instead of /")
    args = ap.parse_args()
    key = hashlib.sha256(os.urandom(32)).hexdigest()
    engine_key = hashlib.sha256(os.urandom(32)).hexdigest()
    art = artifacts()
    engine, master = start(art, key, engine_key, args)
    results = {"machine": {"cpus": os.cpu_count(), "uname": os.uname().release}, "client_procs": args.client_procs,
               "engine": "llama.cpp %s (%s, %s, --parallel %d)" % (
                   Path(art["llama_cpp_build"]).name, "GPU layers %d" % args.n_gpu_layers if args.n_gpu_layers
                   else "CPU", Path(args.model).name if args.model else "tiny model", args.parallel), "runs": []}
    try:
        direct = {"base_url": "http://127.0.0.1:%d/v1" % ENGINE_PORT, "api_key": engine_key}
        gateway = {"base_url": "https://127.0.0.1:%d/v1" % GATEWAY_PORT, "api_key": key,
                   "verify": str(OUT / "tls" / "gateway.crt")}
        one(client_of(direct), 4, [])
        one(client_of(gateway), 4, [])
        for conc in args.concurrency:
            per_client = max(1, args.requests // conc // args.rounds)
            merged = {"direct": [], "gateway": []}
            for _ in range(args.rounds):
                merged["direct"].append(side(direct, conc, per_client, args.max_tokens, [], args.client_procs))
                merged["gateway"].append(side(gateway, conc, per_client, args.max_tokens, nginx_pids(master),
                                              args.client_procs))
            row = {"concurrency": conc}
            for name, runs in merged.items():
                row[name] = dict((k, round(statistics.mean(r[k] for r in runs), 5) if runs[0][k] is not None
                                  else None) for k in runs[0] if k != "error_samples")
                row[name]["error_samples"] = sorted(set(e for r in runs for e in r["error_samples"]))[:5]
            row["ttft_added_ms"] = round(row["gateway"]["ttft_ms_p50"] - row["direct"]["ttft_ms_p50"], 2)
            row["throughput_ratio"] = round(row["gateway"]["tokens_per_s"] / row["direct"]["tokens_per_s"], 3)
            results["runs"].append(row)
            print(json.dumps(row), flush=True)
    finally:
        subprocess.run(nginx_cmd(args) + ["-p", str(OUT), "-c", str(OUT / "conf" / "nginx.conf"), "-s", "stop"],
                       check=False, env=nginx_env(args))
        engine.terminate()
        engine.wait(10)
    one_stream = [r for r in results["runs"] if r["concurrency"] == 1]
    many = [r for r in results["runs"] if r["concurrency"] == max(args.concurrency)]
    results["goals"] = {
        "ttft_added_ms_at_1 <= 5": one_stream[0]["ttft_added_ms"] <= 5 if one_stream else None,
        "throughput_ratio_at_%d >= 0.9" % max(args.concurrency): many[0]["throughput_ratio"] >= 0.9 if many else None}
    (ROOT / "runs" / "bench").mkdir(parents=True, exist_ok=True)
    (ROOT / "runs" / "bench" / "gateway.json").write_text(json.dumps(results, indent=1))
    print("\n| streams | TTFT p50 direct / gateway (ms) | added | ITL direct / gateway (ms) | tok/s direct / gateway "
          "| ratio | gateway CPU-s/req | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results["runs"]:
        d, g = r["direct"], r["gateway"]
        print("| %d | %.2f / %.2f | %+.2f | %.3f / %.3f | %.0f / %.0f | %.3f | %.5f | %d / %d |" % (
            r["concurrency"], d["ttft_ms_p50"], g["ttft_ms_p50"], r["ttft_added_ms"], d["itl_ms_mean"],
            g["itl_ms_mean"], d["tokens_per_s"], g["tokens_per_s"], r["throughput_ratio"],
            g["gateway_cpu_s_per_request"], d["errors"], g["errors"]))
    print("goals:", results["goals"])
    return 0 if all(v is not False for v in results["goals"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
