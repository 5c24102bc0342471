"""Load test of the recipe service: many concurrent clients on 127.0.0.1 only.

Starts `transfertune serve` over a store (SQLite, and PostgreSQL when ``TT_PG_URL`` is
set), creates a token, and lets `clients` concurrent clients each send `requests` real
requests (SDFGs of PolyBench kernels, as docc's client sends them). Reports p50/p99
latency, throughput, errors, and whether every answered request was stored. Bounded in
count and time; writes results/service/load.json and load.md.

    .venv/bin/python benchmarks/service_load.py [--clients 100] [--requests 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ("gemm", "atax", "jacobi-2d", "syrk", "covariance", "mvt", "bicg", "2mm")


def bodies(target: str = "openmp") -> list[bytes]:
    """Request bodies as docc's client builds them, one per kernel."""
    from transfertune.ir.program import build_program
    from transfertune.suites import get_kernel

    return [json.dumps({"sdfg": json.loads(build_program(get_kernel(k)).sdfg_json), "category": "server",
                        "target": target, "enable_fusion": True, "normalize": False,
                        "schedule_loops": True}).encode() for k in KERNELS]


async def load(url: str, token: str, payloads: list[bytes], clients: int, per_client: int,
               deadline: float = 300.0) -> dict[str, Any]:
    """`clients` concurrent clients, `per_client` requests each; latencies and statuses."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=clients)

    async def client(number: int, session: httpx.AsyncClient) -> None:
        for i in range(per_client):
            begin = time.perf_counter()
            try:
                reply = await session.post(url + "/transfertune_sdfg", content=payloads[(number + i) % len(payloads)],
                                           headers=headers)
                code = reply.status_code
            except httpx.HTTPError:
                code = -1
            latencies.append(time.perf_counter() - begin)
            statuses[code] = statuses.get(code, 0) + 1

    begin = time.perf_counter()
    async with httpx.AsyncClient(timeout=deadline, limits=limits) as session:
        await asyncio.wait_for(asyncio.gather(*(client(n, session) for n in range(clients))), deadline)
    wall = time.perf_counter() - begin
    ordered = sorted(latencies)
    return {"clients": clients, "requests": len(latencies), "seconds": wall, "throughput_per_s": len(latencies) / wall,
            "p50_ms": 1000 * statistics.median(ordered), "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "errors": sum(v for k, v in statuses.items() if k != 200)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(db: str, workers: int, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "transfertune", "serve", f"port={port}", f"db={db}",
                             f"workers={workers}", "per_minute=100000", "map=null"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(240):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the service did not start")


def run(db: str, clients: int, per_client: int, workers: int) -> dict[str, Any]:
    """Seed the store, start the service, warm it, load it, count the stored requests."""
    from transfertune.db import open_store

    storage = open_store(db)
    token = storage.create_token(f"load-{os.getpid()}-{time.time_ns()}", "cpu-omp")
    before = len(storage.requests())
    port = free_port()
    proc = start(db, workers, port)
    try:
        url = f"http://127.0.0.1:{port}"
        payloads = bodies()
        asyncio.run(load(url, token, payloads, 1, len(payloads)))  # warm: index built, workers started
        stored_before = len(storage.requests())
        result = asyncio.run(load(url, token, payloads, clients, per_client))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    result["stored"] = len(storage.requests()) - stored_before
    result["lost_records"] = result["statuses"].get("200", 0) - result["stored"]
    result["warm_up_requests"] = stored_before - before
    result["store"] = storage.engine.dialect.name
    result["service_processes"] = workers
    storage.engine.dispose()  # no pooled connection may keep the database open
    return result


@contextlib.contextmanager
def fresh_postgres(url: str) -> Iterator[str]:
    """A new, empty database on the server of `url` (its role may create databases),
    dropped afterwards: the load test never touches the tests' own database."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"tt_load_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'create database "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(admin, name)
        admin.dispose()


def drop_database(admin, name: str, attempts: int = 30) -> None:
    """Drop `name` once its last connection has gone. `WITH (FORCE)` would need the
    right to signal other roles' backends (autovacuum's among them), which a role that
    may only create databases lacks; a terminated service's connections close within
    moments, and PostgreSQL itself cancels autovacuum for a plain DROP."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    for attempt in range(attempts):
        try:
            with admin.connect() as c:
                c.execute(text(f'drop database if exists "{name}"'))
            return
        except OperationalError:  # "database is being accessed by other users"
            if attempt == attempts - 1:
                raise
            time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--requests", type=int, default=2, help="per client")
    parser.add_argument("--workers", type=int, default=2, help="service processes")
    parser.add_argument("--out", default=str(ROOT / "results" / "service"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tt-load-") as tmp:
        rows.append(run(f"sqlite:///{tmp}/service.db", args.clients, args.requests, args.workers))
        print(json.dumps(rows[-1]))
    if os.environ.get("TT_PG_URL"):
        with fresh_postgres(os.environ["TT_PG_URL"]) as db:
            rows.append(run(db, args.clients, args.requests, args.workers))
            print(json.dumps(rows[-1]))
    from transfertune.ir.target import local_fingerprint

    fp = local_fingerprint()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    machine = {"cpu": fp.cpu_model, "cores": fp.cores, "host": platform.node()}
    (out / "load.json").write_text(json.dumps({"machine": machine, "runs": rows}, indent=2) + "\n")
    lines = [f"Machine: {fp.cpu_model}, {fp.cores} cores. {args.clients} concurrent clients x {args.requests} "
             "requests, 127.0.0.1.", "", "| store | service processes | requests | p50 | p99 | throughput | errors "
             "| lost records |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['store']} | {r['service_processes']} | {r['requests']} | {r['p50_ms']:.0f} ms | "
                     f"{r['p99_ms']:.0f} ms | {r['throughput_per_s']:.1f}/s | {r['errors']} | {r['lost_records']} |")
    (out / "load.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
