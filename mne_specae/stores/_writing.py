"""Writing a segment store safely: atomic files, one writer at a time, no orphans.

Helpers of :func:`~mne_specae.prepare_segments`:

* :class:`StoreLock` is the store's ``prepare.lock`` (created with ``O_CREAT |
  O_EXCL``, holding the writer's pid and what it does): a preparation and a write
  of metadata columns (``add_embeddings``) take it, so a second writer is refused
  with a clear error naming the other pid, and a lock left by a process that no
  longer runs is taken over, by one writer only when several find it at once (files
  themselves are written with :func:`~mne_specae.utils._files.write_atomic`);
* :func:`watch_parent` (in a worker; from its start with loky, see
  :func:`worker_options`) ends a worker process whose parent died, so a killed
  preparation leaves no worker running and writing shards;
* :func:`sigterm_stops_workers` (in the parent) turns SIGTERM into ``SystemExit``, so
  joblib terminates its workers and the lock is released.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from mne.utils import logger

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

#: The lock file of a store being prepared.
LOCK = "prepare.lock"
_WATCHED = {}


def _pid_alive(pid):
    """Whether a process ``pid`` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): os.kill said it exists
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class StoreLock:
    """``with StoreLock(folder, doing):`` -- hold the store's lock file while writing it.

    ``doing`` says what the holder does (``"preparing"``, ``"writing columns into"``),
    for the error another writer gets: ``RuntimeError("another process (pid N) is
    preparing this store ...")`` when a running process holds the lock; a lock whose
    process is gone is stale, logged, and taken over.
    """

    def __init__(self, folder, doing="preparing"):
        self.folder = Path(folder)
        self.fname = self.folder / LOCK
        self.doing = doing
        self._held = False

    def _read(self):
        """``(pid, what it does)`` written in the lock; ``(None, ...)`` if unreadable
        (a lock of an older version holds the pid only: a preparation)."""
        try:
            pid, _, doing = self.fname.read_text().strip().partition(" ")
            return int(pid), doing or "preparing"
        except (OSError, ValueError):
            return None, "writing"

    def _holder(self):
        """The pid written in the lock, ``None`` if none can be read."""
        return self._read()[0]

    def _create(self):
        """Create the lock file (``O_CREAT | O_EXCL``: ``FileExistsError`` when there is
        one) and write our pid in it."""
        fd = os.open(self.fname, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        with os.fdopen(fd, "w") as fid:
            fid.write(f"{os.getpid()} {self.doing}\n")
        self._held = True

    def _refuse_if_held(self):
        """Raise the "another process" error when the lock file is held by a running
        process (or unreadable and recent); return ``(pid, age)`` when it is stale,
        ``None`` when it is gone."""
        pid, doing = self._read()
        try:
            age = time.time() - self.fname.stat().st_mtime
        except FileNotFoundError:
            return None  # released meanwhile
        if (pid is not None and _pid_alive(pid)) or (pid is None and age < 10):
            raise RuntimeError(
                f"another process (pid {pid if pid is not None else 'unknown'}) "
                f"is {doing} this store ({self.folder}). Wait for it to end; "
                f"if no such process runs, delete {self.fname}."
            )
        return pid, age

    def _take_over(self):
        """Replace a stale lock by ours; ``True`` when done, ``False`` when the lock
        changed meanwhile (look again), the "another process" error when it is no
        longer stale.

        Atomic among writers doing the same: the lock file is locked
        (:func:`fcntl.flock`, released by the system if this process dies) while it is
        checked again, removed and replaced, so of several writers that found one
        stale lock, one takes it over and the others find its new lock (without
        ``fcntl``, or on a file system without ``flock``, the check again only)."""
        fd = None
        if fcntl is not None:  # (Windows cannot remove a file open here)
            try:  # for writing where we may: flock over NFS needs it
                fd = os.open(self.fname, os.O_RDWR)
            except PermissionError:  # another user's lock in a folder we may write
                fd = os.open(self.fname, os.O_RDONLY)
            except FileNotFoundError:
                return False
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)  # another takeover: wait (microseconds)
                except OSError:  # pragma: no cover - a file system without flock
                    pass
                try:
                    if not os.path.samestat(os.fstat(fd), os.stat(self.fname)):
                        return False  # taken over and replaced while we waited
                except FileNotFoundError:
                    return False
            stale = self._refuse_if_held()
            if stale is None:
                return False
            logger.info(
                f"{self.folder}: removing a stale lock (pid {stale[0]} is not "
                "running; an earlier preparation was killed)"
            )
            self.fname.unlink(missing_ok=True)
            try:
                self._create()
            except FileExistsError:  # a writer that found no lock took it: look again
                return False
            return True
        finally:
            if fd is not None:
                os.close(fd)  # after our new lock exists: a waiting writer then finds it

    def __enter__(self):
        for _ in range(3):
            try:
                self._create()
                return self
            except FileExistsError:
                pass
            if self._refuse_if_held() is not None and self._take_over():
                return self
        raise RuntimeError(
            f"Could not take the lock {self.fname}: other processes keep "
            "taking it; write one store with one process at a time."
        )

    def __exit__(self, *exc):
        if self._held and self._holder() == os.getpid():
            self.fname.unlink(missing_ok=True)
        self._held = False
        return False


def _watch(parent, interval):
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)  # the parent is gone: stop segmenting and writing shards for nobody


def _pid_namespace():
    """This process's pid namespace (``pid:[4026531836]``), ``None`` without /proc: two
    containers may share a host name (``--network host``), never a pid namespace."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def parent_token():
    """Who the parent is, for :func:`watch_parent`: ``(host name, pid namespace,
    pid)``; a pid means this process only where the first two match."""
    return socket.gethostname(), _pid_namespace(), os.getpid()


def watch_parent(parent, interval=0.5):
    """In a worker process started by ``parent`` (:func:`parent_token` of the calling
    process): end the process as soon as its parent has died (a daemon thread polls
    ``os.getppid()``); end it at once if the parent is already gone.

    Does nothing in the parent itself (``n_jobs=1``, threads) or in a worker that is
    not the parent's child (a Dask or Ray cluster, whose own machinery manages it: a
    worker on another machine, or in another container, where the parent's pid is
    another process or none, is never ended).
    """
    host, namespace, pid = parent
    if (
        os.getpid() == pid
        or _WATCHED.get(os.getpid())
        or host != socket.gethostname()
        or namespace != _pid_namespace()
    ):
        return
    if os.getppid() != pid:
        if not _pid_alive(pid):  # orphaned before it started: nobody wants the work
            os._exit(1)
        return
    _WATCHED[os.getpid()] = True
    threading.Thread(
        target=_watch, args=(pid, interval), daemon=True, name="mne-specae-parent-watch"
    ).start()


#: The glibc setting that Dask gives its workers (``distributed.nanny.pre-spawn-environ``).
MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"


def worker_malloc(parent):
    """In a worker process (not the caller itself): its ``MALLOC_TRIM_THRESHOLD_``,
    read by glibc when the process started (``None``: not set, or the caller)."""
    return None if os.getpid() == parent[2] else os.environ.get(MALLOC_TRIM)


def malloc_hint(values):
    """The debug line for workers that ran with ``MALLOC_TRIM_THRESHOLD_`` set
    (``values``: what they reported), ``None`` when none did."""
    values = sorted({v for v in values if v is not None})
    if not values:
        return None
    return (
        f"prepare_segments: the workers ran with {MALLOC_TRIM}={', '.join(values)} (Dask "
        "sets 65536 for its workers), which pins glibc's mmap threshold at 128 KiB; "
        "each file was prepared with glibc's thresholds lifted to 32 MiB (mapped) and "
        "64 MiB (kept), then put back and the freed memory returned (mallopt, "
        "malloc_trim)."
    )


def worker_options(parent):
    """Extra :class:`joblib.Parallel` options: with joblib's default process backend
    (loky), every worker watches its parent from its start (an idle worker too), not
    only once it runs a task; other backends get none."""
    try:
        from joblib._parallel_backends import LokyBackend
        from joblib.parallel import get_active_backend

        backend = get_active_backend()[0]
    except ImportError:  # pragma: no cover - joblib's private layout changed
        return {}
    if type(backend) is not LokyBackend:
        return {}
    return dict(initializer=watch_parent, initargs=(parent,))


@contextmanager
def sigterm_stops_workers():
    """While preparing: SIGTERM raises ``SystemExit(143)`` in the main thread (instead
    of ending the process on the spot), so that joblib terminates its workers and the
    lock is released. Left alone when the application set its own SIGTERM handler, or
    outside the main thread."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
