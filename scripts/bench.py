#!/usr/bin/env python3
"""Runs the load benchmark (called by scripts/bench.sh after building). Prints and writes a
Markdown report: Checks/s, latency percentiles (from h2load's per-request log), server CPU per
Check (utime+stime from /proc/PID/stat), peak RSS (VmHWM), every jwt-authz figure also as a
ratio of the no-op server's from the same run; then Envoy with and without ext_authz."""
import argparse, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

REL = "target/release"
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    sys.exit(f"nothing listening on {port}")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentiles(log):
    lat = sorted(int(l.split("\t")[2]) for l in open(log) if l.strip())
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    return {"mean": statistics.fmean(lat), "p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "n": len(lat)}


def h2load(args, log):
    if os.path.exists(log):
        os.remove(log)  # h2load appends to an existing log file
    out = subprocess.run(["h2load", *args, "--log-file", log], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out).group(1))
    m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    total, done, ok, failed, errored = map(int, m.groups())
    if ok != total or failed or errored:
        sys.exit(f"h2load: {ok}/{total} succeeded, {failed} failed, {errored} errored\n{out}")
    return rps


def grpc_load(port, body, conns, streams, n, tmp):
    log = os.path.join(tmp, "h2load.log")
    args = ["-n", str(n), "-c", str(conns), "-m", str(streams), "-d", body,
            "-H", "content-type: application/grpc", "-H", "te: trailers",
            f"http://127.0.0.1:{port}/envoy.service.auth.v3.Authorization/Check"]
    rps = h2load(args, log)
    return rps, percentiles(log)


def start(cmd, port):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--envoy", required=True)
    quick = os.environ.get("QUICK") == "1"
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="jwt-authz-bench-")
    # h2load's per-request logs go elsewhere: a file written per request next to the config
    # would wake jwt-authz's file watcher on every Check and be measured as its cost.
    logs = tempfile.mkdtemp(prefix="jwt-authz-bench-logs-")
    subprocess.run([f"{REL}/examples/bench_tool", "fixtures", tmp], check=True)
    # noop: the generated (prost) server, the baseline of the targets. noop-raw: jwt-authz's own
    # raw-bytes protocol path answering without reading the request, to isolate jwt-authz's work.
    # jwt-authz runs twice: with the verified-token cache (the default; a repeated token is a
    # hit) and without it (every Check verifies the signature).
    ports = {"noop": free_port(), "noop-raw": free_port(), "jwt-authz": free_port(),
             "jwt-authz-nocache": free_port()}
    servers = {
        "noop": start([f"{REL}/examples/noop_server", f"127.0.0.1:{ports['noop']}"], ports["noop"]),
        "noop-raw": start([f"{REL}/examples/noop_server", f"127.0.0.1:{ports['noop-raw']}", "--raw"],
                          ports["noop-raw"]),
        "jwt-authz": start([f"{REL}/jwt-authz", "--log-level", "warn", "serve", "--config", f"{tmp}/config.yaml",
                            "--grpc-addr", f"127.0.0.1:{ports['jwt-authz']}", "--admin-addr", "127.0.0.1:0"],
                           ports["jwt-authz"]),
        "jwt-authz-nocache": start([f"{REL}/jwt-authz", "--log-level", "warn", "serve", "--config",
                                    f"{tmp}/config-nocache.yaml", "--grpc-addr",
                                    f"127.0.0.1:{ports['jwt-authz-nocache']}", "--admin-addr", "127.0.0.1:0"],
                                   ports["jwt-authz-nocache"]),
    }
    for name, port in ports.items():
        subprocess.run([f"{REL}/examples/bench_tool", "verify", f"127.0.0.1:{port}", tmp]
                       + (["--noop"] if name.startswith("noop") else []), check=True)
    shapes = [(1, 1, 4000 if quick else 20000), (4, 64, 40000 if quick else 300000), (16, 100, 40000 if quick else 300000)]
    # allow: HS256; allow-rs256 / allow-es256: the same claims signed with public keys (fewer
    # shapes and requests: without the cache an ES256 Check costs ~60 µs of CPU).
    scenarios = {"allow": shapes, "deny": shapes,
                 "allow-rs256": [(1, 1, 4000 if quick else 10000), (4, 64, 20000 if quick else 100000)],
                 "allow-es256": [(1, 1, 4000 if quick else 10000), (4, 64, 20000 if quick else 100000)]}
    rounds = 1 if quick else 2
    results = {}
    for scenario, scenario_shapes in scenarios.items():
        body = os.path.join(tmp, f"{scenario}.grpc")
        for conns, streams, n in scenario_shapes:
            for name, port in ports.items():  # warm-up
                grpc_load(port, body, conns, streams, max(n // 10, 1000), logs)
            for r in range(rounds):
                order = list(ports.items()) if r % 2 == 0 else list(reversed(ports.items()))
                for name, port in order:
                    pid = servers[name].pid
                    before = cpu_seconds(pid)
                    rps, lat = grpc_load(port, body, conns, streams, n, logs)
                    cpu_us = (cpu_seconds(pid) - before) * 1e6 / n
                    results.setdefault((scenario, conns, streams, name), []).append((rps, lat, cpu_us))
    rss = {name: peak_rss_mib(p.pid) for name, p in servers.items()}

    lines = ["| request | conns x streams | server | Checks/s | ratio to no-op | mean µs | p50 µs | p99 µs | CPU µs/Check | CPU Δ vs no-op | ratio / CPU Δ vs no-op-raw |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for scenario, scenario_shapes in scenarios.items():
        for conns, streams, _ in scenario_shapes:
            agg = {}
            for name in ports:
                runs = results[(scenario, conns, streams, name)]
                agg[name] = {
                    "rps": statistics.fmean(r[0] for r in runs),
                    "mean": statistics.fmean(r[1]["mean"] for r in runs),
                    "p50": statistics.fmean(r[1]["p50"] for r in runs),
                    "p99": statistics.fmean(r[1]["p99"] for r in runs),
                    "cpu": statistics.fmean(r[2] for r in runs),
                }
            for name in ports:
                g, b, raw = agg[name], agg["noop"], agg["noop-raw"]
                ratio = f"{g['rps'] / b['rps']:.2f}" if name != "noop" else "1.00"
                delta = f"{g['cpu'] - b['cpu']:+.1f}" if name != "noop" else ""
                vs_raw = f"{g['rps'] / raw['rps']:.2f} / {g['cpu'] - raw['cpu']:+.1f}" if name.startswith("jwt-authz") else ""
                lines.append(f"| {scenario} | {conns} x {streams} | {name} | {g['rps']:,.0f} | {ratio} | {g['mean']:.0f} | "
                             f"{g['p50']:.0f} | {g['p99']:.0f} | {g['cpu']:.1f} | {delta} | {vs_raw} |")
    lines.append("")
    lines.append(f"Peak RSS over all runs: jwt-authz {rss['jwt-authz']:.1f} MiB (without the cache "
                 f"{rss['jwt-authz-nocache']:.1f} MiB), no-op {rss['noop']:.1f} MiB, no-op-raw {rss['noop-raw']:.1f} MiB.")

    # Envoy with and without the ext_authz filter, in front of a minimal upstream.
    up = free_port()
    upstream = start([f"{REL}/examples/bench_tool", "upstream", f"127.0.0.1:{up}"], up)
    subprocess.run([f"{REL}/examples/bench_tool", "envoy-configs", tmp, str(ports["jwt-authz"]), str(up),
                    str(ports["noop"])], check=True)
    token = open(os.path.join(tmp, "token.txt")).read().strip()
    envoy_rows = {}
    loads = [("1 client", ["-c", "1", "-n", "3000" if quick else "20000"]),
             ("8 clients", ["-c", "8", "-n", "20000" if quick else "100000"])]
    # Three Envoys side by side (listener 18080+i, admin 19901+i), measured in alternating
    # rounds so that a slow moment of the VM hits all three alike.
    variants = ["without", "noop", "with"]
    envoys = {}
    for i, variant in enumerate(variants):
        path = f"{tmp}/envoy-{variant}.yaml"
        text = open(path).read().replace("port_value: 18080", f"port_value: {18080 + i}")
        open(path, "w").write(text.replace("port_value: 19901", f"port_value: {19901 + i}"))
        envoys[variant] = start([a.envoy, "-c", path, "--concurrency", "1", "--disable-hot-restart",
                                 "-l", "error", "--base-id", str(10 + i)], 18080 + i)
    samples = {}
    for label, args in loads:
        for r in range(rounds):
            for i, variant in enumerate(variants if r % 2 == 0 else list(reversed(variants))):
                url = f"http://127.0.0.1:{18080 + variants.index(variant)}/orders/42"
                log = os.path.join(logs, "h1.log")
                if r == 0:
                    h2load(["--h1", *args[:2], "-n", "2000", "-H", f"authorization: Bearer {token}", url], log)
                rps = h2load(["--h1", *args, "-H", f"authorization: Bearer {token}", url], log)
                lat = sorted(int(l.split("\t")[2]) for l in open(log) if l.strip())
                samples.setdefault((variant, label), ([], []))
                samples[(variant, label)][0].append(rps)
                samples[(variant, label)][1].extend(lat)
    for key, (rpss, lat) in samples.items():
        lat.sort()
        pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
        envoy_rows[key] = (statistics.fmean(rpss), {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99)})
    for envoy in envoys.values():
        stop(envoy)
    stop(upstream)
    names = {"without": "none", "noop": "no-op server", "with": "jwt-authz"}
    lines += ["", "| Envoy load | ext_authz | req/s | p50 µs | p90 µs | p99 µs |", "|---|---|---:|---:|---:|---:|"]
    for label, _ in loads:
        for variant in variants:
            rps, p = envoy_rows[(variant, label)]
            lines.append(f"| {label} | {names[variant]} | {rps:,.0f} | {p['p50']} | {p['p90']} | {p['p99']} |")
        p = {v: envoy_rows[(v, label)][1] for v in variants}
        for title, hi, lo in [("added by the hop (jwt-authz vs none)", "with", "without"),
                              ("added by jwt-authz over the no-op", "with", "noop")]:
            lines.append(f"| {label} | {title} | | {p[hi]['p50'] - p[lo]['p50']:+} | "
                         f"{p[hi]['p90'] - p[lo]['p90']:+} | {p[hi]['p99'] - p[lo]['p99']:+} |")
    for p in servers.values():
        stop(p)
    shutil.rmtree(tmp)
    shutil.rmtree(logs)
    report = "\n".join(lines) + "\n"
    os.makedirs("target/bench", exist_ok=True)
    open("target/bench/report.md", "w").write(report)
    print(report)


if __name__ == "__main__":
    main()
