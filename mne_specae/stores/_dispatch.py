"""Where :func:`~mne_specae.prepare_segments` runs its files: in this process
(``n_jobs=1``), in joblib's worker processes, or straight on a Dask cluster when
joblib's dask backend is active (``joblib.parallel_config(backend="dask")``).

Why the cluster is used directly: joblib's dask backend keeps only twice as many
tasks in flight as the cluster has worker threads, and collects finished ones by
polling every 10 ms, so a worker that finishes a file often waits for its next one.
With files of 20-60 ms (most recordings of the benchmark) that cost 3-4 ms a file: on
a 2-worker ``LocalCluster`` of this 2-core machine, 106 tasks of 20 ms of pure Python
took 1.48-2.00 s through joblib against 1.19-1.38 s submitted at once
(``benchmarks/store_preparation.py`` measures the preparation itself). Submitted at
once, the cluster's scheduler queues the files and hands each worker its next one
as soon as it is free; results arrive as they complete, as with joblib.
"""

from __future__ import annotations

from ._writing import worker_options


def dask_backend():
    """joblib's active dask backend (with its ``client``), or ``None``."""
    from joblib.parallel import get_active_backend

    backend = get_active_backend()[0]
    if type(backend).__name__ != "DaskDistributedBackend" or not hasattr(backend, "client"):
        return None
    return backend


class _Submitted:
    """Every call submitted to a Dask cluster at once (in order: the scheduler starts
    them first come, first served); iterating gives the results as they complete
    (a task's error is raised here), ``close`` cancels the calls not yet started
    (a running one finishes its file). As with joblib's dask backend: the backend's
    options (``workers=``, ``resources=``, ``retries=``, given to
    ``parallel_config(backend="dask", ...)``) go with every task, a cluster without
    workers is an error after the backend's ``wait_for_workers_timeout``, and a Raw
    (possibly large) is sent to the workers once, not inside the task graph."""

    def __init__(self, backend, func, calls):
        import mne
        from distributed import as_completed

        client = self._client = backend.client
        backend.effective_n_jobs(-1)  # waits for a worker, or raises joblib's error
        columns = [list(column) for column in zip(*calls)]  # one graph update
        places = [
            (column, k)
            for column in columns
            for k, value in enumerate(column)
            if isinstance(value, mne.io.BaseRaw)
        ]
        if places:  # one request for every Raw
            sent = client.scatter([column[k] for column, k in places], hash=False)
            for (column, k), future in zip(places, sent):
                column[k] = future
        options = dict(getattr(backend, "submit_kwargs", {}) or {})
        self._futures = client.map(func, *columns, pure=False, **options) if columns else []
        self._completed = as_completed(self._futures, loop=client.loop)  # any client

    def __iter__(self):
        for future in self._completed:
            yield future.result()

    def close(self):
        self._client.cancel(self._futures)
        self._futures = []


def run_calls(func, calls, n_jobs, parent):
    """``func(*args)`` for every ``args`` of ``calls``: an iterable of the results in
    the order they complete, with a ``close()`` that stops the work left. One call per
    task (files take from 0.05 s to minutes each: a batch of quick files would leave
    a worker alone with the last batch). ``parent``: the caller's ``parent_token()``,
    which joblib's loky workers watch from their start. ``n_jobs=1`` runs here, with
    any joblib backend (joblib's dask backend would send even ``n_jobs=1`` to the
    cluster)."""
    if n_jobs == 1:
        return (func(*args) for args in calls)
    backend = dask_backend()
    if backend is not None:
        return _Submitted(backend, func, list(calls))
    from joblib import Parallel, delayed

    return Parallel(
        n_jobs=n_jobs, return_as="generator_unordered", batch_size=1, **worker_options(parent)
    )(delayed(func)(*args) for args in calls)
