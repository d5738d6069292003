"""benchmarks/bench_store_format.py --smoke: the store against Zarr v3 on a small store
of known content (a RawArray of noise), every table row printed and every format
returning the store's items bit for bit. No timing is asserted."""

import subprocess
import sys
from pathlib import Path

import mne
import numpy as np
import pytest

pytestmark = pytest.mark.slow  # about 20 s on 2 cores: a subprocess per format

pytest.importorskip("zarr", reason="zarr is not installed (the bench extra)")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_store_format.py"
sys.path.insert(0, str(SCRIPT.parent))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from mne_specae import prepare_segments

    sfreq = 512.0
    rng = np.random.default_rng(0)
    info = mne.create_info([f"EEG{k}" for k in range(3)], sfreq, "eeg")
    raw = mne.io.RawArray(1e-5 * rng.standard_normal((3, int(200 * sfreq))), info, verbose=False)
    return prepare_segments(raw, tmp_path_factory.mktemp("s") / "store", verbose=False)


def _table(out):
    """The rows of the final table: ``{format: [columns after the name]}``."""
    lines = out.split("\nformat ", 1)[1].splitlines()[1:]
    rows = {}
    for line in lines:
        if line.startswith("all identical"):
            break
        name, rest = line[:28].strip(), line[28:].split()
        rows[name] = rest
    return rows


def test_smoke_prints_every_format_and_identical_items(store):
    from bench_store_format import SMOKE_VARIANTS

    s3 = True
    try:
        import moto.server  # noqa: F401
        import s3fs  # noqa: F401
    except ImportError:
        s3 = False
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--store", str(store.path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert f"{len(store)} items x {store.n_times} samples float32" in out
    rows = _table(out)
    expected = ["in memory", "shards (.npy)", *(v[0] for v in SMOKE_VARIANTS)]
    assert list(rows) == expected
    for name, columns in rows.items():
        assert columns[-1] == "True", name  # the same items as store[idx], bit for bit
        numbers = [float(c) for c in columns[:-1] if c != "-"]
        assert all(np.isfinite(numbers)) and min(numbers) >= 0, name
    assert "all identical: True" in out
    assert out.count("whole array equal to the store's items: True") == len(SMOKE_VARIANTS)
    # files, MB, /shards, items/s, /shards, /memory, RSS, S3 items/s, /shards, identical
    shards = rows["shards (.npy)"]
    assert shards[2] == shards[4] == "1.00"  # size and items/s against itself
    assert rows["in memory"][4] == "1.00"  # items/s against itself (no size ratio)
    files = int(rows[SMOKE_VARIANTS[1][0]][0])  # 1-row chunks in one shard of 1024 rows
    assert files == 1 + int(np.ceil(len(store) / 1024))  # zarr.json and the shards
    if s3:
        assert "object storage: moto's S3 server at http://127.0.0.1:" in out
        assert shards[-2] == "1.00"  # S3 items/s against itself
        assert all(len(rows[v[0]]) == 10 for v in SMOKE_VARIANTS)
    else:
        assert "object storage left out" in out
