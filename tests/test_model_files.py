"""Model files that tell what is wrong with them: keys, versions, weights, places, devices."""

import numpy as np
import pytest
import torch
from tiny import TINY_ONE_EPOCH as TINY

from mne_specae import SpecAE, make_segments
from mne_specae.estimator._model_file import MODEL_FORMAT_VERSION


@pytest.fixture(scope="module")
def segments(raw_by_name):
    return [
        make_segments(raw_by_name[name].copy().crop(0, 20))
        for name in ("ecg/mitdb/100", "ecg/mitdb/106")
    ]


@pytest.fixture(scope="module")
def model_file(segments, tmp_path_factory):
    return SpecAE(**TINY).fit(segments).save(tmp_path_factory.mktemp("m") / "m.specae")


def _tampered(model_file, tmp_path, change):
    state = torch.load(model_file, weights_only=True)
    change(state)
    path = tmp_path / "tampered.specae"
    torch.save(state, path)
    return path


def test_missing_key(model_file, tmp_path):
    path = _tampered(model_file, tmp_path, lambda s: s.pop("model_state"))
    with pytest.raises(
        ValueError,
        match=r"tampered.specae: damaged model file, missing "
        r"\['model_state'\]",
    ):
        SpecAE.load(path)


def test_unknown_parameter_from_a_newer_version(model_file, tmp_path):
    def newer(state):
        state["params"]["warp_drive"] = True
        state["package_version"] = "9.0"

    with pytest.raises(
        ValueError,
        match=r"tampered.specae has parameter\(s\) \['warp_drive'\] "
        r".*written by mne-specae 9.0.*Upgrade",
    ):
        SpecAE.load(_tampered(model_file, tmp_path, newer))


@pytest.mark.parametrize("version", ["2", 2.0, True, None, -1])
def test_format_version_of_the_wrong_type(model_file, tmp_path, version):
    path = _tampered(model_file, tmp_path, lambda s: s.update(format_version=version))
    with pytest.raises(
        ValueError,
        match=r"tampered.specae: damaged model file "
        r"\(format_version .* is not a positive int\)",
    ):
        SpecAE.load(path)


def test_newer_format_asks_for_an_upgrade(model_file, tmp_path):
    path = _tampered(
        model_file, tmp_path, lambda s: s.update(format_version=MODEL_FORMAT_VERSION + 1)
    )
    with pytest.raises(ValueError, match="Upgrade mne-specae"):
        SpecAE.load(path)


def test_non_finite_weights(model_file, tmp_path):
    def poison(state):
        key = next(k for k, v in state["model_state"].items() if v.is_floating_point())
        state["model_state"][key] = state["model_state"][key].clone().fill_(float("nan"))

    with pytest.raises(
        ValueError,
        match=r"the weights hold NaN/Inf values \(model_state"
        r"\['encoder.0.weight'\]\).*Retrain",
    ):
        SpecAE.load(_tampered(model_file, tmp_path, poison))


def test_weights_that_do_not_fit_the_settings(model_file, tmp_path):
    path = _tampered(model_file, tmp_path, lambda s: s["model_config"].update(filters=[8, 8]))
    with pytest.raises(ValueError, match="tampered.specae: the file is inconsistent"):
        SpecAE.load(path)


def test_unwritable_place_is_named(segments, tmp_path, monkeypatch):
    import mne_specae.utils._files

    est = SpecAE(**TINY).fit(segments)

    def denied(path, *args, **kwargs):  # as a read-only folder does (root writes anywhere)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(mne_specae.utils._files, "open", denied, raising=False)
    with pytest.raises(
        PermissionError,
        match=rf"Could not write {tmp_path}/m.specae: Permission "
        "denied. Choose a writable location",
    ):
        est.save(tmp_path / "m.specae")
    assert not (tmp_path / "m.specae").exists()


def test_unwritable_folder_is_named(segments, tmp_path):
    est = SpecAE(**TINY).fit(segments)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match=rf"Cannot create the folder of {blocker}/sub/m.specae"):
        est.save(blocker / "sub" / "m.specae")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_model_saved_on_a_gpu_runs_on_a_cpu(segments, tmp_path):
    est = SpecAE(**TINY).fit(segments)
    est.set_params(device="cuda")  # as saved on a GPU machine
    path = est.save(tmp_path / "gpu.specae")
    loaded = SpecAE.load(path)
    assert loaded.device == "auto"
    np.testing.assert_allclose(
        loaded.transform(segments), est.set_params(device="cpu").transform(segments), rtol=1e-6
    )
    assert SpecAE.load(path, device="cpu").device == "cpu"


def test_path_parameters_round_trip(segments, tmp_path):
    """A pathlib checkpoint parameter was pickled as a PosixPath, which the safe loader
    (weights_only=True) then refused: "Unsupported global: pathlib.PosixPath"."""
    from pathlib import Path

    est = SpecAE(**TINY, checkpoint=Path(tmp_path / "run.ckpt")).fit(segments)
    est.save(tmp_path / "model.pt")
    loaded = SpecAE.load(tmp_path / "model.pt")
    assert loaded.checkpoint is None  # a run's setting, not the model's (not saved)
    np.testing.assert_array_equal(loaded.transform(segments), est.transform(segments))


def test_run_settings_are_not_saved_and_the_readme_fine_tune_line_works(segments, tmp_path):
    """The model file kept the training run's checkpoint path (a machine path in a file
    meant to be shared): a loaded model's fit raised FileExistsError, and the README's
    ``SpecAE(**ae.get_params()).fit(epochs, init=ae)`` raised "init cannot be combined
    with checkpoint"."""
    ckpt = tmp_path / "run_dir_xyz" / "run.ckpt"
    est = SpecAE(**TINY, checkpoint=ckpt, resume=True).fit(segments)
    assert ckpt.is_file()
    path = est.save(tmp_path / "model.specae")
    state = torch.load(path, weights_only=True)
    assert "checkpoint" not in state["params"] and "resume" not in state["params"]
    assert b"run_dir_xyz" not in path.read_bytes()
    ae = SpecAE.load(path)
    assert ae.checkpoint is None and ae.resume is False
    # fine-tuning from a loaded model (doc/pretrained.rst)
    tuned = SpecAE(**ae.get_params()).fit(segments, init=ae)
    assert tuned.checkpoint is None and np.isfinite(tuned.transform(segments)).all()
    ae.fit(segments)  # a loaded model refits (no FileExistsError from the old run)
    assert len(ae.history_.epochs) == 1


def test_old_files_with_run_settings_load_without_them(model_file, tmp_path):
    def old(state):
        state["params"]["checkpoint"] = "/home/someone/run.ckpt"
        state["params"]["resume"] = True

    loaded = SpecAE.load(_tampered(model_file, tmp_path, old))
    assert loaded.checkpoint is None and loaded.resume is False
