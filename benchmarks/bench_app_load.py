"""Many people at once on the default app: served, refused, and how long each waited.

`soundsight app` (the default models) is served twice on loopback in one run: as shipped (paint requests taken
together, --paint-batch 8; two transcriptions at once, --concurrency-limit 2) and one request at a time
(--paint-batch 1 --concurrency-limit 1), the plain baseline. Against each, N users
at once (threads, one gradio_client each) send what a page user sends: a spoken caption to /transcribe, then
its prompt to /paint (--flow paint: the prompt alone). Per N: served, refused (the queue was full), p50/p95 and
the ratio of the shipped p95 to the baseline's. --soak S: then a steady stream (one request at a time, S
seconds) against the shipped server, its memory (RSS) sampled: flat is what we want.
Run: python benchmarks/bench_app_load.py [--users 20 40] [--flow speak|paint] [--soak 600] [--servers NAME...]
  [--name FILE]  (--users with no
  count: the soak alone, -> benchmarks/results/app_soak_FLOW.json)
  -> benchmarks/results/app_load.json
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from common import write

ROOT = Path(__file__).resolve().parents[1]
SPOKEN = ROOT / "examples" / "red-star.wav"  # "can you draw a small red star on the left on a blue background"
PROMPT = "a small red star on the left on a blue background"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(extra: list[str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "soundsight", "app", "--port", str(port), "--device", "cpu",
                                    *extra], env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None:
            raise SystemExit(f"the app exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return process, url
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"the app did not answer on {url}") from None
            time.sleep(0.5)


def one_user(url: str, flow: str, seed: int) -> tuple[str, float]:
    """('served' | 'refused' | 'failed: ...', seconds from the first request to the pictures)."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    start = time.perf_counter()
    try:
        prompt = PROMPT
        if flow == "speak":
            _, _, prompt = client.predict(recording=handle_file(str(SPOKEN)), api_name="/transcribe")
        gallery, _ = client.predict(prompt=prompt, seed=seed, api_name="/paint")
        outcome = "served" if gallery else "failed: no pictures"
    except Exception as e:  # what a user would see
        outcome = "refused" if "queue is full" in str(e).lower() else f"failed: {str(e)[:120]}"
    return outcome, time.perf_counter() - start


def crowd(url: str, users: int, flow: str) -> dict[str, Any]:
    results: list[tuple[str, float]] = [("failed: not run", 0.0)] * users
    gate = threading.Barrier(users)

    def run(i: int) -> None:
        gate.wait()
        results[i] = one_user(url, flow, seed=i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    served = [s for outcome, s in results if outcome == "served"]
    failures = sorted({o for o, _ in results if o.startswith("failed")})
    return {"users": users, "served": len(served), "refused": sum(o == "refused" for o, _ in results),
            "failed": failures, "p50_s": round(float(np.percentile(served, 50)), 2) if served else None,
            "p95_s": round(float(np.percentile(served, 95)), 2) if served else None}  # fmt: skip


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its children, in MB."""
    out = subprocess.run(["ps", "-o", "rss=", "--ppid", str(pid), "-p", str(pid)], capture_output=True, text=True)
    return sum(int(x) for x in out.stdout.split()) / 1024


def soak(url: str, pid: int, seconds: float, flow: str) -> dict[str, Any]:
    samples, served, start, i = [], 0, time.monotonic(), 0
    while time.monotonic() - start < seconds:
        outcome, _ = one_user(url, flow, seed=i)
        served += outcome == "served"
        i += 1
        samples.append((round(time.monotonic() - start, 1), round(rss_mb(pid), 1)))
    times, mem = np.array([t for t, _ in samples]), np.array([m for _, m in samples])
    slope = float(np.polyfit(times, mem, 1)[0]) * 60 if len(samples) > 2 else None
    late = times >= times[-1] / 2  # the second half: past the first requests' one-off allocations
    late_slope = float(np.polyfit(times[late], mem[late], 1)[0]) * 60 if late.sum() > 2 else None
    every = max(1, len(samples) // 20)
    return {"seconds": seconds, "requests": i, "served": served, "rss_first_mb": float(mem[0]),
            "rss_last_mb": float(mem[-1]), "rss_max_mb": float(mem.max()),
            "rss_slope_mb_per_min": round(slope, 2) if slope is not None else None,
            "rss_slope_second_half_mb_per_min": round(late_slope, 2) if late_slope is not None else None,
            "samples_s_mb": samples[::every]}  # fmt: skip


SERVERS = {  # name -> the app's flags
    "one at a time": ["--paint-batch", "1", "--concurrency-limit", "1"],  # the plain baseline
    "one transcription at a time": ["--concurrency-limit", "1"],  # paint batched, one speech model copy
    "shipped": [],
}


def main(user_counts: list[int], flow: str, soak_s: float, server_names: list[str], name: str | None) -> None:
    logs = Path(tempfile.mkdtemp(prefix="app-load-"))
    report: dict[str, Any] = {"flow": flow, "servers": {}}
    servers = [(server, SERVERS[server]) for server in server_names] if user_counts else [("shipped", [])]
    for server, extra in servers:
        process, url = serve(extra, logs / f"{server.replace(' ', '-')}.log")
        try:
            one_user(url, flow, seed=10_000)  # models loaded before anyone is timed
            rows = []
            for users in user_counts:
                rows.append(crowd(url, users, flow))
                print(server, rows[-1], flush=True)
            after = one_user(url, flow, seed=20_000)[0]  # still serving?
            report["servers"][server] = {"extra": extra, "crowds": rows, "served_after": after}
            if server == "shipped" and soak_s:
                report["soak"] = soak(url, process.pid, soak_s, flow)
                print("soak", report["soak"], flush=True)
        finally:
            process.terminate()
            process.wait(timeout=60)
    if not user_counts:
        print("wrote", write(f"app_soak_{flow}", report))
        return
    if {"one at a time", "shipped"} <= set(report["servers"]):
        base, ours = (report["servers"][n]["crowds"] for n in ("one at a time", "shipped"))
        report["p95_ratio"] = {str(b["users"]): round(o["p95_s"] / b["p95_s"], 3)
                               for b, o in zip(base, ours, strict=True) if b["p95_s"] and o["p95_s"]}  # fmt: skip
        print("p95 shipped / one at a time:", report["p95_ratio"])
    print("wrote", write(name or ("app_load" if flow == "speak" else f"app_load_{flow}"), report))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="*", default=[20, 40], help="crowds; none: the soak alone")
    parser.add_argument("--flow", choices=["speak", "paint"], default="speak")
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of steady stream after the crowds")
    parser.add_argument("--servers", nargs="+", choices=list(SERVERS), default=["one at a time", "shipped"])
    parser.add_argument("--name", default=None, help="the results file's name (default app_load[_FLOW])")
    args = parser.parse_args()
    main(args.users, args.flow, args.soak, args.servers, args.name)
