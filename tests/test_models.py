"""ConvAutoencoder2d / ConvAutoencoder1d / WaveformInput: architecture, shapes, errors."""

import json
import re
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mne_specae.nn.input_stages import WaveformInput
from mne_specae.nn.models import ACTIVATIONS, ConvAutoencoder1d, ConvAutoencoder2d, build_model


def _layers(module, types):
    return [m for m in module.modules() if isinstance(m, types)]


pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")


def _tiny2d(**kwargs):
    torch.manual_seed(0)
    kwargs = {"n_layers": 2, "filters": 4, **kwargs}
    return ConvAutoencoder2d(**kwargs).eval()


# ------------------------------------------------------------------- the study's network
def test_defaults_are_the_study_network():
    model = ConvAutoencoder2d()
    enc = [m for m in model.encoder if not isinstance(m, nn.Identity)]
    dec = [m for m in model.decoder if not isinstance(m, nn.Identity)]
    # encoder: 4 x [Conv2d 3x3 64, ReLU, MaxPool2d 2]
    assert [type(m) for m in enc] == [nn.Conv2d, nn.ReLU, nn.MaxPool2d] * 4
    convs = enc[0::3]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 64)] + [(64, 64)] * 3
    assert all(
        c.kernel_size == (3, 3) and c.padding == (1, 1) and c.stride == (1, 1) for c in convs
    )
    assert all(p.kernel_size == 2 for p in enc[2::3])
    # decoder: 4 x [ConvTranspose2d 3x3 64, ReLU, Upsample x2], then Conv2d -> 1 plane
    assert [type(m) for m in dec] == [nn.ConvTranspose2d, nn.ReLU, nn.Upsample] * 4 + [nn.Conv2d]
    deconvs = dec[0:12:3]
    assert all((d.in_channels, d.out_channels, d.kernel_size) == (64, 64, (3, 3)) for d in deconvs)
    assert all(u.scale_factor == 2 and u.mode == "nearest" for u in dec[2:12:3])
    assert (dec[-1].in_channels, dec[-1].out_channels, dec[-1].kernel_size) == (64, 1, (3, 3))
    # no dense bottleneck, no normalisation
    assert model.to_code is None and model.from_code is None
    assert not _layers(model, (nn.Linear, nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d))
    assert model.multiple == 16
    assert model.latent_shape((480, 640)) == (64, 30, 40)
    n_params = sum(p.numel() for p in model.parameters())
    # 4 convs + 4 deconvs + output conv, weights and biases
    expected = (1 * 64 * 9 + 64) + 3 * (64 * 64 * 9 + 64) + 4 * (64 * 64 * 9 + 64) + (64 * 9 + 1)
    assert n_params == expected


def test_study_network_on_a_480x640_image():
    torch.manual_seed(0)
    model = ConvAutoencoder2d().eval()
    x = torch.randn(1, 1, 480, 640)
    with torch.no_grad():
        z = model.encode(x)
        out = model(x)
    assert z.shape == (1, 64, 30, 40) and z.dtype == torch.float32
    assert out.shape == (1, 1, 480, 640) and out.dtype == torch.float32
    assert bool(torch.isfinite(out).all())
    assert bool((z >= 0).all())  # ReLU then max-pooling: non-negative latent


# ------------------------------------------------------------------------- odd sizes
@pytest.mark.parametrize("size", [(17, 33), (37, 53), (4, 4), (4, 9), (16, 32)])
def test_odd_sizes_are_padded_and_cropped_back(size):
    model = _tiny2d()
    x = torch.randn(3, 1, *size)
    with torch.no_grad():
        out = model(x)
        z = model.encode(x)
    assert out.shape == x.shape
    assert z.shape == (3, *model.latent_shape(size))
    padded = model.padded_size(size)
    assert all(p % 4 == 0 and 0 <= p - s < 4 and p < 2 * s for p, s in zip(padded, size))
    assert z.shape[2:] == tuple(p // 4 for p in padded)


def test_padding_is_zeros_at_the_bottom_right_and_cropped_from_the_top_left():
    model = _tiny2d(filters=[4, 6])
    h, w = 17, 33
    x = torch.randn(2, 1, h, w)
    with torch.no_grad():
        out = model(x)
        # manual computation: zero-pad to 20 x 36 at the bottom/right, run, crop
        manual = model.decoder(model.encoder(F.pad(x, (0, 36 - w, 0, 20 - h))))
        assert manual.shape == (2, 1, 20, 36)
        torch.testing.assert_close(out, manual[..., :h, :w], rtol=0, atol=0)
        torch.testing.assert_close(
            model.encode(x), model.encoder(F.pad(x, (0, 3, 0, 3))), rtol=0, atol=0
        )
        # anything else (reflect padding, centred crop) would give different numbers
        other = model.decoder(model.encoder(F.pad(x, (0, 3, 0, 3), mode="replicate")))
        assert not torch.allclose(out, other[..., :h, :w])
        assert not torch.allclose(out, manual[..., 3:, 3:])
    # items do not influence each other (no batch statistics without norm="batch")
    with torch.no_grad():
        torch.testing.assert_close(model(x[1:]), out[1:], rtol=1e-6, atol=1e-6)


def test_loss_gradient_reaches_only_the_real_input():
    """The loss sees the real pixels only: its gradient has the input's shape and
    moving a padded (non-existent) pixel is impossible, while every real pixel
    influences the loss."""
    model = _tiny2d(activation="tanh")  # smooth: no dead units hiding gradients
    x = torch.randn(1, 1, 17, 33, requires_grad=True)
    loss = F.mse_loss(model(x), x.detach())
    loss.backward()
    assert x.grad.shape == x.shape
    assert bool(torch.isfinite(x.grad).all())
    assert int((x.grad == 0).sum()) == 0
    # the loss of the cropped output equals the loss over the valid region of the
    # padded computation (the padding is never compared with anything)
    with torch.no_grad():
        full = model.decoder(model.encoder(F.pad(x, (0, 3, 0, 3))))
        torch.testing.assert_close(loss.detach(), F.mse_loss(full[..., :17, :33], x))


# ------------------------------------------------------------- depth against input size
@pytest.mark.parametrize(
    "cls, kwargs, size, padded, depth",
    [
        (ConvAutoencoder2d, dict(n_layers=10), (16, 32), (1024, 1024), 4),
        (ConvAutoencoder2d, dict(n_layers=3), (7, 64), (8, 64), 2),
        (ConvAutoencoder2d, dict(n_layers=2, pool_size=3), (8, 30), (9, 36), 1),
        (ConvAutoencoder1d, dict(n_layers=6, kernel_size=5), (2560,), (4096,), 5),
        (ConvAutoencoder1d, dict(n_layers=2, kernel_size=5), (15,), (16,), 1),
    ],
)
def test_depth_the_input_size_cannot_take_is_refused(cls, kwargs, size, padded, depth):
    """Inputs are zero-padded to a multiple of pool_size ** n_layers; a size below that
    multiple on any axis is refused (the padding would exceed the input: n_layers=10
    turned a 16 x 32 image into 1024 x 1024 zeros, 2048x the pixels, without a word),
    naming the input size, the padded size and the largest depth that fits."""
    model = cls(filters=4, **kwargs).eval()
    match = (
        rf"an input of size {re.escape(str(size))} would be zero-padded to "
        rf"{re.escape(str(padded))}\. Use n_layers <= {depth} for this size"
    )
    x = torch.zeros(1, 1, *size)
    for call in (
        lambda: model.latent_shape(size),
        lambda: model.padded_size(size),
        lambda: model.check_input_size(size),
        lambda: model(x),
        lambda: model.encode(x),
        lambda: model.encode_blocks(x),
    ):
        with pytest.raises(ValueError, match=match):
            call()
    fits = cls(filters=4, **{**kwargs, "n_layers": depth}).eval()
    assert fits.check_input_size(size) == size
    assert all(s <= p < 2 * s for s, p in zip(size, fits.padded_size(size)))
    with torch.no_grad():
        assert fits(x).shape == x.shape
    with pytest.raises(ValueError, match=match):  # with a bottleneck: at construction
        cls(filters=4, bottleneck=3, input_size=size, **kwargs)


def test_input_shorter_than_one_pooling_window_is_refused():
    model = _tiny2d()
    with pytest.raises(
        ValueError,
        match=r"size \(1, 1\) would be zero-padded to \(4, 4\)\. "
        r"No depth fits an axis shorter than pool_size=2",
    ):
        model(torch.zeros(1, 1, 1, 1))
    with pytest.raises(
        ValueError,
        match=r"size \(3, 40\) would be zero-padded to \(4, 40\)"
        r"\. Use n_layers <= 1",
    ):
        model.latent_shape((3, 40))
    with pytest.raises(ValueError, match="Expected a spatial size of 2 positive int"):
        model.check_input_size((8,))


def test_specae_fit_refuses_a_depth_too_deep_for_its_images_before_training(raw_by_name):
    """SpecAE(n_layers=10, resize=(16, 32)) stops in fit before any training step; the
    code before trained on 1024 x 1024 padded images (2048x the pixels)."""
    from mne_specae import SpecAE, make_segments

    epochs = make_segments(raw_by_name["ecg/mitdb/100"].copy().crop(0, 30))
    est = SpecAE(n_layers=10, resize=(16, 32), device="cpu")
    start = time.perf_counter()
    with pytest.raises(
        ValueError,
        match=r"an input of size \(16, 32\) would be "
        r"zero-padded to \(1024, 1024\)\. Use n_layers <= 4",
    ):
        est.fit(epochs)
    assert time.perf_counter() - start < 20
    assert not hasattr(est, "model_")


# ----------------------------------------------------------------------- configuration
def test_n_layers_filters_kernel_size():
    model = ConvAutoencoder2d(n_layers=3, filters=[4, 6, 8], kernel_size=5).eval()
    convs = [m for m in model.encoder if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 6, 8]
    assert all(c.kernel_size == (5, 5) and c.padding == (2, 2) for c in convs)
    deconvs = [m for m in model.decoder if isinstance(m, nn.ConvTranspose2d)]
    assert [(d.in_channels, d.out_channels) for d in deconvs] == [(8, 8), (8, 6), (6, 4)]
    assert model.decoder[-1].in_channels == 4 and model.decoder[-1].out_channels == 1
    assert model.multiple == 8
    assert model.latent_shape((20, 30)) == (8, 3, 4)
    x = torch.randn(2, 1, 20, 30)
    with torch.no_grad():
        assert model.encode(x).shape == (2, 8, 3, 4)
        assert model(x).shape == x.shape
    # int filters repeat per layer
    assert ConvAutoencoder2d(n_layers=3, filters=5).filters == [5, 5, 5]
    # pool_size 3
    model = ConvAutoencoder2d(n_layers=2, filters=4, pool_size=3)
    assert model.multiple == 9 and model.latent_shape((10, 19)) == (4, 2, 3)
    with torch.no_grad():
        assert model(torch.randn(1, 1, 10, 19)).shape == (1, 1, 10, 19)


@pytest.mark.parametrize(
    "norm, layer",
    [
        (None, None),
        ("batch", nn.BatchNorm2d),
        ("instance", nn.InstanceNorm2d),
        ("group", nn.GroupNorm),
    ],
)
def test_norms(norm, layer):
    model = ConvAutoencoder2d(n_layers=2, filters=[4, 6], norm=norm)
    norms = _layers(model, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm))
    if layer is None:
        assert norms == []
    else:
        assert len(norms) == 4 and all(type(n) is layer for n in norms)  # 2 enc + 2 dec
        if norm == "group":
            assert [n.num_groups for n in norms] == [4, 2, 2, 4]  # gcd(8, channels)
        if norm == "instance":
            assert all(n.affine for n in norms)
    x = torch.randn(3, 1, 12, 20)
    model.train()
    out = model(x)
    assert out.shape == x.shape
    out.mean().backward()
    model.eval()
    with torch.no_grad():
        assert torch.isfinite(model(x)).all()


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations(name):
    model = ConvAutoencoder2d(n_layers=2, filters=4, activation=name)
    acts = _layers(model, ACTIVATIONS[name])
    assert len(acts) == 4
    others = [cls for key, cls in ACTIVATIONS.items() if key != name]
    assert not _layers(model, tuple(others))
    with torch.no_grad():
        assert model(torch.randn(1, 1, 8, 8)).shape == (1, 1, 8, 8)


def test_in_channels_planes():
    model = _tiny2d(in_channels=3)
    x = torch.randn(2, 3, 9, 14)
    with torch.no_grad():
        assert model(x).shape == (2, 3, 9, 14)
    assert model.encoder[0].in_channels == 3 and model.decoder[-1].out_channels == 3


def test_dense_bottleneck():
    model = _tiny2d(bottleneck=16, input_size=(17, 33))
    assert model.latent_shape((17, 33)) == (4, 5, 9)
    linears = _layers(model, nn.Linear)
    assert [(lin.in_features, lin.out_features) for lin in linears] == [(180, 16), (16, 180)]
    x = torch.randn(3, 1, 17, 33)
    with torch.no_grad():
        z = model.encode(x)
        assert z.shape == (3, 16) and z.dtype == torch.float32
        out = model.decode(z, output_size=(17, 33))
        assert out.shape == x.shape
        torch.testing.assert_close(model(x), out, rtol=0, atol=0)
        assert model.decode(z).shape == (3, 1, 20, 36)  # uncropped
    with pytest.raises(ValueError, match=r"built for inputs of size \(17, 33\)"):
        model(torch.randn(1, 1, 16, 33))
    # input_size without a bottleneck also pins the size
    pinned = ConvAutoencoder2d(n_layers=2, filters=4, input_size=(8, 8))
    with pytest.raises(ValueError, match="size"):
        pinned(torch.randn(1, 1, 8, 12))


@pytest.mark.parametrize(
    "cls, kwargs, size",
    [
        (
            ConvAutoencoder2d,
            dict(n_layers=2, filters=[3, 5], norm="group", activation="elu"),
            (9, 14),
        ),
        (
            ConvAutoencoder2d,
            dict(n_layers=2, filters=4, bottleneck=7, input_size=(9, 14), norm="batch"),
            (9, 14),
        ),
        (
            ConvAutoencoder1d,
            dict(n_layers=2, filters=4, kernel_size=5, bottleneck=6, input_size=100, in_channels=2),
            (100,),
        ),
    ],
)
def test_get_config_and_build_model_round_trip(cls, kwargs, size):
    torch.manual_seed(1)
    model = cls(**kwargs)
    x = torch.randn(4, model.in_channels, *size)
    model.train()
    model(x)  # update batch-norm running statistics so that buffers matter
    model.eval()
    config = json.loads(json.dumps(model.get_config()))  # JSON-serialisable
    assert config["filters"] == list(model.filters)
    torch.manual_seed(2)  # different initial weights
    clone = build_model(type(model).__name__, config).eval()
    assert clone.get_config() == model.get_config()
    with torch.no_grad():
        assert not torch.equal(clone(x), model(x))
        clone.load_state_dict(model.state_dict())
        torch.testing.assert_close(clone(x), model(x), rtol=0, atol=0)
    with pytest.raises(ValueError, match="Unknown model"):
        build_model("ConvAutoencoder3d", config)


# ------------------------------------------------------------------------------ 1-D model
def test_conv_autoencoder_1d_defaults_and_shapes():
    torch.manual_seed(0)
    model = ConvAutoencoder1d().eval()
    convs = [m for m in model.encoder if isinstance(m, nn.Conv1d)]
    assert len(convs) == 4 and all(c.out_channels == 64 and c.kernel_size == (9,) for c in convs)
    assert all(p.kernel_size == 4 for p in _layers(model.encoder, nn.MaxPool1d))
    assert model.multiple == 256
    assert model.latent_shape(2560) == (64, 10)
    x = torch.randn(2, 1, 2560)
    with torch.no_grad():
        assert model.encode(x).shape == (2, 64, 10)
        assert model(x).shape == (2, 1, 2560)


@pytest.mark.parametrize("n_times", [2559, 1000, 37, 16])
def test_conv_autoencoder_1d_odd_lengths(n_times):
    torch.manual_seed(0)
    model = ConvAutoencoder1d(in_channels=2, n_layers=2, filters=4, kernel_size=5).eval()
    x = torch.randn(3, 2, n_times)
    with torch.no_grad():
        out = model(x)
        z = model.encode(x)
    assert out.shape == x.shape
    assert z.shape == (3, *model.latent_shape(n_times))
    assert z.shape[-1] == -(-n_times // 16)
    with torch.no_grad():
        manual = model.decoder(model.encoder(F.pad(x, (0, z.shape[-1] * 16 - n_times))))
    torch.testing.assert_close(out, manual[..., :n_times], rtol=0, atol=0)


# ------------------------------------------------------------------------- WaveformInput
def test_waveform_input_standardises_each_item():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 500)) * np.array([1e-6, 1.0, 1e3, 5.0])[:, None, None]
    x += np.array([1e-5, -2.0, 7e3, 0.0])[:, None, None]
    x[:, 1] *= 3.0  # channels of one item keep their ratio
    stage = WaveformInput()
    out = stage(torch.as_tensor(x))
    assert out.dtype == torch.float32 and out.shape == (4, 3, 500)
    flat = out.reshape(4, -1).double()
    np.testing.assert_allclose(flat.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(flat.std(1, unbiased=False), 1, rtol=1e-4)
    expected = (x - x.mean(axis=(1, 2), keepdims=True)) / x.std(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-4)
    # per item over all channels (not per channel): channel 1 keeps 3x the spread
    ratio = out[:, 1].std(dim=-1) / out[:, 0].std(dim=-1)
    assert bool((ratio > 2).all())


def test_waveform_input_2d_constant_and_none():
    stage = WaveformInput()
    x = torch.randn(5, 300, dtype=torch.float64)
    x[2] = 4.2  # constant item
    out = stage(x)
    assert out.shape == (5, 1, 300) and out.dtype == torch.float32
    assert bool(torch.isfinite(out).all())
    assert float(out[2].abs().max()) < 1e-5  # (float32 rounding of the mean only)
    raw = WaveformInput(normalize=None)
    assert raw.get_config() == {"normalize": None}
    torch.testing.assert_close(raw(x), x.to(torch.float32).unsqueeze(1))
    assert stage.image_shape(2560) == (1, 2560)
    assert stage.image_shape(2560, n_channels=4) == (4, 2560)
    with pytest.raises(ValueError, match="n_times"):
        stage(torch.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="n_times"):
        stage(torch.randn(10))
    with pytest.raises(ValueError, match="normalize"):
        WaveformInput(normalize="channel")
    with pytest.raises(TypeError, match="expects a torch.Tensor"):
        stage(np.zeros((2, 300)))


# ---------------------------------------------------------------------------- errors
def test_input_errors():
    model = _tiny2d(in_channels=2)
    with pytest.raises(TypeError, match="torch.Tensor"):
        model(np.zeros((1, 2, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"\(batch, planes, height, width\) with 2"):
        model(torch.zeros(2, 8, 8))
    with pytest.raises(ValueError, match="2 channel"):
        model(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="with 2 channel"):
        model.encode(torch.zeros(1, 3, 8, 8))
    one_d = ConvAutoencoder1d(n_layers=2, filters=4)
    with pytest.raises(ValueError, match=r"\(batch, channels, n_times\)"):
        one_d(torch.zeros(1, 100))
    with pytest.raises(ValueError, match=r"\(batch, channels, n_times\)"):
        one_d(torch.zeros(1, 1, 8, 8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        one_d([[0.0] * 10])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kernel_size=4), "kernel_size must be an odd int"),
        (dict(kernel_size=0), "kernel_size must be an odd int"),
        (dict(kernel_size=-3), "kernel_size must be an odd int"),
        (dict(kernel_size=3.0), "kernel_size must be an odd int"),
        (dict(n_layers=0), "n_layers must be an int >= 1"),
        (dict(activation="swish"), "activation must be one of"),
        (dict(norm="layer"), "norm must be one of"),
        (dict(filters=[4, 8, 16]), "filters has 3 entries for 2 layers"),
        (dict(filters=[4]), "filters has 1 entries for 2 layers"),
        (dict(filters=0), "filters must be >= 1"),
        (dict(bottleneck=16), "needs input_size"),
        (dict(bottleneck=16, input_size=(8,)), "input_size must have 2 entries"),
        (dict(in_channels=0), "in_channels must be an int >= 1"),
        (dict(pool_size=1), "pool_size must be an int >= 2"),
    ],
)
def test_constructor_errors(kwargs, match):
    kwargs = {"n_layers": 2, "filters": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        ConvAutoencoder2d(**kwargs)


def test_constructor_errors_1d():
    with pytest.raises(ValueError, match="kernel_size must be an odd int"):
        ConvAutoencoder1d(kernel_size=8)
    with pytest.raises(ValueError, match="needs input_size"):
        ConvAutoencoder1d(bottleneck=8)
    with pytest.raises(ValueError, match="input_size must have 1 entries"):
        ConvAutoencoder1d(bottleneck=8, input_size=(100, 100))
    model = ConvAutoencoder1d(n_layers=2, filters=4, bottleneck=8, input_size=100)
    assert model.input_size == (100,)
    with pytest.raises(ValueError, match=r"built for inputs of size \(100,\)"):
        model(torch.zeros(1, 1, 99))
