"""Small settings and training helpers shared by the test modules (imported by them;
not collected: no ``test_`` prefix). Tiny networks and images: fast on 2 CPU cores."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from mne_specae import Spectrogram, make_segments
from mne_specae.nn.models import ConvAutoencoder2d
from mne_specae.training.loop import train_autoencoder

#: SpecAE settings of the tests: a linear axis from 0 Hz and mean pooling, so that
#: bins and features can be counted.
TINY = dict(
    n_fft=64,
    hop_length=64,
    fmin=0.0,
    fmax=60.0,
    freq_scale="linear",
    n_freqs=None,
    top_db=80.0,
    detrend=None,
    resize=(16, 16),
    n_layers=2,
    filters=4,
    pooling="mean",
    max_epochs=2,
    batch_size=16,
    device="cpu",
    random_state=0,
)
TINY_ONE_EPOCH = dict(TINY, max_epochs=1)
RECORD_KEYS = ("epoch", "train_loss", "val_loss", "lr")


def tiny_spec(**kwargs):
    """A small dB spectrogram input stage, z-scored per item."""
    return Spectrogram(
        512.0,
        **{
            "n_fft": 64,
            "hop_length": 64,
            "fmax": 60.0,
            "output": "db",
            "normalize": "item",
            **kwargs,
        },
    )


def tiny_model(seed=0, **kwargs):
    """A 2-layer, 4-filter ConvAutoencoder2d seeded with ``seed`` (global generator:
    the tests that use it run with the ``isolated_torch_rng`` fixture)."""
    torch.manual_seed(seed)
    return ConvAutoencoder2d(**{"n_layers": 2, "filters": 4, **kwargs})


def tiny_train(net, waves, **kwargs):
    """train_autoencoder with the tests' small settings (overridable)."""
    options = dict(
        input_stage=tiny_spec(),
        max_epochs=2,
        batch_size=16,
        lr=3e-3,
        device="cpu",
        progress=False,
        verbose=False,
    )
    options.update(kwargs)
    return train_autoencoder(net, waves, **options)


class Recorder(torch.nn.Module):
    """A model that records what it is given (and whether it was training)."""

    def __init__(self, net):
        super().__init__()
        self.net, self.calls = net, []

    def forward(self, x):
        self.calls.append((self.training, x.detach().clone()))
        return self.net(x)


def with_pooling(est, pooling):
    """A copy of the fitted SpecAE ``est`` that pools its features with ``pooling``
    (the same weights and input stage)."""
    import copy

    return copy.deepcopy(est).set_params(pooling=pooling)


def weights_of(net):
    """A detached copy of the weights."""
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def records_of(history):
    """The per-epoch records without their timing."""
    return [{k: e[k] for k in RECORD_KEYS} for e in history.epochs]


#: 2 recordings (2 subjects) of each modality; 30 s of each = 6 segments of 5 s
ITEM_RECORDINGS = [
    "ecg/mitdb/100",
    "ecg/mitdb/106",
    "eeg/eegmat/Subject00_1",
    "eeg/eegmat/Subject01_1",
    "emg/uci_lower_limb/3Amar",
    "emg/uci_lower_limb/4Amar",
]


def check_fingerprinted_option(waves, groups, folder, name, value):
    """A training option in checkpoints: recorded as ``value``, a resume without it
    refused naming it (``value -> 0.0``), and a checkpoint written before the option
    existed (no entry) resumed by a call that leaves it at 0."""
    import pytest

    ckpt = folder / f"{name}.pt"
    tiny_train(tiny_model(), waves, groups=groups, max_epochs=1, checkpoint=ckpt, **{name: value})
    state = torch.load(ckpt, weights_only=True)
    assert state["fingerprint"][name] == value
    with pytest.raises(ValueError, match=rf"What differs(.|\n)*  {name}: {value!r} -> 0.0\n"):
        tiny_train(tiny_model(), waves, groups=groups, max_epochs=1, checkpoint=ckpt, resume=True)
    plain = folder / f"without_{name}.pt"
    tiny_train(tiny_model(), waves, groups=groups, max_epochs=1, checkpoint=plain)
    state = torch.load(plain, weights_only=True)
    del state["fingerprint"][name]
    torch.save(state, plain)
    history = tiny_train(
        tiny_model(), waves, groups=groups, max_epochs=1, checkpoint=plain, resume=True
    )
    assert history.stop_reason == "max_epochs"


def check_saved_option(raw_by_name, folder, name, value):
    """A ``SpecAE`` training option: 0 by default and in ``RECOMMENDED``, a fit with
    ``value`` trains other weights than one without, files keep it, and a file written
    before the option existed loads with 0 and embeds the same."""
    from mne_specae import SpecAE, presets

    epochs = [
        make_segments(raw_by_name[f"ecg/mitdb/{n}"].copy().crop(0, 20)) for n in ("100", "106")
    ]
    assert getattr(SpecAE(), name) == presets.RECOMMENDED[name] == 0.0
    est = SpecAE(**TINY_ONE_EPOCH, **{name: value}).fit(epochs, init=None)
    plain = SpecAE(**TINY_ONE_EPOCH).fit(epochs, init=None)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(est.model_.state_dict().values(), plain.model_.state_dict().values())
    )
    first = est.transform(epochs)
    np.testing.assert_array_equal(est.transform(epochs), first)  # inference: clean inputs
    path = est.save(folder / "m.specae")
    assert getattr(SpecAE.load(path), name) == value
    state = torch.load(path, weights_only=True)
    del state["params"][name]
    torch.save(state, folder / "old.specae")
    old = SpecAE.load(folder / "old.specae")
    assert getattr(old, name) == 0.0
    np.testing.assert_array_equal(old.transform(epochs), first)


def load_real_items(raw_by_name):
    """72 items (one channel of one 5 s segment) of 6 subjects (12 items each), float32,
    and the subject of each item."""
    waves, groups = [], []
    for name in ITEM_RECORDINGS:
        epochs = make_segments(raw_by_name[name].copy().crop(0.0, 30.0))
        data = epochs.get_data()[:, :2]
        waves.append(data.reshape(-1, data.shape[-1]))
        groups.append(np.repeat(epochs.metadata["subject"].to_numpy(), 2))
    return np.concatenate(waves).astype(np.float32), np.concatenate(groups)


TESTS = Path(__file__).resolve().parent


def run_torchrun(script, *args, cwd=None, timeout=240):
    """Run ``script`` under ``torch.distributed.run`` with 2 CPU processes on a free
    port of 127.0.0.1 (the package and tests/ importable); fail with the log's tail."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = [str(TESTS.parent), str(TESTS), os.environ.get("PYTHONPATH")]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, path)))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    cmd += ["--master-addr", "127.0.0.1", "--master-port", str(port), str(script)]
    cmd += [str(a) for a in args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc


def without_type_head(model):
    """A copy of ``model`` as files written before the type head existed."""
    import copy

    older = copy.deepcopy(model)
    older.calibration_.type_head = None
    return older


def record_start_weights(monkeypatch):
    """A list that receives, at each ``SpecAE.fit``, the weights its training starts
    from (``train_autoencoder`` watched through ``monkeypatch``)."""
    import mne_specae.estimator.specae as specae_module

    started = []
    train = specae_module.train_autoencoder

    def recording_train(model, *args, **kwargs):
        started.append(weights_of(model))
        return train(model, *args, **kwargs)

    monkeypatch.setattr(specae_module, "train_autoencoder", recording_train)
    return started
