"""Progress of a command run as a background job: one hook for every subcommand.

Library code reports progress the way it always did, with a ``tqdm`` bar on standard error
(import :data:`tqdm` from here instead of ``tqdm.auto``) and, where a step has no bar, with
:func:`stage`. Outside a job both behave exactly like plain tqdm / nothing. Inside one
(``python -m persona_core --job ID ...``, which calls :func:`attach`), the outermost open bar's
fraction and time left, and the current stage, are written into the job's database row (at
most once a second), and a heartbeat thread writes the heartbeat and the tail of the job's log
every few seconds, so the app can show them live and tell a dead process from a slow one.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path

from tqdm.auto import tqdm as _tqdm

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 3.0
MIN_REPORT_SECONDS = 1.0
LOG_TAIL_LINES = 20
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def log_tail(path: str | Path | None, lines: int = LOG_TAIL_LINES, max_bytes: int = 16384) -> str:
    """The last ``lines`` lines of a log file; progress-bar redraws (carriage returns) count as
    lines, so a bar shows once, at its latest state."""
    if not path:
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    parts = [_ANSI.sub("", p).rstrip() for p in re.split(r"[\r\n]", data)]
    kept: list[str] = []
    for p in parts:
        if not p.strip():
            continue
        bar = p.split(":", 1)[0] if "|" in p and "%" in p else None  # a tqdm line: keep its last state
        if bar is not None and kept and kept[-1].split(":", 1)[0] == bar and "|" in kept[-1]:
            kept[-1] = p
        else:
            kept.append(p)
    return "\n".join(kept[-lines:])


class JobReporter:
    """Writes one job's stage, progress, time left, heartbeat and log tail into its row."""

    def __init__(self, url: str, job_id: int, log_path: str | None = None) -> None:
        self.url, self.job_id, self.log_path = url, int(job_id), log_path
        self.stage_name = ""
        self._lock = threading.Lock()
        self._last_report = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.bars: list[_tqdm] = []

    # ------------------------------------------------------------- writing
    def _write(self, **values) -> bool:
        from db.jobs import report
        from db.session import session_scope

        try:
            with session_scope(self.url, write_lock=True) as session:
                return report(session, self.job_id, **values)
        except Exception as exc:  # noqa: BLE001 - a busy database must not kill the job
            log.warning("job %s: could not report progress (%s)", self.job_id, exc)
            return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._beat, name=f"job-{self.job_id}-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self._write(log_tail=log_tail(self.log_path))

    def set_stage(self, name: str, progress: float | None = None, eta_seconds: float | None = None) -> None:
        with self._lock:
            self.stage_name = name
            self._last_report = time.monotonic()
        self._write(stage=name, progress=progress, eta_seconds=eta_seconds,
                    clear_progress=progress is None and eta_seconds is None)

    def on_bar(self, bar: _tqdm, force: bool = False) -> None:
        """A bar moved: report the outermost open bar (throttled)."""
        with self._lock:
            if not self.bars:
                return
            outer = self.bars[0]
            now = time.monotonic()
            if not force and now - self._last_report < MIN_REPORT_SECONDS:
                return
            self._last_report = now
            fraction, eta = bar_fraction(outer)
            desc = (outer.desc or "").rstrip(": ")
            inner = " › ".join((b.desc or "").rstrip(": ") for b in self.bars[1:] if b.desc)
            stage = " · ".join(x for x in (self.stage_name, desc, inner) if x)
            counts = f" ({outer.n}/{outer.total} {outer.unit})" if outer.total else f" ({outer.n} {outer.unit})"
        self._write(stage=stage + counts, progress=fraction, eta_seconds=eta)


def bar_fraction(bar: _tqdm) -> tuple[float | None, float | None]:
    """(fraction done, seconds left) of a tqdm bar, from its mean rate so far."""
    total = bar.total
    if not total:
        return None, None
    n = min(bar.n, total)
    fraction = n / total
    elapsed = bar.format_dict.get("elapsed") or 0.0
    eta = elapsed * (total - n) / n if n > 0 and elapsed > 0 else None
    return fraction, eta


_reporter: JobReporter | None = None


def attach(url: str, job_id: int, log_path: str | None = None) -> JobReporter:
    """Report this process's progress into job ``job_id`` at ``url`` (until :func:`detach`)."""
    global _reporter
    _reporter = JobReporter(url, job_id, log_path)
    _reporter.start()
    return _reporter


def detach() -> None:
    global _reporter
    if _reporter is not None:
        _reporter.stop()
    _reporter = None


def current() -> JobReporter | None:
    """The job this process reports into, if any."""
    return _reporter


def stage(name: str, progress: float | None = None, eta_seconds: float | None = None) -> None:
    """A named step without a bar (loading the model, storing results); a no-op outside a job.
    Also logged to standard error's log at INFO level."""
    log.info("%s", name)
    if _reporter is not None:
        _reporter.set_stage(name, progress, eta_seconds)


class tqdm(_tqdm):  # noqa: N801 - a drop-in for tqdm.auto.tqdm
    """``tqdm.auto.tqdm`` that also reports into the current job (see the module docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._job = _reporter if not self.disable else None
        if self._job is not None:
            with self._job._lock:
                self._job.bars.append(self)
            self._job.on_bar(self, force=len(self._job.bars) == 1)

    def update(self, n: float | None = 1):
        out = super().update(n)
        if getattr(self, "_job", None) is not None:
            self._job.on_bar(self)
        return out

    def close(self) -> None:
        job = getattr(self, "_job", None)
        if job is not None:
            if job.bars and job.bars[0] is self:
                job.on_bar(self, force=True)  # its last state
            with job._lock:
                if self in job.bars:
                    job.bars.remove(self)
            self._job = None
        super().close()
