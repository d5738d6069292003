"""torch's CPU threads on a busy machine: how they wait, and how many there are.

PyTorch's OpenMP threads spin while they wait for each other; when another process
holds one of the cores, a parallel step waits for a thread that is not running, and
a 2-core machine with one busy core runs torch code 2-4x slower than with one thread
(``doc/performance.rst``, "A busy machine"). The package therefore does two things,
both switched off by ``MNE_SPECAE_THREADS=off`` (or :func:`set_num_threads`):

* At ``import mne_specae``, before torch is loaded, ``OMP_WAIT_POLICY=PASSIVE`` is put
  into ``os.environ`` (OpenMP reads it when torch loads its runtime: waiting threads
  sleep instead of spinning). Not when torch is already imported (too late: nothing is
  changed), nor when ``OMP_WAIT_POLICY`` is already set (the user's choice). The
  variable stays set, so child processes inherit it.
* While the package runs torch on the CPU (:func:`~mne_specae.compute_spectrogram`,
  training, inference), torch's thread count is set and restored afterwards. The
  default, ``"auto"``, is torch's own count capped by the cores this process may use
  (``os.sched_getaffinity``, a cgroup CPU quota): fixed for a given machine or
  container, so that the same data and seed give the same floats on every run (the
  count changes the order of parallel float sums). ``"load"`` (opt-in) also
  subtracts the load of the other processes (``os.getloadavg`` less this process's
  own share, or the processes running right now, whichever is higher): faster on a
  shared machine, but the count, and so the last bits of the results, then depend on
  the momentary load. Never when the user chose a count: ``OMP_NUM_THREADS`` or
  ``MKL_NUM_THREADS`` set, or ``torch.set_num_threads`` called after
  ``import mne_specae`` (a count set before the import cannot be told apart from
  torch's default: set one of the variables, or ``MNE_SPECAE_THREADS``, to fix it).

This module imports neither torch nor MNE at import time: it runs before torch loads.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time

ENV_VAR = "MNE_SPECAE_THREADS"
#: variables through which a user fixes torch's CPU thread count
USER_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
_TAU = 60.0  # seconds: the time constant of the kernel's 1-minute load average


class _State:
    setting = "auto"  # "auto" | "load" | "off" | int
    torch_default = None  # torch's thread count when the package was imported
    wait_policy_set = False  # whether the package put OMP_WAIT_POLICY into os.environ
    depth = 0  # nested package calls decide once, at the outermost
    own_load = 0.0  # this process's share of the 1-minute load average (an estimate)
    last = None  # (time.monotonic(), time.process_time()) of the last update


_lock = threading.Lock()


def parse_setting(value, what=ENV_VAR):
    """``"auto"``, ``"load"``, ``"off"`` or a thread count (int >= 1) from ``value``.

    Parameters
    ----------
    value : str | int | None
        ``None``, ``""`` or ``"auto"``: the package's default (the available cores);
        ``"load"``: the cores not busy with other processes; ``"off"``: leave torch
        alone; an integer >= 1 (or its text): that many threads.
    what : str
        Name used in the error message.

    Returns
    -------
    setting : ``"auto"`` | ``"load"`` | ``"off"`` | int
    """
    if value is None:
        return "auto"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "auto"):
            return "auto"
        if text in ("off", "load"):
            return text
        try:
            value = int(text)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"{what} must be 'auto', 'load', 'off' or a number of threads >= 1, got "
            f"{value if value is not None else text!r}."
        )
    return value


def set_wait_policy(environ=None, modules=None):
    """Put ``OMP_WAIT_POLICY=PASSIVE`` into the environment if it can still take effect.

    Called once at ``import mne_specae``.

    Parameters
    ----------
    environ : mapping | None
        The environment (default ``os.environ``).
    modules : mapping | None
        The loaded modules (default ``sys.modules``): nothing changes when torch is
        among them (OpenMP has read its environment already).

    Returns
    -------
    changed : bool
        Whether the variable was set.
    """
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    try:
        setting = parse_setting(environ.get(ENV_VAR))
    except ValueError:
        setting = "auto"  # reported by init_from_environment
    if "torch" in modules or setting == "off" or "OMP_WAIT_POLICY" in environ:
        return False
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def init_from_environment():
    """Read ``MNE_SPECAE_THREADS`` and set the wait policy (at package import)."""
    try:
        _State.setting = parse_setting(os.environ.get(ENV_VAR))
    except ValueError as err:
        import warnings

        _State.setting = "auto"
        warnings.warn(f"{err} Using 'auto'.", RuntimeWarning, stacklevel=3)
    _State.wait_policy_set = set_wait_policy()
    _update_own_load()


def record_torch_default(n_threads):
    """Remember torch's thread count at package import: a different count later means
    the user called ``torch.set_num_threads``."""
    _State.torch_default = int(n_threads)


def set_num_threads(n="auto"):
    """Choose how many CPU threads the package's torch computations use.

    Applies while :func:`~mne_specae.compute_spectrogram`, training
    (:meth:`SpecAE.fit <mne_specae.SpecAE.fit>`) and inference run on the CPU; torch's
    own setting is restored after each call. The default, ``"auto"``, takes torch's
    own count, at most the cores this process may use (CPU affinity, cgroup quota):
    the same count on every run on a given machine, so that the same data and seed
    give the same results. ``"load"`` also leaves out the cores that other processes
    keep busy (the load average; at least one thread): faster on a shared machine,
    but the count then depends on the momentary load, and results of two runs may
    differ in their last bits. Neither applies when you fixed a count yourself
    (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, or ``torch.set_num_threads`` after
    importing the package). The environment variable ``MNE_SPECAE_THREADS`` sets the
    same at start-up; with ``off`` there it also leaves ``OMP_WAIT_POLICY`` alone.

    Parameters
    ----------
    n : ``"auto"`` | ``"load"`` | ``"off"`` | int
        ``"auto"``: the available cores (reproducible); ``"load"``: the cores not
        busy with other processes (load-dependent); ``"off"``: never change torch's
        thread count; an int >= 1: that many threads in the package's CPU
        computations.

    Returns
    -------
    previous : ``"auto"`` | ``"load"`` | ``"off"`` | int
        The setting before the call (to restore it).
    """
    setting = parse_setting(n, "n")
    with _lock:
        previous, _State.setting = _State.setting, setting
    return previous


def available_cores():
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota - 1e-9)))
    return max(1, cores)


def _cgroup_quota():
    """CPUs allowed by a cgroup (v2 ``cpu.max``, v1 ``cfs_quota_us``), or None."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as fid:
            quota, period = fid.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as fid:
            quota = int(fid.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as fid:
            period = int(fid.read())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None


def decay_own_load(previous, cpu_seconds, wall_seconds, tau=_TAU):
    """This process's share of the load average after ``wall_seconds`` in which it
    used ``cpu_seconds`` of CPU (the kernel's exponential average, one step)."""
    if wall_seconds <= 0:
        return previous
    rate = cpu_seconds / wall_seconds
    keep = math.exp(-wall_seconds / tau)
    return previous * keep + rate * (1.0 - keep)


def _update_own_load():
    now, cpu = time.monotonic(), time.process_time()
    with _lock:
        if _State.last is not None:
            t0, c0 = _State.last
            _State.own_load = decay_own_load(_State.own_load, cpu - c0, now - t0)
        _State.last = (now, cpu)
        return _State.own_load


def _running_now():
    """Other runnable tasks at this instant (``/proc/loadavg``), or None."""
    try:
        with open("/proc/loadavg") as fid:
            running = int(fid.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - 1)  # less this thread, which is reading


def load_of_others(cores, load=None, own=None, running=None, host_cpus=None):
    """How many of ``cores`` other processes keep busy (an estimate, >= 0).

    The 1-minute load average less this process's own share, or the tasks running at
    this instant (a competitor that just started), whichever is higher; scaled to this
    process's share of the machine when it may use fewer cores than the machine has
    (the load average counts every CPU).

    Parameters
    ----------
    cores : int
        Cores this process may use (:func:`available_cores`).
    load, own, running, host_cpus : float | None
        The 1-minute load average, this process's share of it, the other tasks
        running now and the machine's CPUs; measured when None.

    Returns
    -------
    others : float
    """
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # Windows: no load average
            load = 0.0
    own = _update_own_load() if own is None else own
    running = _running_now() if running is None else running
    host_cpus = host_cpus or os.cpu_count() or cores
    others = max(load - own, running or 0, 0.0)
    return others * min(1.0, cores / host_cpus)


def choose_num_threads(cores, others, n_max=None):
    """Threads for torch: the cores not taken by other processes (rounded), >= 1.

    Parameters
    ----------
    cores : int
        Cores this process may use.
    others : float
        Cores kept busy by other processes (:func:`load_of_others`).
    n_max : int | None
        At most this many (torch's own count).

    Returns
    -------
    n_threads : int
    """
    n = min(cores, int(math.floor(cores - others + 0.5)))
    if n_max is not None:
        n = min(n, n_max)
    return max(1, n)


def _decide(torch):
    """The thread count for a package call on the CPU, or None to leave torch alone.

    ``"auto"`` depends only on the machine (torch's count, the available cores), never
    on the load: the same count, and so the same floats, on every run.
    """
    setting = _State.setting
    if setting == "off":
        return None
    if isinstance(setting, int):
        return setting
    if any(os.environ.get(var) for var in USER_THREAD_VARS):
        return None
    current = torch.get_num_threads()
    if _State.torch_default is None:
        _State.torch_default = current
    if current != _State.torch_default:  # torch.set_num_threads by the user
        return None
    cores = available_cores()
    if setting == "load":
        return choose_num_threads(cores, load_of_others(cores), n_max=current)
    return choose_num_threads(cores, 0.0, n_max=current)


@contextlib.contextmanager
def cpu_threads(device):
    """Run the block with the package's torch thread count when ``device`` is the CPU.

    Restores torch's thread count afterwards (also on errors); nested blocks keep the
    outermost decision; other devices change nothing. The first CPU block of a
    process also warms glibc's allocator, and every CPU block runs with its thresholds
    lifted where ``MALLOC_TRIM_THRESHOLD_`` fixed them
    (:mod:`~mne_specae.utils._allocator`).

    Parameters
    ----------
    device : torch.device | str
        Where the block computes.
    """
    if getattr(device, "type", str(device).split(":")[0]) != "cpu":
        yield
        return
    import torch

    from ._allocator import glibc_thresholds, warm_allocator

    warm_allocator()  # glibc's mmap threshold raised once: no page faults per step
    with glibc_thresholds():  # and not pinned at 128 KiB by Dask's setting
        yield from _with_threads(torch)


def _with_threads(torch):
    from mne.utils import logger

    with _lock:
        outermost = _State.depth == 0
        _State.depth += 1
    try:
        before = torch.get_num_threads()
        n = _decide(torch) if outermost else None
        if n is not None and n != before:
            logger.debug(
                f"mne-specae: {n} torch thread(s) on the CPU for this call "
                f"(torch's setting {before}; {ENV_VAR}=off to disable)"
            )
            torch.set_num_threads(n)
        else:
            n = None
        try:
            yield
        finally:
            if n is not None:
                torch.set_num_threads(before)
    finally:
        with _lock:
            _State.depth -= 1
