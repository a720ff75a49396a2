"""Bounded load test of the web UI on loopback: concurrent gradio_client clients calling /stylize.

Starts `app.py` on a free port with untrained networks (they cost exactly as much to run as
trained ones), warms it up with one call (which loads the model), then runs `--load-clients`
threads, each with its own gradio_client, making `--load-calls` /stylize calls on one photo whose
longer side is `--load-size` px. Every call must succeed and the server's memory must settle
back. The defaults keep it short; the figures in docs/security.md come from

    pytest tests/test_load.py -s --load-clients 8 --load-calls 4 --load-size 512

which prints per-call latency (p50/p95/max) and the server's resident memory from /proc: idle,
after warm-up (start), peak during the load, and after it (end).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from helpers import app_process, random_photo

SETTLE_S = 3.0  # after the load, how long the server may take to drop its request buffers


def rss_mb(pid: int) -> float:
    """Resident set size of a process, in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class PeakRss(threading.Thread):
    """Samples a process's RSS every 50 ms until stopped; `peak` is the largest seen."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, rss_mb(pid), threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.peak = max(self.peak, rss_mb(self.pid))

    def stop(self) -> float:
        self.done.set()
        self.join()
        return self.peak


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of a non-empty list."""
    ranked = sorted(values)
    return ranked[max(0, min(len(ranked) - 1, round(q / 100 * len(ranked) + 0.5) - 1))]


@dataclass
class LoadResult:
    clients: int
    calls: int
    size: tuple[int, int]
    latencies: list[float] = field(default_factory=list)  # seconds, successful calls
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    rss_idle: float = 0.0
    rss_start: float = 0.0
    rss_peak: float = 0.0
    rss_end: float = 0.0
    rss_rounds: list[float] = field(default_factory=list)  # RSS after each round, when several

    rounds: int = 1

    @property
    def ok(self) -> bool:
        return not self.failures and len(self.latencies) == self.clients * self.calls * self.rounds

    def summary(self) -> str:
        lat = self.latencies or [float("nan")]
        return "\n".join([
            f"{self.clients} clients x {self.calls} /stylize calls on a {self.size[0]}x{self.size[1]} photo"
            f"{f' x {self.rounds} rounds' if self.rounds > 1 else ''}: {len(self.latencies)}/"
            f"{self.clients * self.calls * self.rounds} succeeded, {self.wall_s:.1f} s a round",
            f"latency: p50 {percentile(lat, 50):.2f} s, p95 {percentile(lat, 95):.2f} s, max {max(lat):.2f} s",
            f"server RSS: idle {self.rss_idle:.0f} MB, start (after warm-up) {self.rss_start:.0f} MB, "
            f"peak {self.rss_peak:.0f} MB, end (+{SETTLE_S:.0f} s) {self.rss_end:.0f} MB",
            *([f"RSS after each round: {', '.join(f'{r:.0f}' for r in self.rss_rounds)} MB"]
              if len(self.rss_rounds) > 1 else []),
            *(f"FAILED: {f}" for f in self.failures[:5]),
        ])


def stylize_once(client, photo: Path, style: str, norm: str) -> tuple[int, int]:
    """One /stylize call; returns the size of the picture that came back."""
    from gradio_client import handle_file

    out = client.predict(image=handle_file(str(photo)), style=style, norm=norm, strength=1.0,
                         preserve_color=False, api_name="/stylize")
    with Image.open(out) as result:
        return result.size


def run_load(url: str, pid: int, photo: Path, clients: int, calls: int, style: str, norm: str,
             rounds: int = 1) -> LoadResult:
    """Warm up with one call, then `clients` concurrent clients x `calls` calls, watching RSS;
    `rounds` > 1 repeats the load, to tell a leak (RSS climbs every round) from allocator caching."""
    from gradio_client import Client

    with Image.open(photo) as image:
        result = LoadResult(clients, calls, image.size, rounds=rounds)
    result.rss_idle = rss_mb(pid)
    stylize_once(Client(url, verbose=False), photo, style, norm)
    result.rss_start = rss_mb(pid)
    lock = threading.Lock()

    def client_job(index: int) -> None:
        client = Client(url, verbose=False)
        for call in range(calls):
            start = time.perf_counter()
            try:
                size = stylize_once(client, photo, style, norm)
                assert size == result.size, f"got {size}, expected {result.size}"
            except Exception as e:  # a load test counts every kind of failure
                with lock:
                    result.failures.append(f"client {index} call {call}: {type(e).__name__}: {e}")
                continue
            with lock:
                result.latencies.append(time.perf_counter() - start)

    sampler = PeakRss(pid)
    sampler.start()
    for _ in range(rounds):
        began = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client_job, range(clients)))
        result.wall_s = time.perf_counter() - began  # of the last round
        time.sleep(SETTLE_S)
        result.rss_rounds.append(rss_mb(pid))
    result.rss_end = result.rss_rounds[-1]
    result.rss_peak = max(sampler.stop(), result.rss_end)
    return result



@pytest.mark.slow
def test_concurrent_clients_all_succeed_and_memory_settles(weights_folder, tmp_path, pytestconfig):
    option = pytestconfig.getoption
    size = option("--load-size")
    photo = tmp_path / "photo.jpg"
    random_photo(0, (size, size * 3 // 4)).save(photo, quality=90)
    with app_process(weights_folder, max_side=max(1024, size)) as (proc, url):
        result = run_load(url, proc.pid, photo, option("--load-clients"), option("--load-calls"),
                          style="starry_night", norm="instance", rounds=option("--load-rounds"))
    print(result.summary())
    assert result.ok, result.summary()
    assert result.rss_end < result.rss_start + 50, result.summary()  # MB: freed memory goes back
