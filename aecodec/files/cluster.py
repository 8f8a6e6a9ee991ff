"""A batch on a running Dask cluster: ``aecodec encode/decode DIR -o OUT --scheduler ADDRESS``.

:func:`dask_map` is :func:`aecodec.files.ops.run_many` with the workers of a
``dask.distributed`` scheduler in place of local processes: the same :class:`Outcome` per
file, so the CLI's planning, ``-n``/``-f`` rules, per-file lines, summary and exit code are the
ones of ``-j``. It needs the optional extra (``pip install 'aecodec[dask]'``); without it
:func:`require_dask` raises :class:`~aecodec.errors.DependencyError` (exit 7).

- Each worker process loads a weights file once and keeps it for every file it codes after
  (the per-process cache of :mod:`aecodec.model.registry`); nothing else is shared.
- Workers must see inputs, outputs and ``--model`` at the same paths (a shared file system):
  paths are made absolute before they are sent, messages name them as given.
- Outputs are atomic as everywhere (:mod:`aecodec.files.atomic`): a temp file beside the
  target, renamed when complete, so a worker that dies leaves no partial output.
- Ctrl-C cancels the files not yet started; the ones running finish on their workers (each
  output whole or absent), and the message counts the outputs complete when it stopped.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aecodec.errors import AecError, DependencyError, OptionError
from aecodec.files.ops import Outcome, run_one

DASK_HINT = "pip install 'aecodec[dask]' (see README, A music library on a Dask cluster)"


def require_dask(what: str = "--scheduler") -> None:
    """Raise :class:`DependencyError` (exit 7) naming ``what`` if ``distributed`` is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise DependencyError(f"{what} needs dask.distributed, which is not installed: "
                              f"{DASK_HINT}") from None


def _timeout() -> float:
    """Seconds to wait for the scheduler and a first worker: Dask's own connect timeout
    (``distributed.comm.timeouts.connect``, 30 s unless configured)."""
    import dask
    from dask.utils import parse_timedelta
    return float(parse_timedelta(dask.config.get("distributed.comm.timeouts.connect")))


def connect(address: str) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address`` (``tcp://host:8786``,
    ``host:8786``) with at least one worker; the caller closes it.

    A malformed address is an :class:`OptionError` (exit 2); no scheduler there, or no worker
    joining within the connect timeout, an :class:`AecError` (exit 1). The port is probed with
    a plain socket first, so a refused connection never leaves a half-made client behind.
    """
    require_dask()
    from distributed import Client
    from distributed.comm.addressing import get_address_host_port, normalize_address
    try:
        full = normalize_address(address)
        probe = full.split("://")[0] in ("tcp", "tls", "ws", "wss")
        host_port = get_address_host_port(full) if probe else None
    except ValueError as exc:
        raise OptionError(f"--scheduler {address}: {exc}") from None
    timeout = _timeout()
    if host_port is not None:
        try:
            socket.create_connection(host_port, timeout=timeout).close()
        except OSError as exc:
            raise AecError(f"--scheduler {address}: no Dask scheduler answers there "
                           f"({exc.strerror or exc}); start one with `dask scheduler`") from None
    try:
        client = Client(full, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise AecError(f"--scheduler {address}: cannot connect ({exc})") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        client.close()
        raise AecError(f"--scheduler {address}: no Dask worker joined within {timeout:g} s "
                       f"(start some: dask worker {full})") from None
    return client


def _probe() -> str:
    """Run on the cluster before any file: the aecodec version there."""
    from aecodec import __version__
    return __version__


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def check_cluster(client: Any, *, address: str) -> None:
    """:class:`AecError` (exit 1) unless the cluster can run aecodec's tasks: the scheduler
    unpickles them and the workers import aecodec, so both need it installed (one probe task,
    so a broken cluster is one line, not a failure per file)."""
    try:
        client.submit(_probe, pure=False).result(timeout=_timeout())
    except Exception as exc:  # noqa: BLE001 - whatever the remote side raises
        raise AecError(f"--scheduler {address}: the cluster cannot run aecodec (install "
                       f"aecodec[dask], this version, on the scheduler and every worker): "
                       f"{_one_line(exc)}") from None


def _absolute(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Path options (``model_path``) made absolute for workers with another working folder."""
    return {k: Path(v).absolute() if isinstance(v, Path) else v for k, v in kwargs.items()}


def _job(src: Path, dst: Path, *, fn: Callable[..., dict[str, Any]],
         kwargs: dict[str, Any]) -> Outcome:
    """One file on a worker: ``fn(src, dst, **kwargs)`` as an :class:`Outcome`."""
    return run_one(fn, src, dst, kwargs)


def _outcome(fut: Any, src: Path, dst: Path) -> Outcome:
    """A finished future as an :class:`Outcome` naming ``src``/``dst`` as the caller gave them;
    a failure that is not an :class:`AecError` (a worker that died, aecodec missing on a
    worker) is one line and exit code 1, like any other failed file."""
    try:
        o: Outcome = fut.result()
    except Exception as exc:  # noqa: BLE001 - anything a remote worker can raise
        return Outcome(src, None, f"on the Dask cluster: {_one_line(exc)}", 1)
    result = o.result and {**o.result, "input": os.fspath(src), "output": os.fspath(dst)}
    return Outcome(src, result, o.error, o.code)


def dask_map(fn: Callable[..., dict[str, Any]], jobs: Sequence[tuple[Path, Path]], *,
             scheduler: str | Any, on_done: Callable[[Outcome, int], None] | None = None,
             **kwargs: Any) -> list[Outcome]:
    """Apply ``fn(src, dst, **kwargs)`` to every job on a Dask cluster, as ``run_many`` does
    locally: failures are collected, never raised; ``on_done(outcome, n_done)`` as each ends.

    ``fn`` is :func:`aecodec.files.ops.encode_file` or ``decode_file`` (any importable function
    of that shape); ``jobs`` are ``(input, output)`` pairs whose output folders exist;
    ``scheduler`` an address (connected and closed here, :func:`connect`) or a
    ``distributed.Client`` of the caller's. Outcomes come in the order files finish. Example::

        from aecodec.files.cluster import dask_map
        from aecodec.files.ops import encode_file
        outcomes = dask_map(encode_file, [(Path("a.wav"), Path("out/a.aec"))],
                            scheduler="tcp://10.0.0.1:8786", kbps=6)
        failed = [o for o in outcomes if o.error]
    """
    from distributed import Client, as_completed

    from aecodec.files.signals import Interrupted
    own = not isinstance(scheduler, Client)
    client: Any = connect(str(scheduler)) if own else scheduler
    outcomes: list[Outcome] = []
    try:
        check_cluster(client, address=str(scheduler) if own else client.scheduler.address)
        futures = client.map(_job, [Path(s).absolute() for s, _ in jobs],
                             [Path(d).absolute() for _, d in jobs], fn=fn,
                             kwargs=_absolute(kwargs), key=f"aecodec-{fn.__name__}", pure=False)
        where = {fut.key: job for fut, job in zip(futures, jobs)}
        try:
            for fut in as_completed(futures, loop=client.loop):
                outcomes.append(_outcome(fut, *where[fut.key]))
                fut.release()
                if on_done:
                    on_done(outcomes[-1], len(outcomes))
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: what is running finishes
            client.cancel(futures)
            raise Interrupted(getattr(exc, "signum", signal.SIGINT),
                              done=sum(not o.error for o in outcomes), total=len(jobs)) from None
    finally:
        if own:
            client.close()
    return outcomes
