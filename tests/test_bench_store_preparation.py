"""benchmarks/store_preparation.py: the Dask clusters it compares are the ones it
names. Dask's nannies write their ``pre-spawn-environ`` (``MALLOC_TRIM_THRESHOLD_``)
into the starting process's ``os.environ``, and a variable found there wins over the
configuration: before, the benchmark's "without MALLOC_TRIM_THRESHOLD_" cluster had
it all the same, and so did every process started after the first cluster."""

import os
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # two LocalClusters: about 10 s on 2 cores

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def _trim():
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_the_clusters_have_the_malloc_setting_they_are_named_for(data_path, monkeypatch):
    from store_preparation import _cluster, _tick

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    before = dict(os.environ)
    warm = [data_path / "ecg/mitdb/100.hea"]
    with ExitStack() as stack:
        client, seconds = _cluster(stack, 1, warm, trim=True)
        assert set(client.run(_trim).values()) == {"65536"}  # Dask's default
        assert dict(os.environ) == before  # this process's environment as it was
        client, seconds = _cluster(stack, 1, warm, trim=False)
        assert set(client.run(_trim).values()) == {None}
        assert dict(os.environ) == before
        assert seconds > 0
        client, seconds = _cluster(stack, 1, warm, tick="1s")  # the docs' configuration
        assert set(client.run(_tick).values()) == {"1s"}
        assert set(client.run(_trim).values()) == {"65536"}
