"""A throwaway PostgreSQL server on 127.0.0.1 for tests and benchmarks.

Uses the server binaries (``initdb``, ``pg_ctl``) from ``$PERSONA_PG_BIN``, else ``PATH``,
else Debian's ``/usr/lib/postgresql/<version>/bin`` (package ``postgresql``). PostgreSQL
refuses to run as root, so under root the server runs as the ``postgres`` OS user (created
if missing) through ``runuser``. Data live in a temporary folder removed on stop.

    with TemporaryPostgres() as pg:
        url = pg.create_database("test")      # postgresql+psycopg://persona@127.0.0.1:PORT/test
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

BIN_ENV_VAR = "PERSONA_PG_BIN"
SUPERUSER = "persona"
OS_USER = "postgres"
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found. Install Debian's server package: "
    "`apt-get update && apt-get install -y --no-install-recommends postgresql` "
    f"(they land in /usr/lib/postgresql/<version>/bin), or point ${BIN_ENV_VAR} at the folder holding them."
)


class PostgresUnavailable(RuntimeError):
    """The server binaries are missing or the server would not start."""


def find_bin_dir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``; raises :class:`PostgresUnavailable`."""
    candidates: list[Path] = []
    if os.environ.get(BIN_ENV_VAR):
        candidates.append(Path(os.environ[BIN_ENV_VAR]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)

    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parent.name
        return tuple(int(x) for x in part.split(".") if x.isdigit())

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise PostgresUnavailable(INSTALL_HINT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_os_user() -> None:
    try:
        subprocess.run(["id", "-u", OS_USER], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", OS_USER],
            check=True,
            capture_output=True,
        )


class TemporaryPostgres:
    """Start a private PostgreSQL server (``start``/``stop`` or a ``with`` block).

    ``fsync=False`` (the default) makes it faster for tests; benchmarks pass ``True``.
    """

    def __init__(self, *, fsync: bool = False) -> None:
        self.fsync = fsync
        self.bin_dir: Path | None = None
        self.data_dir: Path | None = None
        self.port: int | None = None
        self._root_dir: Path | None = None
        self._as_root = hasattr(os, "geteuid") and os.geteuid() == 0

    # ------------------------------------------------------------------ control
    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_root:
            cmd = ["runuser", "-u", OS_USER, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            log = self._log_tail()
            raise PostgresUnavailable(
                f"{' '.join(args[:1])} failed ({result.returncode}): {result.stderr.strip()}\n{log}"
            )
        return result

    def _log_tail(self) -> str:
        log = self._root_dir / "server.log" if self._root_dir else None
        if log and log.exists():
            return "server log:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        return ""

    def start(self) -> "TemporaryPostgres":
        self.bin_dir = find_bin_dir()
        # Not under pytest's tmp dirs: those are private to root and the server runs as postgres.
        self._root_dir = Path(tempfile.mkdtemp(prefix="persona-pg-"))
        self.data_dir = self._root_dir / "data"
        if self._as_root:
            _ensure_os_user()
            shutil.chown(self._root_dir, user=OS_USER)
        self._run("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        options = f"-h 127.0.0.1 -k {self._root_dir} -c max_connections=50"
        if not self.fsync:
            options += " -F -c synchronous_commit=off -c full_page_writes=off"
        last_error: Exception | None = None
        for _ in range(3):  # the free port may be taken between choosing and binding
            self.port = free_port()
            try:
                self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self._root_dir / "server.log"),
                          "-o", f"-p {self.port} {options}", "-w", "-t", "60", "start")
                return self
            except PostgresUnavailable as exc:
                last_error = exc
        self._cleanup()
        raise PostgresUnavailable(f"PostgreSQL would not start: {last_error}")

    def stop(self) -> None:
        if self.data_dir is not None and (self.data_dir / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
            except PostgresUnavailable:
                pass
        self._cleanup()

    def _cleanup(self) -> None:
        if self._root_dir is not None:
            shutil.rmtree(self._root_dir, ignore_errors=True)
            self._root_dir = None
            self.data_dir = None

    def __enter__(self) -> "TemporaryPostgres":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---------------------------------------------------------------- databases
    def url(self, database: str = "postgres") -> str:
        if self.port is None:
            raise PostgresUnavailable("server not started")
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, prefix: str = "test") -> str:
        """Create a fresh empty database and return its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[-1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
