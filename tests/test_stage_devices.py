"""Input stages: fitted statistics live where the stage lives (buffers move with .to())."""

import numpy as np
import pytest
import torch

from mne_specae.nn.input_stages import WaveformInput


def _waves(n_items=12, n_channels=2, n_times=200, seed=0):
    rng = np.random.default_rng(seed)
    scale = np.array([1e-6, 1e-3])[:n_channels, None]  # channels of other units
    return torch.as_tensor(rng.standard_normal((n_items, n_channels, n_times)) * scale + 2 * scale)


def test_waveform_statistics_are_buffers_that_move_with_the_stage():
    stage = WaveformInput(normalize="dataset").fit_normalization(_waves(), batch_size=5)
    buffers = dict(stage.named_buffers())
    assert set(buffers) == {"norm_mean", "norm_std"}
    assert buffers["norm_mean"].shape == (2,) and buffers["norm_mean"].dtype == torch.float32
    stage.to(torch.float64)
    assert stage.norm_mean.dtype == stage.norm_std.dtype == torch.float64
    stage.to("meta")
    assert stage.norm_mean.device.type == stage.norm_std.device.type == "meta"


def test_waveform_statistics_are_fitted_onto_the_stage_device():
    """Before: fitting replaced the buffers with CPU tensors, so a stage that the training
    engine had moved to CUDA kept its statistics on the CPU (a device mismatch)."""
    stage = WaveformInput(normalize="dataset").to("meta")
    stage.fit_normalization(_waves(), batch_size=5)  # CPU waveforms, a stage elsewhere
    assert stage.norm_mean.device.type == stage.norm_std.device.type == "meta"
    assert stage.norm_mean.shape == stage.norm_std.shape == (2,)
    assert stage.norm_mean.dtype == torch.float32


@pytest.mark.filterwarnings("ignore:for norm_:UserWarning")
def test_loaded_statistics_stay_on_the_stage_device():
    """Before: a saved state loaded into a moved stage put its statistics on the CPU."""
    fitted = WaveformInput(normalize="dataset").fit_normalization(_waves())
    stage = WaveformInput(normalize="dataset").to("meta")
    stage.load_state_dict(fitted.state_dict())
    assert stage.norm_mean.device.type == stage.norm_std.device.type == "meta"
    assert stage.norm_mean.shape == (2,)


def test_waveform_statistics_round_trip():
    """The saved state (format unchanged: the two buffers) gives the same transform."""
    waves = _waves()
    fitted = WaveformInput(normalize="dataset").fit_normalization(waves, batch_size=5)
    state = {k: v.clone() for k, v in fitted.state_dict().items()}
    assert set(state) == {"norm_mean", "norm_std"}
    again = WaveformInput(**fitted.get_config())
    again.load_state_dict(state)
    torch.testing.assert_close(again(waves), fitted(waves), rtol=0, atol=0)
    out = fitted(waves).double()
    torch.testing.assert_close(
        out.mean(dim=(0, 2)), torch.zeros(2, dtype=torch.float64), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        out.std(dim=(0, 2), unbiased=False), torch.ones(2, dtype=torch.float64), atol=1e-4, rtol=0
    )
