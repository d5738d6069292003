"""SpecAE's scikit-learn and MNE manners: feature names, pandas output, tags, the
global random state, verbosity, presets and documented defaults."""

import inspect

import mne
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from tiny import TINY_ONE_EPOCH as TINY

from mne_specae import SpecAE, make_segments, presets


@pytest.fixture(scope="module")
def two_subjects(raw_by_name):
    return [
        make_segments(raw_by_name[name].copy().crop(0, 30))
        for name in ("ecg/mitdb/100", "ecg/mitdb/106")
    ]


def test_feature_names_and_pandas_output(two_subjects):
    est = SpecAE(**TINY).fit(two_subjects)
    names = est.get_feature_names_out()
    assert list(names) == ["specae_000", "specae_001", "specae_002", "specae_003"]
    frame = clone(est).set_output(transform="pandas").fit(two_subjects).transform(two_subjects)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(names)
    assert frame.shape == (12, 4)  # 2 x 30 s in 5 s segments
    concat = SpecAE(**TINY, channel_agg="concat").fit(two_subjects)  # 2 leads each
    out = concat.transform(two_subjects)
    assert out.shape == (12, 8) == (12, concat.n_features_out_)
    assert len(concat.get_feature_names_out()) == 8


def test_tags_declare_3d_input():
    tags = SpecAE().__sklearn_tags__()
    assert tags.input_tags.three_d_array and not tags.input_tags.two_d_array
    assert tags.requires_fit


def test_fit_leaves_the_global_random_state_alone(two_subjects):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)  # a state fit would not reach by seeding itself
        before = torch.random.get_rng_state()
        SpecAE(**TINY).fit(two_subjects)
        assert torch.equal(torch.random.get_rng_state(), before)
    # and the seed still decides the weights
    a = SpecAE(**TINY).fit(two_subjects).model_.state_dict()
    b = SpecAE(**TINY).fit(two_subjects).model_.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_verbose_is_honoured_by_every_method(two_subjects):
    quiet = SpecAE(**TINY, verbose="error")
    with mne.use_log_level("info"), mne.utils.catch_logging() as log:
        quiet.fit(two_subjects)
        quiet.transform(two_subjects)
        quiet.reconstruct(two_subjects[0])
        quiet.add_embeddings(two_subjects[0].copy())
        assert log.getvalue() == ""
    loud = SpecAE(**TINY, verbose="info")
    with mne.use_log_level("warning"), mne.utils.catch_logging() as log:
        loud.fit(two_subjects)
        assert "Training a ConvAutoencoder2d on 24 items" in log.getvalue()
    with mne.use_log_level("warning"), mne.utils.catch_logging() as log:
        loud.transform(two_subjects, verbose="error")  # the call's own verbose wins
        loud.add_embeddings(two_subjects[0].copy())
        text = log.getvalue()
    assert "Added 4 embedding columns" in text and "Spectrogram" not in text


def test_defaults_are_the_recommended_preset():
    params = SpecAE().get_params()
    assert {k: params[k] for k in presets.RECOMMENDED} == presets.RECOMMENDED
    study = SpecAE(**presets.STUDY)
    assert study.resize == (480, 640) and study.filters == 64 and study.n_layers == 4
    assert set(presets.QUICK) == set(presets.RECOMMENDED)


def test_every_parameter_documented_with_type_and_default():
    doc = SpecAE.__doc__
    for name, param in inspect.signature(SpecAE).parameters.items():
        line = next(
            (ln.strip() for ln in doc.splitlines() if ln.strip().startswith(f"{name} : ")), None
        )
        assert line is not None, name
        assert line.endswith(f"default={param.default!r}"), line


def test_study_preset_is_native_resolution():
    """480 x 640 images of 5 s at 512 Hz without upsampling the STFT."""
    from mne_specae import Spectrogram

    sg = Spectrogram(
        512.0,
        **{
            k: presets.STUDY[k]
            for k in (
                "n_fft",
                "hop_length",
                "fmin",
                "fmax",
                "freq_scale",
                "n_freqs",
                "output",
                "top_db",
            )
        },
    )
    height, width = sg.output_shape(2560)
    assert height == 480 and width in (640, 641)
    assert np.isclose(sg.freqs[-1], 256.0)
