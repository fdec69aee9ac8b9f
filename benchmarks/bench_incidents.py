"""Incidents: bulk assignment of historical points to grids, and the intake API under load.

**(a) Bulk assignment** — 1,000,000 points drawn uniformly inside the communities of the demo district
(``generate_district(seed=7, households=100_000)``) assigned to its grids. The demo district has no
grid rows, so the grids here are the community polygons cut by a regular 0.003° lattice (about
255 m × 333 m) and clipped to each community — documented, deterministic, and polygon counts of the
same order as a real district's. Three ways, each in a fresh process:

* **ours** — :func:`layers.incidents.bulk.assign_bulk`: read every grid version once from PostGIS into
  a :class:`gisgrid.grids.locate.GridLocator` (the locator intake uses too), one shapely STRtree query
  ``predicate='covered_by'`` (as ``ST_Covers``), drop versions not valid at the report time, lowest id
  wins. Timed from the database read on; split into read / tree / query / pick.
* **geopandas.sjoin** — ``sjoin(points, grids, predicate='within')`` on the same frames already in memory.
* **PostGIS** — the set-based ``UPDATE bench_points SET grid_id = g.id FROM grid g WHERE ST_Covers …``
  over the same points COPYed into a table with a GiST index (COPY and index outside the timing).

**(b) Intake under load** — uvicorn (uvloop + httptools, 1 and 2 workers) on loopback against the
benchmark database with the demo district, driven by ``wrk -t2 -c16|-c64 -d10s --latency`` (Debian's
wrk, installed by apt-get when missing and running as root; otherwise the asyncio httpx client, and the
row's ``client`` says so) with a Lua script that POSTs the JSON bodies in turn, each with the bearer
token and an Idempotency-Key unique per thread and request. Each cell has a 3 s warm-up first. Ours is
``POST /api/v1/incidents`` as served (token, idempotency key per request, versioned-grid assignment,
boundary flag, routing, duplicates, incident + event rows; reports arriving together written in one
statement); the peer is a bare FastAPI endpoint written here doing one PostGIS point-in-polygon
lookup plus one insert on an asyncpg pool of the same size, in a process that imports nothing of
gisgrid. Both insert into the same ``incident`` table, truncated before each server starts (so the
generic plans are made on an empty table). Server, PostgreSQL and wrk share the machine's cores:
the CPU seconds of wrk, of the uvicorn processes and of every PostgreSQL process are reported too.
"""

from __future__ import annotations

import os
import time
from typing import Any

from pydantic import BaseModel

from benchmarks.harness import case, run_in_subprocess

HOUSEHOLDS = 100_000
LATTICE_DEG = 0.003
POINTS = 1_000_000
SEED = 11
SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
PORT = 18731


# ------------------------------------------------------------------------------------------ data
def _engine(url: str) -> Any:
    from sqlalchemy import create_engine

    return create_engine(url)


def _lattice_grids(communities: Any) -> Any:
    """Community polygons cut by a regular lattice, clipped; 15-digit codes numbered per community."""
    import geopandas as gpd
    import numpy as np
    import shapely

    rows = []
    for code, geom in zip(communities["code"], communities.geometry, strict=True):
        x0, y0, x1, y1 = geom.bounds
        xs = np.arange(np.floor(x0 / LATTICE_DEG) * LATTICE_DEG, x1, LATTICE_DEG)
        ys = np.arange(np.floor(y0 / LATTICE_DEG) * LATTICE_DEG, y1, LATTICE_DEG)[::-1]
        cells = [shapely.box(x, y, x + LATTICE_DEG, y + LATTICE_DEG) for y in ys for x in xs]
        parts = shapely.intersection(np.array(cells, dtype=object), geom)
        seq = 0
        for part in parts:
            polys = [p for p in getattr(part, "geoms", [part]) if p.geom_type == "Polygon" and p.area > 1e-9]
            if not polys:
                continue
            seq += 1
            rows.append({"code": f"{code}{seq:03d}", "community_code": code,
                         "geom": shapely.MultiPolygon(polys)})
    return gpd.GeoDataFrame(rows, geometry="geom", crs=4326)


def _points(communities: Any, n: int, seed: int = SEED) -> Any:
    """``n`` points uniformly inside the union of the communities (rejection sampling)."""
    import geopandas as gpd
    import numpy as np
    import shapely

    union = shapely.union_all(communities.geometry.values)
    shapely.prepare(union)
    x0, y0, x1, y1 = union.bounds
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    have = 0
    while have < n:
        x = rng.uniform(x0, x1, 2 * n)
        y = rng.uniform(y0, y1, 2 * n)
        keep = shapely.contains_xy(union, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        have += int(keep.sum())
    x, y = np.concatenate(xs)[:n], np.concatenate(ys)[:n]
    return gpd.GeoDataFrame({"pid": np.arange(n)}, geometry=shapely.points(x, y), crs=4326)


def _communities(url: str) -> Any:
    import geopandas as gpd

    eng = _engine(url)
    try:
        return gpd.read_postgis("SELECT code, geom FROM admin_area WHERE level = 'community' ORDER BY code",
                                eng, geom_col="geom")
    finally:
        eng.dispose()


@case("setup")
def setup(url: str, households: int) -> dict[str, Any]:
    """Load the demo district, replace the grids with the lattice, add a patrol user."""
    from geoalchemy2.shape import from_shape
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from gisgrid.synth import generate_district
    from layers.accounts import create_user
    from layers.demo import load_district

    eng = _engine(url)
    with eng.begin() as conn:
        conn.execute(text("TRUNCATE incident, incident_event, grid RESTART IDENTITY CASCADE"))
        conn.execute(text("DELETE FROM app_user WHERE username = 'bench_patrol'"))
    load_district(eng, generate_district(seed=7, households=households), replace=True)
    comms = _communities(url)
    grids = _lattice_grids(comms)
    ids = dict(zip(comms["code"], [None] * len(comms), strict=True))
    with eng.begin() as conn:
        ids = {r.code: r.id for r in conn.execute(text("SELECT code, id FROM admin_area WHERE level='community'"))}
        conn.execute(
            text("INSERT INTO grid (code, version, community_id, status, valid_from, geom) "
                 "VALUES (:code, 1, :cid, 'active', '2024-01-01', ST_GeomFromWKB(:wkb, 4326))"),
            [{"code": c, "cid": ids[cc], "wkb": from_shape(g, srid=4326).data}
             for c, cc, g in zip(grids["code"], grids["community_code"], grids.geometry, strict=True)],
        )
        conn.execute(text("ANALYZE grid"))
    with Session(eng) as s:
        create_user(s, username="bench_patrol", password="bench-password-1", role="patrol", scope_area_code=None)
        s.commit()
    eng.dispose()
    return {"communities": len(comms), "grids": len(grids)}


# ------------------------------------------------------------------------------------ assignment
@case("assign")
def assign(url: str, method: str, n: int) -> dict[str, Any]:
    import geopandas as gpd
    import numpy as np

    comms = _communities(url)
    pts = _points(comms, n)
    phases: dict[str, float] = {}
    if method == "ours":
        import shapely

        from layers.incidents.bulk import assign_bulk, load_locator

        eng = _engine(url)
        t0 = time.perf_counter()
        locator = load_locator(eng)
        t1 = time.perf_counter()
        # the same query split into its phases, for "where the time goes"
        tree = shapely.STRtree(locator.geoms)
        t2 = time.perf_counter()
        pi, gi = tree.query(pts.geometry.values, predicate="covered_by")
        t3 = time.perf_counter()
        phases = {"read_grids_s": t1 - t0, "build_tree_s": t2 - t1, "query_s": t3 - t2}
        t4 = time.perf_counter()
        got = assign_bulk(locator, pts)  # builds the locator's own tree: as the phase above
        t5 = time.perf_counter()
        phases["pick_versions_s"] = max(t5 - t4 - phases["query_s"] - phases["build_tree_s"], 0.0)
        seconds = (t1 - t0) + (t5 - t4)  # read + full assign_bulk on the loaded grids
        assigned = int((got >= 0).sum())
        del pi, gi
        eng.dispose()
    elif method == "sjoin":
        eng = _engine(url)
        grids = gpd.read_postgis("SELECT id, geom FROM grid WHERE valid_to IS NULL", eng, geom_col="geom")
        eng.dispose()
        t0 = time.perf_counter()
        joined = gpd.sjoin(pts, grids, predicate="within", how="left")
        seconds = time.perf_counter() - t0
        assigned = int(joined.drop_duplicates("pid")["id"].notna().sum())
    elif method == "postgis":
        import io

        from sqlalchemy import text

        eng = _engine(url)
        raw = eng.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("DROP TABLE IF EXISTS bench_points; "
                        "CREATE UNLOGGED TABLE bench_points (pid int, grid_id int, geom geometry(Point, 4326))")
            buf = io.StringIO()
            xs, ys = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
            for i in range(n):
                buf.write(f"{i}\tSRID=4326;POINT({float(xs[i])!r} {float(ys[i])!r})\n")
            buf.seek(0)
            cur.copy_expert("COPY bench_points (pid, geom) FROM STDIN", buf)
            cur.execute("CREATE INDEX ON bench_points USING gist (geom); ANALYZE bench_points")
            raw.commit()
            t0 = time.perf_counter()
            cur.execute("UPDATE bench_points p SET grid_id = g.id FROM grid g "
                        "WHERE g.valid_to IS NULL AND ST_Covers(g.geom, p.geom)")
            raw.commit()
            seconds = time.perf_counter() - t0
            cur.execute("SELECT count(*) FROM bench_points WHERE grid_id IS NOT NULL")
            assigned = int(cur.fetchone()[0])
            cur.execute("DROP TABLE bench_points")
            raw.commit()
        finally:
            raw.close()
        del text
        eng.dispose()
    else:
        raise ValueError(method)
    return {"seconds": round(seconds, 3), "points": n, "assigned": assigned,
            "m_points_per_s": round(n / seconds / 1e6, 3), **{k: round(v, 3) for k, v in phases.items()},
            "inside_share": float(np.round(assigned / n, 4))}


# ------------------------------------------------------------------------------------------ load
class Report(BaseModel):
    """The bare endpoint's body (module level: FastAPI resolves the annotation by name)."""

    lon: float
    lat: float
    category_code: str
    source: str


def ours_app() -> Any:
    """The real app, as ``gisgrid serve`` runs it."""
    from api.main import create_app

    return create_app()


def bare_app() -> Any:
    """The peer: one PostGIS point-in-polygon lookup plus one insert on an asyncpg pool."""
    from contextlib import asynccontextmanager

    import asyncpg
    from fastapi import FastAPI

    # bare: nothing of gisgrid is imported (no SQLAlchemy, shapely, pandas in this process), so its
    # garbage collector has little to walk; the DSN is the SQLAlchemy URL without the driver
    dsn = os.environ["GISGRID_DATABASE_URL"].replace("postgresql+psycopg2://", "postgresql://", 1)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=1, max_size=int(os.environ["GISGRID_DB_POOL_SIZE"]))
        yield
        await state["pool"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/bare", status_code=201)
    async def bare(r: Report) -> dict[str, Any]:
        async with state["pool"].acquire() as conn:
            grid_id = await conn.fetchval(
                "SELECT id FROM grid WHERE valid_to IS NULL "
                "AND ST_Covers(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) LIMIT 1", r.lon, r.lat)
            new_id = await conn.fetchval(
                "INSERT INTO incident (category_code, source, grid_id, geom) "
                "VALUES ($1, $2, $3, ST_SetSRID(ST_MakePoint($4, $5), 4326)) RETURNING id",
                r.category_code, r.source, grid_id, r.lon, r.lat)
        return {"id": new_id, "grid_id": grid_id}

    return app


async def _drive(base: str, path: str, bodies: list[dict[str, Any]], headers: dict[str, str], concurrency: int,
                 max_requests: int, max_seconds: float, keyed: bool) -> dict[str, Any]:
    """The fallback client (no wrk): asyncio httpx, bounded by a request count and a time limit."""
    import asyncio

    import httpx

    lat: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + max_seconds

        async def worker() -> None:
            while True:
                i = next(counter)
                if i >= max_requests or time.perf_counter() > deadline:
                    return
                h = {**headers, "Idempotency-Key": f"bench-{os.getpid()}-{time.time_ns()}-{i}"} if keyed else headers
                t = time.perf_counter()
                r = await client.post(path, json=bodies[i % len(bodies)], headers=h)
                lat.append(time.perf_counter() - t)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return {"wall": wall, "lat": lat, "statuses": statuses}


def find_wrk() -> tuple[str | None, str]:
    """wrk's path, installing Debian's package when missing and running as root; else (None, why)."""
    import shutil
    import subprocess

    found = shutil.which("wrk")
    if found:
        return found, "wrk"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "httpx client: wrk is not installed and this is not root with apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "wrk"]):
        subprocess.run(cmd, env=env, capture_output=True, check=False, timeout=600)
        found = shutil.which("wrk")
        if found:
            return found, "wrk (installed from Debian)"
    return None, "httpx client: apt-get install wrk failed"


def _lua(path: str, bodies: list[dict[str, Any]], headers: dict[str, str], keyed: bool, tag: str) -> str:
    """A wrk script: POST the bodies in turn, each request with a key unique per thread and counter."""
    import json

    def q(s: str) -> str:
        return "[==[" + s + "]==]"

    lines = ["local bodies = {", *(f"  {q(json.dumps(b, ensure_ascii=False))}," for b in bodies), "}",
             "local headers = {['Content-Type'] = 'application/json'}"]
    lines += [f"headers[ {q(k)} ] = {q(v)}" for k, v in headers.items()]
    lines += [
        "local n_threads = 0",
        "function setup(thread)",
        "  n_threads = n_threads + 1",
        "  thread:set('tid', n_threads)",
        "end",
        "local counter = 0",
        "function request()",
        "  counter = counter + 1",
        "  local i = ((tid or 1) * 7919 + counter) % #bodies + 1",
    ]
    if keyed:
        lines.append(f"  headers['Idempotency-Key'] = {q(tag)} .. '-' .. (tid or 1) .. '-' .. counter")
    lines += [f"  return wrk.format('POST', {q(path)}, headers, bodies[i])", "end", ""]
    return "\n".join(lines)


_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(out: str) -> dict[str, Any]:
    """Requests, seconds, req/s, p50/p99 (ms), errors from ``wrk --latency`` output."""
    import re

    def ms(label: str) -> float | None:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return round(float(m.group(1)) * _UNIT_MS[m.group(2)], 1) if m else None

    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if not done or not rps:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return {
        "requests": int(done.group(1)), "seconds": round(float(done.group(2)) * _UNIT_MS[done.group(3)] / 1e3, 2),
        "req_per_s": round(float(rps.group(1)), 1), "p50_ms": ms("50"), "p99_ms": ms("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(g) for g in sock.groups()) if sock else 0,
    }


def _wrk(wrk: str, script: str, url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    """One bounded wrk run (2 threads, fixed duration, loopback); its figures and its CPU seconds."""
    import resource
    import subprocess

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([wrk, "-t2", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "10s", "--latency",
                           "-s", script, url], capture_output=True, text=True, check=False,
                          timeout=seconds + 60)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or proc.stderr.strip():  # a Lua error is only a line on stderr
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    res = parse_wrk(proc.stdout)
    res["client_cpu_s"] = round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 2)
    return res


def _proc_cpu(pid: int | str) -> tuple[str, float]:
    """A process's name and CPU seconds (user + system), from /proc ('', 0 where unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        head, tail = stat.rsplit(")", 1)
        fields = tail.split()
        return head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return "", 0.0


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (uvicorn's workers)."""
    pids: list[int | str] = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += f.read().split()
    except OSError:
        pass
    return sum(_proc_cpu(p)[1] for p in pids)


def _postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on the machine."""
    return sum(cpu for name, cpu in map(_proc_cpu, filter(str.isdigit, os.listdir("/proc"))) if name == "postgres")


@case("load")
def load(url: str, app: str, workers: int, concurrencies: list[int], seconds: float, max_requests: int,
         warmup_seconds: float = 3.0) -> dict[str, Any]:
    import asyncio
    import subprocess
    import sys
    import tempfile

    import httpx
    import numpy as np
    from sqlalchemy import text

    from api.security import create_access_token
    from layers.settings import Settings

    eng = _engine(url)
    with eng.begin() as conn:
        conn.execute(text("TRUNCATE incident, incident_event RESTART IDENTITY CASCADE"))
    pts = _points(_communities(url), 5000, seed=SEED + workers)
    cats = ["06010", "09006", "04002", "10001", "01002"]
    bodies = [{"lon": float(p.x), "lat": float(p.y), "category_code": cats[i % len(cats)], "source": "patrol",
               "description": "压测"} for i, p in enumerate(pts.geometry)]
    env = {**os.environ, "GISGRID_DATABASE_URL": url, "GISGRID_SECRET_KEY": SECRET, "GISGRID_ENVIRONMENT": "local",
           "GISGRID_DB_POOL_SIZE": "8", "GISGRID_INCIDENTS_TICK_SECONDS": "0"}
    factory = "benchmarks.bench_incidents:ours_app" if app == "ours" else "benchmarks.bench_incidents:bare_app"
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1", "--port", str(PORT),
         "--workers", str(workers), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
         "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{PORT}"
    wrk, client = find_wrk()
    try:
        health = "/api/v1/health" if app == "ours" else "/health"
        for _ in range(300):
            try:
                if httpx.get(base + health, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise RuntimeError(server.stderr.read().decode() if server.stderr else "server exited")
            time.sleep(0.1)
        token = create_access_token(username="bench_patrol", role="patrol", scope=None,
                                    settings=Settings(secret_key=SECRET))
        headers = {"Authorization": f"Bearer {token}"} if app == "ours" else {}
        path = "/api/v1/incidents" if app == "ours" else "/bare"
        out: dict[str, Any] = {"client": client}
        with tempfile.TemporaryDirectory() as tmp:
            for c in concurrencies:
                if wrk:
                    def run(secs: float, tag: str, c: int = c) -> dict[str, Any]:
                        script = os.path.join(tmp, f"{tag}.lua")
                        with open(script, "w", encoding="utf-8") as f:
                            f.write(_lua(path, bodies, headers, app == "ours", f"bench-{time.time_ns()}-{tag}"))
                        return _wrk(wrk, script, base + path, c, secs)

                    run(warmup_seconds, f"warm{c}")
                    cpu0, db0 = _tree_cpu(server.pid), _postgres_cpu()
                    res = run(seconds, f"c{c}")
                    res["server_cpu_s"] = round(_tree_cpu(server.pid) - cpu0, 2)
                    res["db_cpu_s"] = round(_postgres_cpu() - db0, 2)
                else:
                    import resource

                    asyncio.run(_drive(base, path, bodies, headers, c, 300, warmup_seconds, app == "ours"))
                    ru0 = resource.getrusage(resource.RUSAGE_SELF)
                    cpu0, db0 = _tree_cpu(server.pid), _postgres_cpu()
                    got = asyncio.run(_drive(base, path, bodies, headers, c, max_requests, seconds, app == "ours"))
                    ru1 = resource.getrusage(resource.RUSAGE_SELF)
                    lat = np.array(got["lat"]) * 1000
                    res = {
                        "requests": int(lat.size), "seconds": round(got["wall"], 2),
                        "req_per_s": round(lat.size / got["wall"], 1),
                        "p50_ms": round(float(np.percentile(lat, 50)), 1),
                        "p99_ms": round(float(np.percentile(lat, 99)), 1),
                        "non_2xx": sum(n for s, n in got["statuses"].items() if not 200 <= s < 400),
                        "socket_errors": 0,
                        "client_cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 2),
                        "server_cpu_s": round(_tree_cpu(server.pid) - cpu0, 2),
                        "db_cpu_s": round(_postgres_cpu() - db0, 2),
                    }
                out[str(c)] = res
        with eng.begin() as conn:
            out["rows_written"] = int(conn.execute(text("SELECT count(*) FROM incident")).scalar_one())
        return out
    finally:
        eng.dispose()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


# ------------------------------------------------------------------------------------------- run
def run(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    quick = bool(ctx.get("quick"))
    households = 20_000 if quick else HOUSEHOLDS
    n = 100_000 if quick else POINTS
    made = run_in_subprocess(__name__, "setup", url=ctx["url"], households=households)
    res = {m: run_in_subprocess(__name__, "assign", url=ctx["url"], method=m, n=n)
           for m in ("ours", "sjoin", "postgis")}
    ours = res["ours"]
    results: list[dict[str, Any]] = [{
        "benchmark": f"bulk assignment of {n:,} points to {made['grids']:,} lattice grids",
        "ours_m_points_per_s": ours["m_points_per_s"], "ours_s": ours["seconds"],
        "ours_phases_s": {k: ours[k] for k in ("read_grids_s", "build_tree_s", "query_s", "pick_versions_s")},
        "sjoin_m_points_per_s": res["sjoin"]["m_points_per_s"], "sjoin_s": res["sjoin"]["seconds"],
        "postgis_m_points_per_s": res["postgis"]["m_points_per_s"], "postgis_s": res["postgis"]["seconds"],
        "assigned": {m: r["assigned"] for m, r in res.items()},
        "ours_peak_mb": ours["peak_rss_mb"], "sjoin_peak_mb": res["sjoin"]["peak_rss_mb"],
    }]
    seconds = 5.0 if quick else 10.0
    for workers in (1, 2):
        runs = {app: run_in_subprocess(__name__, "load", url=ctx["url"], app=app, workers=workers,
                                       concurrencies=[16, 64], seconds=seconds, max_requests=20_000)
                for app in ("bare", "ours")}
        for c in ("16", "64"):
            o, b = runs["ours"][c], runs["bare"][c]
            results.append({
                "benchmark": f"intake API, {workers} worker(s), concurrency {c}",
                "client": runs["ours"]["client"] + ", -t2 -c" + c + f" -d{seconds:g}s",
                "ours_req_per_s": o["req_per_s"], "ours_p50_ms": o["p50_ms"], "ours_p99_ms": o["p99_ms"],
                "ours_requests": o["requests"], "ours_errors": o["non_2xx"] + o["socket_errors"],
                "ours_client_cpu_s": o["client_cpu_s"], "ours_server_cpu_s": o["server_cpu_s"],
                "ours_db_cpu_s": o["db_cpu_s"],
                "ours_cpu_ms_per_request": {
                    "server": round(o["server_cpu_s"] / max(o["requests"], 1) * 1e3, 2),
                    "postgres": round(o["db_cpu_s"] / max(o["requests"], 1) * 1e3, 2)},
                "bare_req_per_s": b["req_per_s"], "bare_p50_ms": b["p50_ms"], "bare_p99_ms": b["p99_ms"],
                "bare_requests": b["requests"], "bare_errors": b["non_2xx"] + b["socket_errors"],
                "bare_client_cpu_s": b["client_cpu_s"], "bare_server_cpu_s": b["server_cpu_s"],
                "bare_db_cpu_s": b["db_cpu_s"],
                "bare_cpu_ms_per_request": {
                    "server": round(b["server_cpu_s"] / max(b["requests"], 1) * 1e3, 2),
                    "postgres": round(b["db_cpu_s"] / max(b["requests"], 1) * 1e3, 2)},
                "ours_vs_bare": round(o["req_per_s"] / b["req_per_s"], 2) if b["req_per_s"] else None,
            })
    return results
