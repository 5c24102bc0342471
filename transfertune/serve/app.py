"""The HTTP service (FastAPI on uvicorn): ``POST /transfertune_sdfg`` for docc's client,
``GET /`` for people.

A request is authenticated by its token (stored hashed), limited in rate (per token,
counted in the store, so shared by every service process), size and time, refused if
its SDFG could call code outside itself, parsed by docc in a worker process, embedded
and looked up in the recipe index of the caller's target (or the nearest known target,
said in the reply), and answered with docc Recorder steps recorded while applying the
chosen recipes to the very SDFG the client sent. Only recipes measured correct and
faster on their own nest, and that docc's client can replay, are lent; an SDFG nobody
can help with gets an empty sequence. Every admitted request is stored with its status
(its nests, target, what was lent, or why it was refused) before the reply leaves, for
the tuning farm and the page.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import weakref
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from transfertune.db import RequestRecord, Storage, Token
from transfertune.index.lookup import RecipeLookup, ResolvedTarget, resolve_target
from transfertune.ir.loopnest import LoopNest
from transfertune.ir.recipe import ProgramRecipe, Recipe
from transfertune.ir.target import Target
from transfertune.ir.transform import replayable
from transfertune.serve.guard import refuse_foreign_code
from transfertune.serve.lend import client_nests, record_plan
from transfertune.serve.page import render_page

DOCC_TARGETS = {"sequential": "cpu-seq", "openmp": "cpu-omp", "cuda": "gpu-cuda"}
"""docc's target names -> transfertune's."""
TARGET_HEADER = "X-Transfertune-Target"
"""A client may name its machine's target key here (else its token's registration)."""
RECIPES_PER_NEIGHBOUR = 5
"""How many of a neighbour's best recipes are looked at: its best may be one docc's client
cannot replay (a library call), and then its best replayable one is lent."""
KEPT_BODY = 64 * 1024
"""A malformed body is stored whole up to this many bytes (above: only its size)."""


@dataclass(frozen=True)
class Limits:
    """What one client may ask of the service."""

    max_body: int = 8 * 2**20
    """Bytes of one request body (413 above)."""
    per_minute: int = 120
    """Requests per token per minute (429 above), counted in the store: shared by all
    service processes on it."""
    seconds: float = 30.0
    """Time each docc step of a request (parsing, recording) may take (504 above)."""


@dataclass(frozen=True)
class Plan:
    """What the index offers a client's SDFG: a recipe per nest and where each came from,
    and the nests whose own measurements say nothing docc's client can replay beats them."""

    recipe: ProgramRecipe = field(default_factory=ProgramRecipe)
    lent: tuple[dict[str, Any], ...] = ()
    untouched: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What became of one admitted request: the reply and what the store keeps of it."""

    code: int
    reply: dict[str, Any]
    record: RequestRecord


@dataclass
class Service:
    """State shared by the requests of one service process."""

    lookup: RecipeLookup
    sizes: dict[str, str]
    limits: Limits = field(default_factory=Limits)
    workers: int = 2
    _pool: ProcessPoolExecutor | None = None
    _killed: weakref.WeakSet = field(default_factory=weakref.WeakSet)
    """Pools whose workers were ended on purpose (a job ran past its time limit)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def storage(self) -> Storage:
        return self.lookup.storage

    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"))
        return self._pool

    async def in_worker(self, fn: Any, *args: Any, again: bool = True) -> Any:
        """docc work in a worker process within the time limit (TimeoutError above it).

        A job past its limit would keep its worker busy (a running job cannot be
        cancelled): its pool is retired with its workers killed, the next job gets a fresh
        pool, and the other jobs that were on the killed pool are run once more on it. A
        worker that crashed on its own (docc aborts on some malformed SDFGs) is replaced
        too; the jobs that were on its pool fail (400), as nobody knows which one crashed it."""
        pool = self.pool()
        try:
            return await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(pool, fn, *args),
                                          self.limits.seconds)
        except TimeoutError:
            self._retire(pool, kill=True)
            raise
        except BrokenProcessPool:
            if again and pool in self._killed:
                return await self.in_worker(fn, *args, again=False)
            self._retire(pool)
            raise ValueError("docc could not process this SDFG (its worker crashed)") from None

    def _retire(self, pool: ProcessPoolExecutor, kill: bool = False) -> None:
        """No new job goes to `pool`; with `kill`, its workers are ended now."""
        if self._pool is pool:
            self._pool = None
        if kill and pool not in self._killed:
            self._killed.add(pool)
            # The executor has no public way to end a running job (Python 3.14 adds
            # terminate_workers); its manager thread then fails the pool's other jobs.
            for process in list((pool._processes or {}).values()):
                process.terminate()
        pool.shutdown(wait=False)

    def resolve(self, docc_target: str, machine: str) -> ResolvedTarget:
        """The caller's target: docc's target name gives the kind; its machine (a target
        key) is answered for if measured, else the nearest measured target by fingerprint
        where the store knows the machine's, else the first measured machine of the kind."""
        name = DOCC_TARGETS.get(docc_target)
        if name is None:
            raise ValueError(f"unknown target {docc_target[:40]!r}; known: {', '.join(DOCC_TARGETS)}")
        specs = {key: spec for key, _, spec in self.storage.targets()}
        if machine in specs and specs[machine].get("name") == name:
            return resolve_target(self.storage, Target.from_json(specs[machine]))
        known = self.storage.targets(with_recipes=True)
        same = [key for key, n, _ in known if n == name]
        if machine in same:
            return ResolvedTarget(name, machine)
        if same:
            return ResolvedTarget(name, same[0], f"machine {machine or '(unnamed)'} not measured: answering from "
                                                 f"{same[0]}, a measured {name} machine")
        if known:
            key, other, _ = known[0]
            return ResolvedTarget(other, key, f"no {name} machine measured: answering from {key}")
        return ResolvedTarget(name, None, "the store has no measured recipes")

    def plan(self, nests: list[tuple[int, str]], target: ResolvedTarget) -> Plan:
        """Per nest, the best recipe docc's client can replay of its nearest measured
        neighbour that has one; where the nest itself was measured (the farm tuned it),
        its own measurements decide, "nothing replayable is faster" included."""
        if target.key is None or not nests:
            return Plan()
        loops = [LoopNest("client", i, canonical, "") for i, canonical in nests]
        with self._lock:  # the lookup caches its index: one builder at a time
            answers = self.lookup.query(loops, target, self.sizes.get(target.name, "LARGE"), k=3,
                                        recipes=RECIPES_PER_NEIGHBOUR)
        chosen, lent, untouched = {}, [], []
        for answer in answers:
            own = [n for n in answer["neighbours"] if n["hash"] == answer["hash"]]
            for neighbour in own or answer["neighbours"]:
                best = next((r for r in neighbour["recipes"] if replayable(Recipe.from_json(r["recipe"]))), None)
                if best is not None:
                    chosen[answer["nest"]] = Recipe.from_json(best["recipe"])
                    lent.append({"nest": answer["nest"], "kernel": neighbour["kernel"],
                                 "kernel_nest": neighbour["position"], "speedup": best["speedup"],
                                 "distance": neighbour["distance"], "recipe": best["recipe"]})
                    break
            else:
                if own:
                    untouched.append({"nest": answer["nest"], "kernel": own[0]["kernel"],
                                      "kernel_nest": own[0]["position"]})
        return Plan(ProgramRecipe(chosen), tuple(lent), tuple(untouched))


def create_app(service: Service, embedding_map: Path | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if service._pool is not None:
            service._pool.shutdown(cancel_futures=True)

    app = FastAPI(title="transfertune recipe service", docs_url=None, redoc_url=None, lifespan=lifespan)

    @app.post("/transfertune_sdfg")
    async def transfertune_sdfg(request: Request) -> Response:
        begin = time.monotonic()
        # Store reads and writes, and the embedding, run in threads: the event loop keeps
        # accepting and reading other requests meanwhile.
        token = await asyncio.to_thread(_authenticate, service.storage, request.headers.get("authorization", ""))
        if token is None:
            return JSONResponse({"error": "missing or invalid token"}, status_code=401)
        number = await asyncio.to_thread(service.storage.admit_request, token, service.limits.per_minute)
        if number is None:
            return JSONResponse({"error": f"rate limit: {service.limits.per_minute} requests a minute"},
                                status_code=429)
        try:
            outcome = await _answer(service, request, token)
        except BaseException as err:  # a bug, or the client went away: the request is not left "pending"
            failed = RequestRecord("error", message=f"{type(err).__name__}: {err}"[:500])
            await asyncio.shield(asyncio.to_thread(service.storage.finish_request, number, failed,
                                                   time.monotonic() - begin))
            raise
        await asyncio.to_thread(service.storage.finish_request, number, outcome.record, time.monotonic() - begin)
        return JSONResponse(outcome.reply, status_code=outcome.code)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return render_page(service.storage, service.sizes, map_url="/map.png" if embedding_map else None)

    @app.get("/map.png")
    def map_png() -> Response:
        if embedding_map is None or not embedding_map.is_file():
            return JSONResponse({"error": "no embedding map"}, status_code=404)
        return FileResponse(embedding_map, media_type="image/png")

    return app


async def _answer(service: Service, request: Request, token: Token) -> Outcome:
    """Read, check and answer one admitted request (see module docstring)."""
    body, size = await _read_limited(request, service.limits.max_body)
    if body is None:
        why = f"body over {service.limits.max_body} bytes"
        return Outcome(413, {"error": why}, RequestRecord("too_large", size=size, message=why))
    try:
        sdfg_text, docc_target = _parse_body(body)
    except ValueError as err:
        return _malformed(err, body)
    target = DOCC_TARGETS.get(docc_target, "")
    try:
        resolved = await asyncio.to_thread(service.resolve, docc_target,
                                           request.headers.get(TARGET_HEADER, token.target))
        target = resolved.name
        nests = await service.in_worker(client_nests, sdfg_text)
        plan = await asyncio.to_thread(service.plan, nests, resolved)
        sequence, steps = [], []
        if plan.lent:
            sequence, steps = await service.in_worker(record_plan, sdfg_text, plan.recipe.to_json())
    except TimeoutError:
        why = f"no answer within {service.limits.seconds:g} s"
        return Outcome(504, {"error": why}, RequestRecord("timeout", target, sdfg_json=sdfg_text, size=len(body),
                                                          message=why))
    except (ValueError, RuntimeError) as err:
        return _malformed(err, body, target)
    lent = _applied(plan.lent, steps)
    best = max(lent, key=lambda x: x["speedup"], default=None)
    metadata = {"region_id": hashlib.sha256(sdfg_text.encode()).hexdigest()[:16],
                "speedup": best["speedup"] if best else 1.0,
                "vector_distance": best["distance"] if best else None,
                "target": resolved.name, "answered_by": resolved.key, "note": resolved.note,
                "lent": lent, "untouched": list(plan.untouched),
                "steps_applied": sum(s["applied"] for s in steps),
                "steps_skipped": sum(not s["applied"] for s in steps)}
    record = RequestRecord("lent" if sequence else "empty", resolved.name, resolved.key, sdfg_text, len(body),
                           tuple(hashlib.sha256(c.encode()).hexdigest() for _, c in nests), tuple(lent))
    return Outcome(200, {"local_replay": {"sequence": sequence}, "metadata": metadata}, record)


def _applied(lent: tuple[dict[str, Any], ...], steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lent recipes of which docc's client replays something: those with at least one
    step applied and recorded, each with how many of its steps were and were not (a
    recipe ported from another nest often fits only in part). Only these are claimed:
    the reply's `speedup` is the best of their measured speedups."""
    applied = Counter(s["nest"] for s in steps if s["applied"])
    skipped = Counter(s["nest"] for s in steps if not s["applied"])
    return [{**x, "steps_applied": applied[x["nest"]], "steps_skipped": skipped[x["nest"]]}
            for x in lent if applied[x["nest"]]]


def _malformed(err: Exception, body: bytes, target: str = "") -> Outcome:
    """A 400 with the reason; the body is stored only when small."""
    why = f"malformed request: {(str(err).splitlines() or [''])[0][:300]}"
    kept = body.decode(errors="replace") if len(body) <= KEPT_BODY else ""
    return Outcome(400, {"error": why}, RequestRecord("malformed", target, sdfg_json=kept, size=len(body),
                                                      message=why))


def _authenticate(storage: Storage, header: str) -> Token | None:
    scheme, _, secret = header.partition(" ")
    return storage.token(secret.strip()) if scheme.lower() == "token" and secret.strip() else None


async def _read_limited(request: Request, limit: int) -> tuple[bytes | None, int]:
    """(the body, its size), or (None, the size known so far) as soon as the body is known
    to exceed `limit` (never buffered past it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None, int(declared)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None, size
        chunks.append(chunk)
    return b"".join(chunks), size


def _parse_body(body: bytes) -> tuple[str, str]:
    """(the SDFG as JSON text, docc's target name), or ValueError saying what is wrong."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise ValueError(f"body is not JSON ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("sdfg"), dict):
        raise ValueError("expected a JSON object with an 'sdfg' object")
    sdfg = data["sdfg"]
    missing = {"root", "containers", "arguments"} - sdfg.keys()
    if missing:
        raise ValueError(f"the SDFG lacks {', '.join(sorted(missing))}")
    refuse_foreign_code(sdfg)
    return json.dumps(sdfg), str(data.get("target", "sequential"))
