"""The encoder shipped in the package (mne_specae.load_pretrained)."""

import contextlib
import pickletools
import zipfile

import numpy as np
import pytest
import torch

import mne_specae
from mne_specae import SpecAE, load_pretrained, make_segments
from mne_specae.estimator.calibration import Calibration
from mne_specae.pretrained.loading import PRETRAINED, file_sha256, pretrained_path

#: The only globals a plain tensors-and-settings pickle needs (what torch.save writes).
SAFE_GLOBALS = {
    "torch._utils _rebuild_tensor_v2",
    "collections OrderedDict",
    "torch FloatStorage",
    "torch LongStorage",
    "torch IntStorage",
    "torch BoolStorage",
    "torch DoubleStorage",
    "torch._utils _rebuild_parameter",
}


def _pickle_globals(path):
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
        payload = archive.read(name)
    found, strings = set(), []
    for op, arg, _ in pickletools.genops(payload):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            found.add(f"{strings[-2]} {strings[-1]}")
        elif op.name == "GLOBAL":
            found.add(arg)
        elif op.name in ("REDUCE", "BUILD", "INST", "OBJ", "NEWOBJ"):
            pass
    return found


def test_the_shipped_file_matches_its_recorded_sha256_and_is_small():
    path = pretrained_path()
    assert path.is_file()
    assert file_sha256(path) == PRETRAINED["biosignals"]["sha256"]
    assert path.stat().st_size < 5e6


def test_opening_the_shipped_file_runs_no_code():
    path = pretrained_path()
    # only tensor-rebuilding globals in the pickle: nothing that could run code
    assert _pickle_globals(path) <= SAFE_GLOBALS
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert state["format"] == "mne-specae-model"


def test_load_pretrained_gives_a_fitted_calibrated_model(tmp_path):
    est = load_pretrained()
    assert isinstance(est, SpecAE)
    assert isinstance(est.calibration_, Calibration)
    assert est.calibration_.classes == ["ecg", "eeg", "emg"]
    assert (est.sfreq_, est.n_times_) == (512.0, 2560)
    assert est.normalize == "item"
    # save / load round trip keeps weights and head
    again = SpecAE.load(est.save(tmp_path / "copy.specae"))
    for (k, a), (_, b) in zip(est.model_.state_dict().items(), again.model_.state_dict().items()):
        assert torch.equal(a, b), k
    np.testing.assert_array_equal(est.calibration_.coef, again.calibration_.coef)


def test_load_pretrained_embeds_real_segments(raw_by_name):
    est = load_pretrained()
    ep = make_segments(raw_by_name["ecg/mitdb/100"], verbose=False)[:4]
    emb = est.transform(ep)
    assert emb.shape == (4, est.n_features_out_)
    assert emb.dtype == np.float32 and np.isfinite(emb).all()


def test_a_damaged_or_replaced_file_is_refused_before_it_is_opened(monkeypatch, tmp_path):
    fake = tmp_path / "biosignals.specae"
    fake.write_bytes(pretrained_path().read_bytes()[:-10])

    @contextlib.contextmanager
    def fake_file(name):
        yield fake

    monkeypatch.setattr(mne_specae.pretrained.loading, "pretrained_file", fake_file)
    with pytest.raises(ValueError, match="damaged or was replaced.*Reinstall"):
        load_pretrained()
    fake.unlink()
    with pytest.raises(FileNotFoundError, match="missing from this installation"):
        load_pretrained()


def test_unknown_names_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="biosignals"):
        load_pretrained("ecg-only")


def test_load_pretrained_works_when_the_package_file_is_temporary(monkeypatch):
    """Imported from a zip, importlib.resources.as_file extracts the weights to a
    temporary file that is deleted when its context closes: load_pretrained must read
    the file while the context is open."""
    import contextlib
    import shutil
    import tempfile
    from importlib import resources
    from pathlib import Path

    opened, closed = [], []

    @contextlib.contextmanager
    def as_file_like_a_zip(ref):
        folder = Path(tempfile.mkdtemp())
        copy = folder / Path(str(ref)).name
        shutil.copyfile(str(ref), copy)
        opened.append(copy)
        try:
            yield copy
        finally:
            shutil.rmtree(folder)
            closed.append(copy)

    monkeypatch.setattr(resources, "as_file", as_file_like_a_zip)
    est = load_pretrained(verbose=False)
    assert len(opened) == len(closed) == 1 and not opened[0].exists()
    assert isinstance(est.calibration_, Calibration)
    assert est.calibration_.classes == ["ecg", "eeg", "emg"]


def test_load_pretrained_from_the_package_imported_from_a_zip(tmp_path):
    """The real case: the package (weights included) imported from a zip archive, in a
    fresh process; ``pretrained_path`` says to use ``pretrained_file`` there."""
    import subprocess
    import sys
    from pathlib import Path

    package = Path(mne_specae.__file__).parent
    archive = tmp_path / "mne_specae.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in package.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(package.parent).as_posix())
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import mne_specae\n"
        "assert mne_specae.__file__.startswith(sys.argv[1]), mne_specae.__file__\n"
        "est = mne_specae.load_pretrained(verbose=False)\n"
        "print('classes', est.calibration_.classes)\n"
        "try:\n"
        "    mne_specae.pretrained.loading.pretrained_path()\n"
        "except RuntimeError as err:\n"
        "    print('path:', err)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(archive)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "classes ['ecg', 'eeg', 'emg']" in done.stdout
    assert "path: mne-specae is imported from an archive" in done.stdout
    assert "pretrained_file(name)" in done.stdout
