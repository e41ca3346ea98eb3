"""Does the event stream (and the dashboard) keep up under load, and does memory stay flat?

Two phases against one ``mockserver serve`` process (default fixtures, log level warning):

1. **Stream**: a paced load of ``POST /v1/agent/A12345678/speak`` (one room, so one inbox event
   per call; default 190 requests/s for 20 s from one keep-alive client) while one subscriber reads
   ``/_mock/events/stream`` and, unless ``--no-browser``, the dashboard is open in headless
   Chromium. Reported: events sent and received, the lag from an event's time (the mock clock,
   which follows real time) to its receipt (p50 / p99 / max), the same for the dashboard (receipt
   and the row on screen), whether the page's request log caught up, and the server's CPU use.
2. **Memory**: ``--requests`` speak calls (default 100,000) as fast as one client can (raw
   HTTP/1.1 keep-alive, ``--window`` requests in flight), with one subscriber reading the stream
   and one stuck subscriber that connects and never reads. The server's RSS (VmRSS) is sampled at
   the start, every 10,000 requests and at the end; the inbox and the journal are ring buffers,
   so it should plateau.

Subscribers run in child processes (so reading the stream does not slow the load generator) and
speak HTTP over raw sockets, so they can stop on a flag. Everything is on loopback.

Run: ``.venv/bin/python bench/bench_stream.py [--rate 190] [--duration 20] [--requests 100000]
[--window 16] [--no-browser] [--json PATH]``. Exits 1 if the stream lost events or a request failed.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("MOCKSERVER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SPEAK = "/v1/agent/A12345678/speak"
SECRET = "YOUR_API_SECRET"
ROOM = "customer_session_1"
SAMPLE_EVERY = 10_000

# Measures the dashboard from inside the page: when each event arrives (a second listener on the
# page's own EventSource) and when its row is put on screen (a MutationObserver on the feed).
PAGE_PROBE = """
window.__bench = { receipt: [], render: [] };
const NativeEventSource = window.EventSource;
window.EventSource = class extends NativeEventSource {
  constructor(...args) {
    super(...args);
    this.addEventListener("inbox", (message) => {
      window.__bench.receipt.push(Date.now() / 1000 - JSON.parse(message.data).time);
    });
  }
};
document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver((records) => {
    const now = Date.now() / 1000;
    for (const record of records)
      for (const node of record.addedNodes) {
        const time = node.querySelector?.("time");
        if (time) window.__bench.render.push(now - Date.parse(time.dateTime) / 1000);
      }
  }).observe(document.getElementById("feed-list"), { childList: true });
});
"""


# -- the server ------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child: receive SIGTERM when the bench dies, even by SIGKILL (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Server:
    """``mockserver serve --port 0`` in its own process; its URL is read from the banner."""

    def __init__(self) -> None:
        command = [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--log-level", "warning"]
        self.proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        found = re.search(r"serving on (http://\S+)", first)
        if found is None:
            self.stop()
            raise SystemExit(f"the server did not start: {first!r}")
        self.url = found.group(1)
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        # Keep reading stdout so the server never blocks on a full pipe.
        threading.Thread(target=lambda: self.proc.stdout and self.proc.stdout.read(), daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- a stream subscriber -----------------------------------------------------------------------------


class SseReader:
    """Reads ``/_mock/events/stream`` over a raw socket (chunked transfer, SSE fields); resumes
    with ``last_event_id`` after an ``overflow``; records the lag of each event."""

    def __init__(self, host: str, port: int, query: dict[str, Any], received: Any, stop: Any) -> None:
        self.host, self.port, self.query = host, port, query
        self.received = received  # a shared counter the parent can watch
        self.stop = stop
        self.lags: list[float] = []
        self.last_id: int | None = query.pop("last_event_id", None)
        self.overflows = 0
        self.connections = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.session()

    def session(self) -> None:
        query = dict(self.query)
        if self.last_id is not None:
            query["last_event_id"] = self.last_id
        self.connections += 1
        with socket.create_connection((self.host, self.port)) as sock:
            sock.settimeout(0.2)
            request = f"GET /_mock/events/stream?{urlencode(query)} HTTP/1.1\r\nHost: {self.host}\r\n"
            sock.sendall((request + "Accept: text/event-stream\r\n\r\n").encode())
            raw, text, headers_done = b"", "", False
            while not self.stop.is_set():
                try:
                    data = sock.recv(262144)
                except TimeoutError:
                    continue
                if not data:
                    return
                raw += data
                if not headers_done:
                    end = raw.find(b"\r\n\r\n")
                    if end < 0:
                        continue
                    raw, headers_done = raw[end + 4 :], True
                decoded, raw, finished = dechunk(raw)
                text += decoded.replace("\r\n", "\n")
                *messages, text = text.split("\n\n")
                for message in messages:
                    if self.dispatch(message) or finished:
                        return

    def dispatch(self, message: str) -> bool:
        """Handle one SSE message; True when the stream is over (overflow)."""
        fields: dict[str, str] = {}
        for line in message.split("\n"):
            name, _, value = line.partition(":")
            if name:  # a line starting with ':' is a comment (the keep-alive ping)
                fields[name] = fields.get(name, "") + value.removeprefix(" ")
        if fields.get("event") == "overflow":
            self.overflows += 1
            return True
        if fields.get("event") == "inbox":
            event = json.loads(fields["data"])
            self.lags.append(time.time() - event["time"])
            self.last_id = event["id"]
            with self.received.get_lock():
                self.received.value += 1
        return False


def dechunk(raw: bytes) -> tuple[str, bytes, bool]:
    """Decode the complete chunks at the front of ``raw``: (text, the rest, last chunk seen)."""
    out = bytearray()
    while True:
        line_end = raw.find(b"\r\n")
        if line_end < 0:
            break
        size = int(raw[:line_end].split(b";")[0], 16)
        if size == 0:
            return out.decode(), b"", True
        if len(raw) < line_end + 2 + size + 2:
            break
        out += raw[line_end + 2 : line_end + 2 + size]
        raw = raw[line_end + 2 + size + 2 :]
    return out.decode(), raw, False


def subscriber(host: str, port: int, query: dict[str, Any], received: Any, stop: Any, results: Any) -> None:
    """Child process: read the stream until told to stop, then report."""
    reader = SseReader(host, port, query, received, stop)
    reader.run()
    results.put(
        {
            "received": len(reader.lags),
            "overflows": reader.overflows,
            "connections": reader.connections,
            "lag_ms": percentiles(reader.lags),
        }
    )


class Subscriber:
    def __init__(self, server: Server, query: dict[str, Any]) -> None:
        ctx = multiprocessing.get_context("fork")
        self.received = ctx.Value("q", 0)
        self.stop_flag = ctx.Event()
        self.results = ctx.Queue()
        args = (server.host, server.port, query, self.received, self.stop_flag, self.results)
        self.proc = ctx.Process(target=subscriber, args=args, daemon=True)
        self.proc.start()

    def wait_for(self, count: int, timeout: float) -> float:
        """Seconds until ``count`` events were received (or the timeout)."""
        start = time.perf_counter()
        while self.received.value < count and time.perf_counter() - start < timeout:
            time.sleep(0.005)
        return time.perf_counter() - start

    def finish(self) -> dict[str, Any]:
        self.stop_flag.set()
        result: dict[str, Any] = self.results.get(timeout=10)
        self.proc.join(5)
        return result


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": round(pick(0.50) * 1000, 2), "p99": round(pick(0.99) * 1000, 2), "max": round(ordered[-1] * 1000, 2)}


def last_event_id(http: httpx.Client) -> int:
    return int(http.get("/_mock/inbox", params={"limit": 1}).json()["last_id"] or 0)


# -- phase 1: the stream at a steady rate --------------------------------------------------------------


def open_dashboard(server: Server) -> tuple[Any, Any, Any] | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("dashboard: skipped (no playwright package)")
        return None
    if not Path(CHROMIUM).exists():
        print(f"dashboard: skipped (no Chromium at {CHROMIUM})")
        return None
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.add_init_script(PAGE_PROBE)
    page.goto(server.url + "/_mock/")
    wait_until(page, "document.getElementById('conn').dataset.tone === 'ok'")
    return playwright, browser, page


def wait_until(page: Any, expression: str, timeout: float = 10.0) -> float:
    """Poll ``expression`` in the page (not wait_for_function: the page's CSP forbids its eval);
    returns the seconds it took."""
    began = time.perf_counter()
    while not page.evaluate(expression):
        if time.perf_counter() - began > timeout:
            raise SystemExit(f"the dashboard never satisfied: {expression}")
        time.sleep(0.005)
    return time.perf_counter() - began


def phase_stream(server: Server, rate: float, duration: float, browser: bool) -> dict[str, Any]:
    http = httpx.Client(base_url=server.url, headers={"api-secret": SECRET}, timeout=10)
    start_id = last_event_id(http)
    sub = Subscriber(server, {"agent": "A12345678", "kind": "speech", "last_event_id": start_id})
    dashboard = open_dashboard(server) if browser else None
    page = dashboard[2] if dashboard else None
    time.sleep(0.5)  # let the subscriber connect
    if page is not None:
        page.evaluate("window.__bench.receipt = []; window.__bench.render = []")
    total = int(rate * duration)
    statuses: Counter[int] = Counter()
    behind: list[int] = []  # events the page had not received yet, sampled once a second
    cpu0, began = server.cpu_seconds(), time.perf_counter()
    next_sample = began + 1
    for i in range(total):
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        body = {"message": f"stream {i}: we have a 20% discount available today.", "room_id": ROOM}
        statuses[http.post(SPEAK, json=body).status_code] += 1
        if page is not None and time.perf_counter() >= next_sample:
            next_sample += 1
            shown = page.evaluate("document.getElementById('feed-list').dataset.lastId")
            behind.append(start_id + statuses[200] - int(shown or 0))
    elapsed = time.perf_counter() - began
    cpu = server.cpu_seconds() - cpu0
    sent = statuses[200]
    drain = sub.wait_for(sent, timeout=10)
    result: dict[str, Any] = {
        "requests": total,
        "seconds": round(elapsed, 2),
        "rate": round(total / elapsed, 1),
        "statuses": dict(statuses),
        "server_cpu_percent": round(100 * cpu / elapsed, 1),
        "stream": {"sent": sent, **sub.finish(), "drain_ms_after_load": round(drain * 1000, 1)},
    }
    if dashboard is not None and page is not None:
        final = last_event_id(http)
        caught_up = wait_until(page, f"Number(document.getElementById('feed-list').dataset.lastId) >= {final}")
        journal_last = http.get("/_mock/journal", params={"limit": 1}).json()["last_id"]
        journal_caught_up = caught_up + wait_until(
            page, f"Number(document.querySelector('#journal-rows tr.req')?.dataset.id) >= {journal_last}"
        )
        probe = page.evaluate("window.__bench")
        result["dashboard"] = {
            "received": len(probe["receipt"]),
            "receipt_lag_ms": percentiles(probe["receipt"]),
            "render_lag_ms": percentiles(probe["render"]),
            "max_events_behind_sampled": max(behind, default=0),
            "catch_up_ms_after_load": round(caught_up * 1000, 1),
            "journal_caught_up_ms": round(journal_caught_up * 1000, 1),
        }
        playwright, browser_, _ = dashboard
        browser_.close()
        playwright.stop()
    http.close()
    return result


# -- phase 2: memory over many requests -----------------------------------------------------------------


def raw_requests(host: str, count: int, offset: int) -> bytes:
    out = bytearray()
    for i in range(offset, offset + count):
        body = json.dumps({"message": f"memory {i}: your order has shipped.", "room_id": ROOM}).encode()
        out += (
            f"POST {SPEAK} HTTP/1.1\r\nHost: {host}\r\napi-secret: {SECRET}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
    return bytes(out)


def phase_memory(server: Server, requests: int, window: int) -> dict[str, Any]:
    with httpx.Client(base_url=server.url) as http:
        start_id = last_event_id(http)
    sub = Subscriber(server, {"agent": "A12345678", "kind": "speech", "last_event_id": start_id})
    # A subscriber that never reads: the mock must neither block nor buffer without bound for it.
    stuck = socket.create_connection((server.host, server.port))
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(f"GET /_mock/events/stream HTTP/1.1\r\nHost: {server.host}\r\n\r\n".encode())
    time.sleep(0.5)
    samples = [(0, round(server.rss_mib(), 1))]
    statuses: Counter[int] = Counter()
    sock = socket.create_connection((server.host, server.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sent = done = 0
    buffer = b""
    began = time.perf_counter()
    while done < requests:
        if sent - done < window // 2 and sent < requests:  # refill the window in one write
            batch = min(window - (sent - done), requests - sent)
            sock.sendall(raw_requests(server.host, batch, sent))
            sent += batch
        buffer += sock.recv(1 << 20)
        while True:  # every complete response at the front of the buffer
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                break
            head = buffer[:head_end].decode("latin-1")
            length = int(re.search(r"(?im)^content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
            if len(buffer) < head_end + 4 + length:
                break
            statuses[int(head.split(" ", 2)[1])] += 1
            buffer = buffer[head_end + 4 + length :]
            done += 1
            if done % SAMPLE_EVERY == 0:
                samples.append((done, round(server.rss_mib(), 1)))
    elapsed = time.perf_counter() - began
    sock.close()
    if samples[-1][0] != done:
        samples.append((done, round(server.rss_mib(), 1)))
    drain = sub.wait_for(statuses[200], timeout=30)
    stream = {"sent": statuses[200], **sub.finish(), "drain_ms_after_load": round(drain * 1000, 1)}
    stuck.close()
    time.sleep(0.5)
    after_close = round(server.rss_mib(), 1)
    with httpx.Client(base_url=server.url) as http:
        health = http.get("/_mock/health").json()
        journal = http.get("/_mock/journal/count").json()
    first_full = next((rss for n, rss in samples if n >= SAMPLE_EVERY), samples[-1][1])
    return {
        "requests": done,
        "seconds": round(elapsed, 2),
        "rate": round(done / elapsed),
        "statuses": dict(statuses),
        "rss_mib": samples,
        "rss_growth_mib_after_first_10k": round(samples[-1][1] - first_full, 1),
        "rss_after_subscribers_closed_mib": after_close,
        "stream": stream,
        "inbox_events_kept": health.get("events"),
        "journal_kept": journal["count"],
        "journal_total": journal["total"],
    }


# -- main ------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=190.0, help="phase 1 requests/s (default 190)")
    parser.add_argument("--duration", type=float, default=20.0, help="phase 1 seconds (default 20)")
    parser.add_argument("--requests", type=int, default=100_000, help="phase 2 requests (default 100000)")
    parser.add_argument("--window", type=int, default=16, help="phase 2 requests in flight (default 16)")
    parser.add_argument("--no-browser", action="store_true", help="no dashboard page in phase 1")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    server = Server()
    try:
        fresh = round(server.rss_mib(), 1)
        print(f"server {server.url} pid {server.pid}, RSS at start {fresh} MiB, nproc {os.cpu_count()}")
        print(
            f"phase 1: {args.rate:g} speak/s for {args.duration:g} s, one stream subscriber"
            + ("" if args.no_browser else ", dashboard open in Chromium")
        )
        stream = phase_stream(server, args.rate, args.duration, not args.no_browser)
        report_stream(stream)
        print(f"phase 2: {args.requests:,} speak calls, {args.window} in flight, one reader and one stuck subscriber")
        memory = phase_memory(server, args.requests, args.window)
        report_memory(memory, fresh)
    finally:
        server.stop()
    if args.json:
        args.json.write_text(json.dumps({"rss_at_start_mib": fresh, "stream": stream, "memory": memory}, indent=2))
    # At a steady rate the stream must deliver everything; flat out (phase 2) a reader that falls
    # more than the inbox's 1,000 events behind may lose the oldest, by design: that is reported.
    lost = stream["stream"]["received"] < stream["stream"]["sent"]
    failed = set(stream["statuses"]) | set(memory["statuses"]) != {200}
    if lost or failed:
        print("FAILED: " + ("the stream lost events " if lost else "") + ("a request failed" if failed else ""))
        return 1
    return 0


def report_stream(r: dict[str, Any]) -> None:
    s = r["stream"]
    print(
        f"  {r['requests']} requests in {r['seconds']} s ({r['rate']} req/s), statuses {r['statuses']}, "
        f"server CPU {r['server_cpu_percent']} % of one core"
    )
    print(
        f"  stream: {s['received']} of {s['sent']} events received, {s['overflows']} overflows, "
        f"{s['connections']} connection(s); lag ms p50 {s['lag_ms']['p50']} p99 {s['lag_ms']['p99']} "
        f"max {s['lag_ms']['max']}; all in {s['drain_ms_after_load']} ms after the last request"
    )
    d = r.get("dashboard")
    if d:
        print(
            f"  dashboard: {d['received']} events received; receipt lag ms p50 {d['receipt_lag_ms']['p50']} "
            f"p99 {d['receipt_lag_ms']['p99']} max {d['receipt_lag_ms']['max']}; row on screen ms p50 "
            f"{d['render_lag_ms']['p50']} p99 {d['render_lag_ms']['p99']} max {d['render_lag_ms']['max']}"
        )
        print(
            f"  dashboard: at most {d['max_events_behind_sampled']} events behind (sampled each second); "
            f"feed caught up {d['catch_up_ms_after_load']} ms and request log {d['journal_caught_up_ms']} ms "
            "after the load"
        )


def report_memory(r: dict[str, Any], fresh: float) -> None:
    s = r["stream"]
    print(f"  {r['requests']:,} requests in {r['seconds']} s ({r['rate']:,} req/s), statuses {r['statuses']}")
    print("  RSS MiB: " + ", ".join(f"{n // 1000}k {rss}" for n, rss in r["rss_mib"]))
    print(
        f"  RSS growth from 10k to {r['requests'] // 1000}k requests: {r['rss_growth_mib_after_first_10k']:+} MiB "
        f"(server start {fresh} MiB; after closing the subscribers {r['rss_after_subscribers_closed_mib']} MiB)"
    )
    print(
        f"  reader: {s['received']:,} of {s['sent']:,} events, {s['overflows']} overflows (resumed with "
        f"last_event_id), {s['connections']} connection(s), lag ms p50 {s['lag_ms']['p50']} p99 {s['lag_ms']['p99']}"
    )
    print(
        f"  kept: {r['inbox_events_kept']} inbox events, {r['journal_kept']} journal entries "
        f"(of {r['journal_total']:,} journaled)"
    )


if __name__ == "__main__":
    sys.exit(main())
