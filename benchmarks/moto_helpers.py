"""Helpers of the benchmarks that read from object storage: moto's S3 server started in
its own process on a free port of 127.0.0.1 (nothing leaves the machine), the
``storage_options`` that reach it, and a folder uploaded to it (``tests/_s3.py`` does
the same for the tests, with pytest fixtures)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time


def start_moto():
    """moto's S3 server in its own process on a free loopback port: (process, url),
    or (None, why) when moto or s3fs is missing."""
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
        import s3fs  # noqa: F401
    except ImportError as err:
        return None, f"object storage left out: {err} (pip install .[remote] moto[server])"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    return None, "object storage left out: moto's server did not start in 30 s"


def s3_options(url):
    """``storage_options`` for s3fs (and zarr's fsspec store) that reach the server at
    ``url``; fake credentials in this process's environment too (botocore asks)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = "testing"  # this process only: moto takes any key
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    return dict(
        key="testing",
        secret="testing",
        client_kwargs=dict(endpoint_url=url, region_name="us-east-1"),
        skip_instance_cache=True,
    )


def upload(local, remote, options):
    """Copy the folder ``local`` to ``remote`` (``bucket/prefix``); seconds."""
    import s3fs

    fs = s3fs.S3FileSystem(**options)
    t0 = time.perf_counter()
    fs.put(str(local).rstrip("/") + "/", remote, recursive=True)
    return time.perf_counter() - t0
