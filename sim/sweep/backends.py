"""The executors a sweep runs on: a local spawn process pool, or a local or remote Dask cluster.

A local pool's workers end when the sweep that started them dies, however it
dies: killed with SIGKILL, a sweep cannot shut its pool down, and its workers
(and, through them, multiprocessing's resource tracker) would run on as
orphans. Each worker asks Linux to kill it when its parent goes
(PR_SET_PDEATHSIG) and, everywhere, watches its parent's pid from a thread.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any

from sim.errors import CapsimError
from sim.sweep.cells import one_line

BACKENDS = ("local", "dask")
DASK_EXTRA = "pip install capsim[dask]"
PR_SET_PDEATHSIG = 1
"""prctl option: the signal this process gets when the thread that started it exits."""
PARENT_POLL_S = 0.5
"""How often a worker's watch thread checks that its parent is alive (where prctl is not)."""


def watch_parent(parent: int) -> None:
    """Pool worker initializer: end this worker as soon as `parent` (the sweep) is gone.

    On Linux the kernel sends SIGKILL when the parent dies; elsewhere, and as
    a second guard, a daemon thread exits the worker once its parent pid
    changes (the orphan was re-parented).
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no usable libc: the thread below still watches
            pass
    if os.getppid() != parent:  # the sweep died before the guard was set
        os._exit(1)
    threading.Thread(target=_poll_parent, args=(parent,), name="watch-parent", daemon=True).start()


def _poll_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)  # no cleanup to do: the sweep that would read our results is gone


def check_backend(backend: str, address: str | None, workers: int | None) -> None:
    """Reject a backend, address and workers that do not go together, before anything runs.

    Raises:
        CapsimError: an unknown backend, an address without dask, a bad worker
            count, or workers for a remote cluster.
    """
    if backend not in BACKENDS:
        raise CapsimError(f"backend: unknown {backend!r} (allowed: {', '.join(BACKENDS)})")
    if address is not None and backend != "dask":
        raise CapsimError("address: only the dask backend connects to a scheduler")
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise CapsimError(f"workers: must be an integer >= 1 (got {workers!r})")
        if address is not None:
            raise CapsimError(
                "workers: a remote Dask cluster has its own workers; give address or workers"
            )


def import_dask() -> Any:
    """The `distributed` module.

    Raises:
        CapsimError: the dask extra is not installed (the message says how to install it).
    """
    try:
        import distributed
    except ImportError:
        raise CapsimError(f"the dask backend needs the dask extra: {DASK_EXTRA}") from None
    return distributed


def lost_worker_errors(backend: str) -> tuple[type[BaseException], ...]:
    """The exceptions by which a backend says a run's worker died (the run's fault, not the pool's).

    On Dask, `KilledWorker`: the scheduler gave up on a task whose workers kept
    dying. A local pool has none: a dead process breaks the whole pool.
    """
    return (import_dask().KilledWorker,) if backend == "dask" else ()


@contextmanager
def executor(
    backend: str, address: str | None, workers: int | None, runs: int
) -> Iterator[Executor]:
    """An executor for the backend; on exit, pending runs are cancelled and it is shut down.

    Args:
        backend: `local` or `dask` (checked by `check_backend`).
        address: a Dask scheduler to connect to; None starts a LocalCluster.
        workers: processes to start (default: every core); never more than `runs`.
        runs: how many runs will be submitted.

    Raises:
        CapsimError: the Dask scheduler at `address` cannot be reached.
    """
    if backend == "local":
        # spawn: a fresh interpreter per worker. fork would copy a parent that may
        # run threads (a Dask client, tqdm's monitor, Jupyter's kernel), which can
        # deadlock a child; the start method is chosen here, never set globally.
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(
            max_workers=min(workers or _cores(), runs),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=watch_parent,
            initargs=(os.getpid(),),
        )
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return

    distributed = import_dask()
    cluster = None
    if address is not None:
        try:
            client = distributed.Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise CapsimError(
                f"address: cannot reach the Dask scheduler at {address} ({one_line(exc)})"
            ) from None
    else:
        cluster = distributed.LocalCluster(
            n_workers=min(workers or _cores(), runs),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
    dask_executor = client.get_executor(pure=False)
    try:
        yield dask_executor
    finally:
        dask_executor.shutdown(wait=False)  # cancels what has not finished
        client.close()
        if cluster is not None:
            cluster.close()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
