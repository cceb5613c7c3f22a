"""Run the command line and SIGKILL it at one point of ``build`` (for tests/test_build_kill.py).

    python -m tests.build_killer POINT build --dataset csv --path DIR --db URL ...
    python -m tests.build_killer --serve      # one JSON request per line on stdin, see serve()

``POINT`` is a stage as it starts (``load``, ``store``, ``embed``, ``project``, ``cluster``,
``profile``, ``save``) or a point inside a writing stage:

``store:uncommitted``  the survey's rows written in its transaction, not committed
``save:staging``       part of the fitted objects written to the artifacts folder
``save:uncommitted``   the run's rows written in its transaction, not committed
``save:published``     the artifacts folder moved into place, the run's transaction not committed

The library has no test hooks: this process wraps library functions before calling
:func:`persona_core.cli.main`. It prints ``build_killer: SIGKILL at POINT`` to standard error just
before the signal, so a caller can tell the kill from any other end.
"""
from __future__ import annotations

import os
import signal
import sys

STAGES = ("load", "store", "embed", "project", "cluster", "profile", "save")
INNER = ("store:uncommitted", "save:staging", "save:uncommitted", "save:published")
POINTS = (*STAGES, *INNER)


def die(point: str) -> None:
    sys.stderr.write(f"build_killer: SIGKILL at {point}\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _after(module, name: str, point: str, flush_session: bool = False) -> None:
    """Wrap ``module.name`` so the process dies right after it returns."""
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        result = real(*args, **kwargs)
        if flush_session:
            args[0].flush()  # the session: rows sent to the database, transaction still open
        die(point)
        return result

    setattr(module, name, wrapper)


def install(point: str) -> None:
    if point not in POINTS:
        raise SystemExit(f"unknown point {point!r}; choose one of {', '.join(POINTS)}")
    if point == "load":
        import persona_core.data.loaders as loaders

        def load_survey(*args, **kwargs):
            die(point)

        loaders.load_survey = load_survey
    elif point in STAGES:  # the pipeline reports each stage as it starts
        import persona_core.pipeline as pipeline

        real = pipeline.build_and_store

        def build_and_store(*args, on_stage=None, **kwargs):
            def hook(name: str) -> None:
                if name == point:
                    die(point)
                if on_stage is not None:
                    on_stage(name)

            return real(*args, on_stage=hook, **kwargs)

        pipeline.build_and_store = build_and_store
    elif point == "store:uncommitted":  # the function the pipeline stores the survey with
        import persona_core.data.survey_db as module

        _after(module, "save_survey", point, flush_session=True)
    elif point == "save:staging":
        import persona_core.data.survey_files

        _after(persona_core.data.survey_files, "save_survey_files", point)
    elif point == "save:uncommitted":
        import db.store

        _after(db.store, "save_embedding_run", point, flush_session=True)
    elif point == "save:published":
        import persona_core.space

        _after(persona_core.space.StagedSpace, "publish", point)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        return serve()
    point, *cli_args = argv
    install(point)
    from persona_core.cli import main as cli_main

    return cli_main(cli_args)


def serve() -> int:
    """Run builds in child processes forked from this one, so that each starts with the library
    imported and UMAP's numba functions compiled (a fresh interpreter spends ~15-25 s compiling
    them; the builds themselves take about a second).

    Requests, one JSON object per line on stdin, each answered by one JSON line on stdout:

    ``{"op": "warm", "argv": [...], "env": {...}, "out": PATH, "err": PATH}``
        run the command line in this process (to import and compile everything); reply ``{"code": N}``
    ``{"op": "run", "point": POINT or null, "argv": [...], "env": {...}, "out": PATH, "err": PATH}``
        fork; the child sets ``env``, sends its standard output and error to the files, wraps
        ``POINT`` (see :func:`install`) and runs the command line; this process waits for the
        child to exit and replies ``{"code": N}`` or ``{"signal": N}``.

    Start it with ``OMP_NUM_THREADS=1`` (no thread pools to copy into the children).
    """
    import json

    import torch
    import tqdm

    torch.set_num_threads(1)
    tqdm.tqdm.monitor_interval = 0  # no monitor thread in a process that forks
    from db.session import dispose_engines
    from persona_core.cli import main as cli_main

    reply = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        reply.flush()
        sys.stderr.flush()
        if req["op"] == "warm":
            saved = {k: os.environ.get(k) for k in req["env"]}
            os.environ.update(req["env"])
            try:
                with open(req["out"], "w") as out, open(req["err"], "w") as err:
                    sys.stdout, sys.stderr = out, err
                    try:
                        code = cli_main(req["argv"])
                    finally:
                        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
                dispose_engines()
            answer = {"code": code}
        else:
            pid = os.fork()
            if pid == 0:  # the child: never returns
                code = 70
                try:
                    os.environ.update(req["env"])
                    for fd, path in ((1, req["out"]), (2, req["err"])):
                        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                        os.dup2(target, fd)
                        os.close(target)
                    sys.stdin.close()
                    if req.get("point"):
                        install(req["point"])
                    code = cli_main(req["argv"])
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else 1
                except BaseException:  # noqa: BLE001 - reported through the exit status and stderr
                    import traceback

                    traceback.print_exc()
                    code = 1
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            answer = {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"code": os.WEXITSTATUS(status)}
        reply.write(json.dumps(answer) + "\n")
        reply.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
