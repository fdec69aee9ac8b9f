"""Bring up PostGIS for gisgrid: find or start a server, create the databases, enable PostGIS, migrate.

Order of discovery (``gisgrid db up``):

1. ``GISGRID_DATABASE_URL`` (and ``GISGRID_TEST_DATABASE_URL`` for tests) when set — used as given;
2. a local PostgreSQL on 127.0.0.1:5432 or its Unix socket, as user ``postgres`` (trust auth);
3. a private cluster under ``.gisgrid/pgdata``, initialised and started with the installed
   ``initdb``/``pg_ctl`` when no server answers.

The server that was found is recorded in ``.gisgrid/server.json`` so later commands reuse it.
PostGIS is installed with apt when the extension is missing and we run as root on Debian/Ubuntu;
otherwise we stop and say exactly which package to install.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import URL, make_url

from gisgrid.errors import ConfigurationError, DatabaseUnavailableError

DEFAULT_DB = "gisgrid"
TEST_DB = "gisgrid_test"
SOCKET_DIRS = ("/var/run/postgresql", "/run/postgresql", "/tmp")


@dataclass(frozen=True)
class Server:
    """Where a PostgreSQL server answers, and how we came to use it."""

    url: str  # SQLAlchemy URL of the maintenance database ("postgres")
    origin: str  # "env", "local" or "private"

    def database(self, name: str) -> str:
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, flush=True)


def _try_connect(url: str, timeout: int = 3) -> bool:
    u = make_url(url)
    try:
        conn = psycopg2.connect(**_connect_args(u), connect_timeout=timeout)
    except psycopg2.OperationalError:
        return False
    conn.close()
    return True


def _connect_args(u: URL) -> dict[str, object]:
    args: dict[str, object] = {"dbname": u.database or "postgres", "user": u.username or "postgres"}
    if u.password:
        args["password"] = u.password
    if u.host:
        args["host"] = u.host
    if u.port:
        args["port"] = u.port
    host = u.query.get("host")
    if host:
        args["host"] = host if isinstance(host, str) else host[0]
    return args


def connect(url: str, **kwargs: object) -> psycopg2.extensions.connection:
    """A psycopg2 connection for a SQLAlchemy-style URL (``postgresql+psycopg2://…``)."""
    return psycopg2.connect(**_connect_args(make_url(url)), **kwargs)  # type: ignore[arg-type]


def state_file(state_dir: Path) -> Path:
    return state_dir / "server.json"


def recorded_server(state_dir: Path) -> Server | None:
    path = state_file(state_dir)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return Server(url=data["url"], origin=data["origin"])


def _record(state_dir: Path, server: Server) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    state_file(state_dir).write_text(
        json.dumps({"url": server.url, "origin": server.origin}, indent=2) + "\n"
    )


def find_local_server() -> Server | None:
    """A PostgreSQL already running on this machine (TCP 127.0.0.1:5432, then the Unix sockets)."""
    candidates = ["postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"]
    for d in SOCKET_DIRS:
        if glob.glob(os.path.join(d, ".s.PGSQL.*")):
            candidates.append(f"postgresql+psycopg2://postgres@/postgres?host={d}")
    for url in candidates:
        if _try_connect(url):
            return Server(url=url, origin="local")
    return None


# ---------------------------------------------------------------------------------- private cluster


def _pg_bindir() -> Path:
    """Directory of the newest installed initdb/pg_ctl."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise DatabaseUnavailableError(
        "No PostgreSQL server answers and no initdb is installed to start one. "
        "Install PostgreSQL (Debian: apt-get install postgresql) or set GISGRID_DATABASE_URL.",
        rule="a PostgreSQL server or its binaries are required",
    )


def _free_port(preferred: int) -> int:
    for port in [preferred, *range(55432, 55532)]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise DatabaseUnavailableError(
        "No free TCP port for a private PostgreSQL cluster (tried 5432, 55432–55531)"
    )


def _as_cluster_owner(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the 'postgres' system user then."""
    if os.geteuid() != 0:
        return cmd
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise DatabaseUnavailableError(
            "Running as root and there is no 'postgres' system user to own a private cluster; "
            "create one (useradd -r postgres) or run as an ordinary user.",
        ) from exc
    return ["runuser", "-u", "postgres", "--", *cmd]


def start_private_cluster(state_dir: Path, *, port: int | None = None, quiet: bool = False) -> Server:
    """Initialise (once) and start a PostgreSQL cluster under ``state_dir/pgdata``.

    Listens on 127.0.0.1 only, trust authentication for local connections (a development cluster).
    """
    state_dir = state_dir.resolve()
    pgdata, rundir, log = state_dir / "pgdata", state_dir / "run", state_dir / "postgres.log"
    bindir = _pg_bindir()
    state_dir.mkdir(parents=True, exist_ok=True)
    rundir.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for p in (state_dir, rundir):
            os.chown(p, owner.pw_uid, owner.pw_gid)
        if log.exists():
            os.chown(log, owner.pw_uid, owner.pw_gid)
    if not (pgdata / "PG_VERSION").exists():
        _say(f"Initialising a private PostgreSQL cluster in {pgdata} …", quiet)
        subprocess.run(
            _as_cluster_owner(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
        )
    port_file = state_dir / "private_port"
    if port is None:
        port = int(port_file.read_text()) if port_file.exists() else _free_port(5432)
    status = subprocess.run(
        _as_cluster_owner([str(bindir / "pg_ctl"), "-D", str(pgdata), "status"]), capture_output=True
    )
    if status.returncode != 0:
        _say(f"Starting the private cluster on 127.0.0.1:{port} …", quiet)
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {rundir}"
        res = subprocess.run(
            _as_cluster_owner(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(pgdata),
                    "-l",
                    str(log),
                    "-o",
                    opts,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            raise DatabaseUnavailableError(
                f"Could not start the private cluster: {res.stderr.strip() or res.stdout.strip()} (log: {log})"
            )
    port_file.write_text(str(port))
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    for _ in range(30):
        if _try_connect(url):
            return Server(url=url, origin="private")
        time.sleep(0.5)
    raise DatabaseUnavailableError(
        f"The private cluster did not accept connections on port {port} (log: {log})"
    )


def stop_private_cluster(state_dir: Path) -> bool:
    pgdata = state_dir.resolve() / "pgdata"
    if not (pgdata / "PG_VERSION").exists():
        return False
    res = subprocess.run(
        _as_cluster_owner([str(_pg_bindir() / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"]),
        capture_output=True,
    )
    return res.returncode == 0


# ------------------------------------------------------------------------------ databases, PostGIS


def find_server(state_dir: Path, *, env_url: str | None = None, quiet: bool = False) -> Server:
    """The server to use: the env URL, a running local server, or a private cluster (started if needed)."""
    if env_url:
        if not _try_connect(
            make_url(env_url).set(database="postgres").render_as_string(False)
        ) and not _try_connect(env_url):
            raise DatabaseUnavailableError(
                f"GISGRID_DATABASE_URL is set but nothing answers there: {make_url(env_url)!r}",
                field="GISGRID_DATABASE_URL",
            )
        return Server(url=env_url, origin="env")
    recorded = recorded_server(state_dir)
    if recorded and recorded.origin == "local" and _try_connect(recorded.url):
        return recorded
    local = find_local_server()
    if local:
        _record(state_dir, local)
        return local
    _say("No PostgreSQL server answers on 127.0.0.1:5432 or a local socket.", quiet)
    server = start_private_cluster(state_dir, quiet=quiet)
    _record(state_dir, server)
    return server


def create_database(server: Server, name: str, *, quiet: bool = False) -> bool:
    """CREATE DATABASE ``name`` unless it exists; True when it was created."""
    conn = connect(server.url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                return False
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            _say(f"Created database {name}.", quiet)
            return True
    finally:
        conn.close()


def drop_database(server: Server, name: str) -> None:
    conn = connect(server.url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        conn.close()


def postgis_package(server_version_num: int) -> str:
    """The Debian/Ubuntu package that provides PostGIS for this server's major version."""
    return f"postgresql-{server_version_num // 10000}-postgis-3"


def ensure_postgis(db_url: str, *, install: bool = True, quiet: bool = False) -> str:
    """CREATE EXTENSION postgis in ``db_url``, installing the package first when allowed; its version."""
    conn = connect(db_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            row = cur.fetchone()
            if row:
                return str(row[0])
            cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
            if not cur.fetchone():
                cur.execute("SHOW server_version_num")
                package = postgis_package(int(cur.fetchone()[0]))  # type: ignore[index]
                if not install:
                    raise DatabaseUnavailableError(
                        f"PostGIS is not installed on the server. Install the package {package} "
                        f"(Debian/Ubuntu: sudo apt-get install -y {package}) and run 'gisgrid db up' again.",
                        rule="the postgis extension must be available",
                    )
                _install_postgis(package, quiet=quiet)
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            return str(cur.fetchone()[0])  # type: ignore[index]
    finally:
        conn.close()


def _install_postgis(package: str, *, quiet: bool) -> None:
    how = f"sudo apt-get install -y {package}"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise DatabaseUnavailableError(
            f"PostGIS is missing on the server and this is not a root shell with apt-get. Install the package "
            f"{package} ({how}), or use a server that has PostGIS, and run 'gisgrid db up' again.",
            rule="the postgis extension must be available",
        )
    _say(f"PostGIS is missing: installing {package} with apt-get …", quiet)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=quiet, env=env)
    res = subprocess.run(
        ["apt-get", "install", "-y", "-qq", package], capture_output=True, text=True, env=env
    )
    if res.returncode != 0:
        raise DatabaseUnavailableError(
            f"apt-get could not install {package}: {res.stderr.strip()[-500:]}. Install it by hand ({how}).",
            rule="the postgis extension must be available",
        )


def database_url(
    state_dir: Path, *, test: bool = False, env_url: str | None = None, env_test_url: str | None = None
) -> str:
    """The URL of the gisgrid (or gisgrid_test) database, without starting anything."""
    if test and env_test_url:
        return env_test_url
    if env_url:
        return env_url if not test else make_url(env_url).set(database=TEST_DB).render_as_string(False)
    server = recorded_server(state_dir)
    if server is None:
        raise ConfigurationError(
            "No database is configured: run 'gisgrid db up' (it finds or starts PostgreSQL) "
            "or set GISGRID_DATABASE_URL.",
            field="GISGRID_DATABASE_URL",
        )
    return server.database(TEST_DB if test else DEFAULT_DB)


def up(
    state_dir: Path,
    *,
    env_url: str | None = None,
    env_test_url: str | None = None,
    test: bool = False,
    migrate: bool = True,
    install: bool = True,
    quiet: bool = False,
) -> dict[str, str]:
    """Everything ``gisgrid db up`` does; returns what was set up, for ``--json``."""
    from layers.migrate import upgrade

    result: dict[str, str] = {}
    targets: list[tuple[str, str]] = []
    if env_url and not test:
        server = find_server(state_dir, env_url=env_url, quiet=quiet)
        maintenance = Server(
            url=make_url(env_url).set(database="postgres").render_as_string(False), origin="env"
        )
        create_database(maintenance, str(make_url(env_url).database), quiet=quiet)
        targets.append(("database", env_url))
    elif test and env_test_url:
        server = find_server(state_dir, env_url=env_test_url, quiet=quiet)
        maintenance = Server(
            url=make_url(env_test_url).set(database="postgres").render_as_string(False), origin="env"
        )
        create_database(maintenance, str(make_url(env_test_url).database), quiet=quiet)
        targets.append(("test_database", env_test_url))
    else:
        server = find_server(state_dir, env_url=env_url, quiet=quiet)
        base = Server(
            url=make_url(server.url).set(database="postgres").render_as_string(False), origin=server.origin
        )
        names = [TEST_DB] if test else [DEFAULT_DB, TEST_DB]
        for name in names:
            create_database(base, name, quiet=quiet)
            targets.append(("test_database" if name == TEST_DB else "database", base.database(name)))
    result["server"] = server.origin
    for key, url in targets:
        result[key] = make_url(url).render_as_string(hide_password=True)
        result["postgis"] = ensure_postgis(url, install=install, quiet=quiet)
        if migrate:
            upgrade(url)
    return result
