"""A loopback S3 server for the tests of remote sources and stores.

moto's :class:`~moto.server.ThreadedMotoServer` on a free port of 127.0.0.1 (nothing
leaves the machine), fake credentials set for the test only; the ``s3`` fixture gives
a bucket and the ``storage_options`` that reach it. Import the fixtures into a test
module: ``import _s3`` then ``moto_server, s3 = _s3.moto_server, _s3.s3``;
``uploaded_store`` gives a small local store and its copy in the bucket.
"""

from __future__ import annotations

import json
import socket
import uuid
from types import SimpleNamespace

import pytest

pytest.importorskip("s3fs", reason="the remote extra (fsspec, s3fs) is not installed")
moto_server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")

_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_server():
    """moto's S3 server on a free loopback port, for the test module; its URL."""
    port = _free_port()
    server = moto_server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(moto_server, monkeypatch):
    """A new, empty bucket on the loopback server: ``bucket`` (its ``s3://`` URL),
    ``storage_options`` and ``fs`` (an ``s3fs.S3FileSystem`` that reaches it)."""
    import boto3
    import s3fs

    for name, value in _CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")  # no user configuration read
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": moto_server, "region_name": "us-east-1"},
        "skip_instance_cache": True,
    }
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )  # us-east-1 takes no location constraint (s3fs's mkdir would send one)
    fs = s3fs.S3FileSystem(**options)
    yield SimpleNamespace(bucket=f"s3://{bucket}", storage_options=options, fs=fs)
    fs.rm(bucket, recursive=True)


@pytest.fixture
def uploaded_store(data_path, s3, tmp_path):
    """A local store of real recordings (EEG and ECG, two shards) and its copy in the
    bucket (``put`` recursive); ``(local store, URL)``."""
    import mne_specae as msa

    files = [data_path / "eeg/eegmat/Subject00_2.edf", data_path / "ecg/mitdb/100.hea"]
    local = msa.prepare_segments(files, tmp_path / "store", progress=False, verbose="error")
    url = f"{s3.bucket}/stores/store"
    s3.fs.put(str(local.path), url, recursive=True)
    return local, url


def assert_trains_like(local, remote):
    """One tiny training epoch (seed 0) from ``remote`` gives the weights of the same
    run from ``local``, bit for bit (the remote store's batches read ahead by a thread,
    the local one's in the training thread)."""
    import torch

    import mne_specae as msa

    assert remote.remote and not local.remote

    settings = dict(
        max_epochs=1, filters=4, n_layers=2, resize=(16, 16), batch_size=16, device="cpu"
    )
    weights = []
    for store in (local, remote):
        est = msa.SpecAE(random_state=0, **settings).fit(store)
        weights.append({k: v.clone() for k, v in est.model_.state_dict().items()})
    assert weights[0].keys() == weights[1].keys()
    for key in weights[0]:
        torch.testing.assert_close(weights[0][key], weights[1][key], rtol=0, atol=0)


def stored_objects(s3, url):
    """``{name: content}`` of the objects under ``url``: bytes, and the manifest parsed
    without its generation id (new at each store), so that two stores compare equal
    when they hold the same data."""
    root = url.split("://", 1)[1]
    out = {}
    for p in s3.fs.find(root):
        data = s3.fs.cat_file(p)
        if p.endswith("manifest.json"):
            data = json.loads(data)
            data.pop("generation")
        out[p[len(root) :]] = data
    return out
