"""Sample recordings through the registry, readers and downloads (no internet needed)."""

import hashlib
import http.server
import shutil
import socket
import threading
from functools import partial

import mne
import numpy as np
import pytest

from mne_specae import datasets
from mne_specae.datasets import (
    EXTENDED_RECORDINGS,
    SAMPLE_RECORDINGS,
    citations,
    fetch_mitdb,
    fetch_uci_lower_limb_emg,
    get_data_path,
    get_recording,
    load_sample,
    load_sample_epochs,
    read_raw,
)


def test_sample_channel_types_units_and_counts(sample_raws):
    assert set(sample_raws) == {"ecg", "eeg", "emg"}
    counts = {k: len(v) for k, v in sample_raws.items()}
    assert counts == {"ecg": 12, "eeg": 10, "emg": 20}
    for modality, raws in sample_raws.items():
        for raw in raws:
            assert raw.get_channel_types(unique=True) == [modality]
            assert raw.preload
            entry = get_recording(raw.info["description"])
            assert entry.modality == modality
            assert raw.info["sfreq"] == entry.sfreq
            assert raw.ch_names == list(entry.channels)
            assert raw.info["subject_info"]["his_id"] == entry.subject


def test_sample_eeg_has_its_montage(raw_by_name):
    """Before: no positions, so plot_topomap / plot_sensors failed on the sample EEG."""
    raw = raw_by_name["eeg/eegmat/Subject00_1"]
    assert raw.get_montage() is not None
    pos = raw.get_montage().get_positions()["ch_pos"]
    assert sorted(pos) == sorted(raw.ch_names) and "A2-A1" not in raw.ch_names
    xyz = np.array([pos[ch] for ch in raw.ch_names])
    assert np.isfinite(xyz).all() and np.linalg.norm(xyz, axis=1).min() > 0.05  # on a head
    assert pos["Fz"][1] > pos["Pz"][1] and pos["T4"][0] > pos["T3"][0]  # front, right
    spectrum = raw.compute_psd(fmax=40.0, verbose=False)
    fig = spectrum.plot_topomap(bands={"Alpha (8-12 Hz)": (8, 12)}, show=False)
    assert fig.axes


def _p99(raw):
    return np.nanpercentile(np.abs(raw.get_data()), 99)


def test_sample_amplitudes_are_plausible_volts(raw_by_name):
    # eegmat EEG: ICA-cleaned, about +-30 uV (1st-99th percentile in the manifest)
    for name, raw in raw_by_name.items():
        if name.startswith("eeg/eegmat"):
            assert 10e-6 < _p99(raw) < 100e-6, name
    # MIT-BIH ECG in mV -> V: p1..p99 about -1.6 .. 1.0 mV
    for record in ("100", "106", "113", "121"):
        assert 0.3e-3 < _p99(raw_by_name[f"ecg/mitdb/{record}"]) < 3e-3
    # UCI EMG in mV -> V: tens to hundreds of microvolts
    for name, raw in raw_by_name.items():
        if name.startswith("emg/uci"):
            assert 3e-6 < _p99(raw) < 1e-3, name
    # eegmat ECG, mV -> V
    assert 0.1e-3 < _p99(raw_by_name["ecg/eegmat/Subject00_1"]) < 2e-3


def test_sample_lengths_match_manifest(raw_by_name):
    assert raw_by_name["ecg/mitdb/100"].n_times == 650000
    assert raw_by_name["eeg/eegmat/Subject00_1"].n_times == 182 * 500
    assert raw_by_name["eeg/eegmat/Subject00_2"].n_times == 62 * 500
    assert raw_by_name["emg/uci_lower_limb/4Amar"].n_times == 56544
    # trailing goniometer-only rows are left out, the declared 9227 samples kept
    assert raw_by_name["emg/uci_lower_limb/8Nmar"].n_times == 9227
    assert raw_by_name["eeg/biosppy/eeg_ec"].n_times == 38219
    for raw in raw_by_name.values():
        assert np.isfinite(raw.get_data()).all()


def test_uci_reader_values_match_the_text_file(data_path, raw_by_name):
    first = np.loadtxt(data_path / "emg/uci_lower_limb/3Amar.txt", skiprows=7, max_rows=3)
    np.testing.assert_allclose(
        raw_by_name["emg/uci_lower_limb/3Amar"].get_data()[:, :3], first[:, :4].T * 1e-3
    )


def test_biosppy_reader_removes_midscale_and_scales(data_path, raw_by_name):
    counts = np.loadtxt(data_path / "ecg/biosppy/ecg.txt", comments="#")
    np.testing.assert_allclose(raw_by_name["ecg/biosppy/ecg"].get_data()[0], (counts - 2048) * 1e-6)


def test_wfdb_reader_matches_the_format_212_decoding(data_path, raw_by_name):
    # Decode the first 3-byte group of 100.dat by hand (README of the data set).
    b0, b1, b2 = (data_path / "ecg/mitdb/100.dat").read_bytes()[:3]
    s_a = b0 + 256 * (b1 & 0x0F)
    s_b = b2 + 16 * (b1 & 0xF0)
    s_a, s_b = (s - 4096 if s > 2047 else s for s in (s_a, s_b))
    expected = (np.array([s_a, s_b]) - 1024) / 200 * 1e-3
    np.testing.assert_allclose(raw_by_name["ecg/mitdb/100"].get_data()[:, 0], expected)


def test_eegmat_labels_and_subjects():
    rest = get_recording("eeg/eegmat/Subject01_1")
    task = get_recording("eeg/eegmat/Subject01_2")
    assert rest.labels == {"condition": "rest"}
    assert task.labels == {"condition": "arithmetic"}
    assert rest.subject == task.subject == get_recording("ecg/eegmat/Subject01_1").subject
    assert get_recording("emg/uci_lower_limb/8Npie").labels == {
        "exercise": "standing",
        "group": "normal",
    }
    with pytest.raises(KeyError, match="No sample or extended recording"):
        get_recording("ecg/mitdb/999")


def test_load_sample_filters(data_path):
    raws = load_sample(modalities="emg", subjects=["uci-3A"])
    assert set(raws) == {"emg"}
    assert [r.info["description"] for r in raws["emg"]] == [
        "emg/uci_lower_limb/3Amar",
        "emg/uci_lower_limb/3Apie",
        "emg/uci_lower_limb/3Asen",
    ]
    with pytest.raises(ValueError, match="Unknown modalities"):
        load_sample(modalities=["eog"])
    with pytest.raises(ValueError, match="No sample recording of subject"):
        load_sample(subjects=["nobody"])
    with pytest.raises(ValueError, match="'uci-11N'] are in the extended set: pass extended=True"):
        load_sample_epochs(subjects=["uci-3A", "uci-11N"])


def test_registry_checksums_match_the_data_folder(data_path):
    for recording in SAMPLE_RECORDINGS:
        for file in recording.files:
            digest = hashlib.sha256((data_path / file.relpath).read_bytes()).hexdigest()
            assert digest == file.sha256, file.relpath


@pytest.fixture(scope="module")
def extended_path(data_path):
    """The data folder, if it holds the extended set (else the test is skipped)."""
    if not all((data_path / f.relpath).is_file() for r in EXTENDED_RECORDINGS for f in r.files):
        pytest.skip(f"The data folder {data_path} does not hold the extended set")
    return data_path


def test_extended_set_is_opt_in_and_checksummed(extended_path):
    assert not {r.subject for r in SAMPLE_RECORDINGS} & {r.subject for r in EXTENDED_RECORDINGS}
    files = {f.relpath: f.sha256 for r in EXTENDED_RECORDINGS for f in r.files}
    # eegmat Subject04-19 rest and task; 13 UCI subjects x 3 exercises
    assert (len(SAMPLE_RECORDINGS), len(EXTENDED_RECORDINGS), len(files)) == (42, 102, 32 + 39)
    for relpath, sha256 in files.items():
        assert hashlib.sha256((extended_path / relpath).read_bytes()).hexdigest() == sha256
    epochs = load_sample_epochs(subjects="uci-11N", extended=True, max_segments=2)
    assert [(ep.metadata["recording"].iloc[0], len(ep)) for ep in epochs] == [
        (f"emg/uci_lower_limb/11N{ex}", n) for ex, n in (("mar", 1), ("pie", 2), ("sen", 2))
    ]


def test_extended_set_subjects_and_values(extended_path):
    raws = load_sample(modalities=["eeg", "emg"], extended=True, download=False)
    by_name = {raw.info["description"]: raw for rs in raws.values() for raw in rs}
    assert len(raws["eeg"]) == 10 + 32 and len(raws["emg"]) == 20 + 39
    labels = {}  # subject -> labels of its eegmat or UCI recordings
    for name, raw in by_name.items():
        if "/biosppy/" not in name:
            labels.setdefault(raw.info["subject_info"]["his_id"], set()).add(
                tuple(get_recording(name).labels.values())
            )
            assert (
                (10e-6 < _p99(raw) < 100e-6) if "eegmat" in name else (3e-6 < _p99(raw) < 1e-3)
            ), name  # EEG about +-30 uV, EMG 3 uV - 1 mV
    eegmat = [v for s, v in labels.items() if s.startswith("eegmat-")]
    assert len(eegmat) == 20 and all(v == {("rest",), ("arithmetic",)} for v in eegmat)
    uci = [sorted(v) for s, v in labels.items() if s.startswith("uci-")]
    assert len(uci) == 19 and {tuple(x[0] for x in v) for v in uci} == {
        ("gait", "sitting", "standing")
    }
    assert [v[0][1] for v in uci].count("normal") == 10  # and 9 with a knee abnormality
    # lengths as in the manifest; 1Nmar: the "7.5V" note after the samples is left out
    assert by_name["eeg/eegmat/Subject04_1"].n_times == 170 * 500
    assert by_name["emg/uci_lower_limb/1Nmar"].n_times == 5681
    # Subject13_1's ECG lead is nearly flat: left out, its task recording kept
    ecg = load_sample(modalities="ecg", subjects="eegmat-Subject13", extended=True)["ecg"]
    assert [raw.info["description"] for raw in ecg] == ["ecg/eegmat/Subject13_2"]
    flat = read_raw(extended_path / "eeg/eegmat/Subject13_1.edf").get_data(picks="ecg")
    assert _p99(ecg[0]) > 0.2e-3 and np.percentile(np.abs(flat), 99) < 0.1e-3


def test_licences_and_citations_are_shown():
    text = citations()
    for needle in (
        "ODC-By 1.0",
        "CC BY 4.0",
        "BSD-3-Clause",
        "Goldberger",
        "10.24432/C5ZW3P",
        "Zyma",
        "Moody",
    ):
        assert needle in text
    assert "ODC-By" in load_sample.__doc__ and "CC BY 4.0" in load_sample.__doc__
    assert get_recording("ecg/mitdb/100").licence == "ODC-By 1.0"
    assert "Moody" in get_recording("ecg/mitdb/100").citation


def test_data_path_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("MNE_SPECAE_DATA", str(tmp_path / "from_env"))
    assert get_data_path(tmp_path / "arg") == (tmp_path / "arg").resolve()
    assert get_data_path() == (tmp_path / "from_env").resolve()
    monkeypatch.delenv("MNE_SPECAE_DATA")
    monkeypatch.setenv("_MNE_FAKE_HOME_DIR", str(tmp_path))
    with pytest.warns(RuntimeWarning, match="non-standard config"):
        mne.set_config("MNE_SPECAE_DATA", str(tmp_path / "from_config"), set_env=False)
    assert get_data_path() == (tmp_path / "from_config").resolve()
    with pytest.warns(RuntimeWarning, match="non-standard config"):
        mne.set_config("MNE_SPECAE_DATA", None, set_env=False)
    mne.set_config("MNE_DATA", str(tmp_path / "mne_data"), set_env=False)
    assert get_data_path() == (tmp_path / "mne_data" / "mne-specae").resolve()


def test_missing_file_without_download_says_where_to_put_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Put the file at .*ecg\.txt"):
        load_sample(tmp_path, subjects=["biosppy-ecg"], download=False)


def test_corrupt_file_is_refused(tmp_path, data_path):
    target = tmp_path / "ecg/biosppy/ecg.txt"
    target.parent.mkdir(parents=True)
    content = bytearray((data_path / "ecg/biosppy/ecg.txt").read_bytes())
    content[-3] ^= 1
    target.write_bytes(bytes(content))
    with pytest.raises(OSError, match="does not match its SHA-256 checksum"):
        load_sample(tmp_path, subjects=["biosppy-ecg"])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """Serve a folder on 127.0.0.1; yields a function folder -> base URL."""
    servers = []

    def serve(folder):
        handler = partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_download_from_a_local_mirror(tmp_path, data_path, http_server, monkeypatch):
    monkeypatch.setenv("MNE_SPECAE_MIRROR", http_server(data_path))
    raws = load_sample(tmp_path, subjects=["biosppy-ecg", "uci-9N"])
    got = tmp_path / "ecg/biosppy/ecg.txt"
    assert got.read_bytes() == (data_path / "ecg/biosppy/ecg.txt").read_bytes()
    assert len(raws["ecg"]) == 1 and len(raws["emg"]) == 3
    # and the uci full-data fetcher uses the same layout and checksums
    paths = fetch_uci_lower_limb_emg(["9N"], path=tmp_path)
    assert [p.name for p in paths] == ["9Nmar.txt", "9Npie.txt", "9Nsen.txt"]
    assert read_raw(paths[0]).n_times == 5343


def test_offline_download_fails_with_a_clear_message(tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MNE_SPECAE_MIRROR", f"http://127.0.0.1:{port}/")
    with pytest.raises(OSError, match=r"Could not download .*offline.*Put the file at"):
        load_sample(tmp_path, subjects=["biosppy-ecg"])


def _physionet_mirror(root, data_path, record, corrupt=False):
    folder = root / "physionet/mitdb/1.0.0"
    folder.mkdir(parents=True)
    lines = []
    for ext in ("hea", "dat", "atr"):
        src = data_path / f"ecg/mitdb/{record}.{ext}"
        shutil.copy(src, folder / src.name)
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        if corrupt and ext == "dat":
            digest = "0" * 64
        lines.append(f"{digest} {src.name}")
    (folder / "SHA256SUMS.txt").write_text("\n".join(lines) + "\n")


def test_fetch_mitdb_from_a_local_server(
    tmp_path, data_path, http_server, monkeypatch, raw_by_name
):
    _physionet_mirror(tmp_path / "server", data_path, "100")
    monkeypatch.setenv("MNE_SPECAE_MIRROR", http_server(tmp_path / "server"))
    headers = fetch_mitdb(["100"], path=tmp_path / "cache")
    assert headers == [tmp_path / "cache/physionet/mitdb/1.0.0/100.hea"]
    raw = read_raw(headers[0])
    np.testing.assert_array_equal(raw.get_data(), raw_by_name["ecg/mitdb/100"].get_data())
    assert raw.get_channel_types(unique=True) == ["ecg"]
    # cached: works without the server now
    monkeypatch.setenv("MNE_SPECAE_MIRROR", "http://127.0.0.1:9/")
    assert fetch_mitdb("100", path=tmp_path / "cache", download=False) == headers
    with pytest.raises(ValueError, match="Unknown records"):
        fetch_mitdb(["999"], path=tmp_path / "cache")


def test_fetch_mitdb_checksum_mismatch(tmp_path, data_path, http_server, monkeypatch):
    _physionet_mirror(tmp_path / "server", data_path, "100", corrupt=True)
    monkeypatch.setenv("MNE_SPECAE_MIRROR", http_server(tmp_path / "server"))
    with pytest.raises(OSError, match="checksum"):
        fetch_mitdb(["100"], path=tmp_path / "cache")


def test_read_raw_dispatch(data_path, tmp_path):
    assert read_raw(data_path / "eeg/biosppy/eeg_ec.txt").get_channel_types() == ["eeg"]
    edf = read_raw(data_path / "eeg/eegmat/Subject00_2.edf")
    assert set(edf.get_channel_types()) >= {"eeg", "ecg"}
    assert edf.info["description"] == "Subject00_2"
    odd = tmp_path / "odd.txt"
    odd.write_text("1 2 3\n4 5 6\n")
    with pytest.raises(ValueError, match="unknown text format"):
        read_raw(odd)
    with pytest.raises(FileNotFoundError):
        read_raw(tmp_path / "nothing.edf")


def test_wfdb_gaps_become_nan(tmp_path):
    wfdb = pytest.importorskip("wfdb")
    signal = np.sin(np.linspace(0, 40 * np.pi, 3600))[:, None] * 1.5  # mV
    signal[1000:1100] = np.nan
    wfdb.wrsamp(
        "gap",
        fs=360,
        units=["mV"],
        sig_name=["MLII"],
        p_signal=signal,
        fmt=["16"],
        adc_gain=[200.0],
        baseline=[0],
        write_dir=str(tmp_path),
    )
    raw = datasets.read_wfdb(tmp_path / "gap.hea")
    data = raw.get_data()[0]
    assert np.isnan(data[1000:1100]).all()
    assert np.isfinite(data[:1000]).all() and np.isfinite(data[1100:]).all()
    np.testing.assert_allclose(data[:1000], signal[:1000, 0] * 1e-3, atol=1e-5)


def test_read_wfdb_annotations_mitdb_100(data_path, raw_by_name):
    ann = datasets.read_wfdb_annotations(data_path / "ecg/mitdb/100.atr")
    assert isinstance(ann, mne.Annotations)
    counts = {d: int((ann.description == d).sum()) for d in set(ann.description)}
    # the reference labels of record 100: 2239 normal, 33 atrial premature, 1 PVC,
    # and the rhythm annotation "+" with its note "(N" (normal sinus rhythm)
    assert counts == {"N": 2239, "A": 33, "V": 1, "+(N": 1}
    assert ann.orig_time is None and (ann.duration == 0).all()
    assert np.all(np.diff(ann.onset) >= 0)
    # the first atrial premature beat is at sample 2044 (5.678 s at 360 Hz)
    assert ann.onset[ann.description == "A"][0] == pytest.approx(2044 / 360)
    # same result from the record path or the header; the annotations fit the Raw
    same = datasets.read_wfdb_annotations(data_path / "ecg/mitdb/100.hea")
    np.testing.assert_array_equal(same.onset, ann.onset)
    raw = raw_by_name["ecg/mitdb/100"].copy().set_annotations(ann)
    assert len(raw.annotations) == len(ann)
    assert raw.annotations.onset[-1] < raw.times[-1]
    # R peaks: the annotated samples sit on large deflections of lead MLII
    data = raw.get_data(picks="MLII")[0]
    beats = np.round(ann.onset[ann.description == "N"] * 360).astype(int)[:50]
    assert np.median(np.abs(data[beats] - np.median(data))) > 5 * np.median(
        np.abs(data - np.median(data))
    )


def test_read_wfdb_annotations_missing_file(tmp_path, data_path):
    with pytest.raises(FileNotFoundError, match="annotation file not found"):
        datasets.read_wfdb_annotations(data_path / "ecg/mitdb/106")
    # a written annotation file without a sampling rate takes it from the header
    wfdb = pytest.importorskip("wfdb")
    for ext in ("hea", "dat"):
        shutil.copy(data_path / f"ecg/mitdb/106.{ext}", tmp_path / f"106.{ext}")
    wfdb.wrann(
        "106", "test", np.array([100, 460, 820]), symbol=["N", "V", "N"], write_dir=str(tmp_path)
    )
    ann = datasets.read_wfdb_annotations(tmp_path / "106", extension="test")
    np.testing.assert_allclose(ann.onset, np.array([100, 460, 820]) / 360)
    assert list(ann.description) == ["N", "V", "N"]


@pytest.mark.sample_data
def test_load_sample_epochs_labels_and_subsets():
    epochs = load_sample_epochs(
        subjects=["uci-9N", "eegmat-Subject01"], max_segments=3, max_channels=2
    )
    names = [ep.metadata["recording"].iloc[0] for ep in epochs]
    # 9Nmar (5.343 s) gives one segment; eegmat Subject01: ECG and EEG, rest and task
    assert names == [
        "ecg/eegmat/Subject01_1",
        "ecg/eegmat/Subject01_2",
        "eeg/eegmat/Subject01_1",
        "eeg/eegmat/Subject01_2",
        "emg/uci_lower_limb/9Nmar",
        "emg/uci_lower_limb/9Npie",
        "emg/uci_lower_limb/9Nsen",
    ]
    assert [len(ep) for ep in epochs] == [3, 3, 3, 3, 1, 3, 3]
    assert [len(ep.ch_names) for ep in epochs] == [1, 1, 2, 2, 2, 2, 2]
    assert list(epochs[2].metadata["condition"]) == ["rest"] * 3
    assert list(epochs[3].metadata["condition"]) == ["arithmetic"] * 3
    assert set(epochs[5].metadata["exercise"]) == {"standing"}
    assert set(epochs[6].metadata["group"]) == {"normal"}
    np.testing.assert_allclose(epochs[2].metadata["onset"], [0.0, 90.0, 175.0])  # 0, 18, 35 of 36
    assert (
        load_sample_epochs(subjects=["uci-9N"], duration=6.0)[0].metadata["recording"].iloc[0]
        == "emg/uci_lower_limb/9Npie"
    )  # 9Nmar is shorter than 6 s


def _write_wfdb(folder, name, sig_names, units):
    wfdb = pytest.importorskip("wfdb")
    t = np.arange(3600) / 360.0
    signal = np.stack([np.sin(2 * np.pi * (3 + k) * t) for k in range(len(sig_names))], 1)
    wfdb.wrsamp(
        name,
        fs=360,
        units=units,
        sig_name=sig_names,
        p_signal=signal,
        fmt=["16"] * len(sig_names),
        adc_gain=[200.0] * len(sig_names),
        baseline=[0] * len(sig_names),
        write_dir=str(folder),
    )
    return folder / f"{name}.hea"


def test_wfdb_types_from_names_and_units(tmp_path):
    """Before: every WFDB signal was typed ecg (an EMG too), and an NU unit was an error."""
    header = _write_wfdb(tmp_path, "rec", ["MLII", "EMG", "Resp", "ABP"], ["mV", "mV", "mV", "NU"])
    with pytest.warns(RuntimeWarning) as record:
        raw = datasets.read_wfdb(header)
    messages = " ".join(str(w.message) for w in record)
    assert f"{header}: signal(s) ABP (NU) are not in volts: left out" in messages
    assert "the name of signal(s) ['Resp'] does not say its type: typed misc" in messages
    assert dict(zip(raw.ch_names, raw.get_channel_types())) == {
        "MLII": "ecg",
        "EMG": "emg",
        "Resp": "misc",
    }
    with pytest.warns(RuntimeWarning, match=r"ABP \(NU\) are not in volts: kept unscaled"):
        kept = datasets.read_wfdb(header, unknown_units="keep")
    assert kept.ch_names[-1] == "ABP" and kept.get_channel_types()[-1] == "misc"
    np.testing.assert_allclose(
        kept.get_data(picks="ABP")[0][:90], np.sin(2 * np.pi * 6 * np.arange(90) / 360), atol=0.01
    )
    with pytest.raises(ValueError, match=r"rec.hea: signal\(s\) ABP \(NU\) are not in volts"):
        datasets.read_wfdb(header, unknown_units="raise")
    assert (
        datasets.read_wfdb(header, ch_type="ecg", unknown_units="skip").get_channel_types()
        == ["ecg"] * 3
    )


def test_read_raw_takes_a_bare_wfdb_record_name(tmp_path):
    _write_wfdb(tmp_path, "100", ["MLII", "V5"], ["mV", "mV"])
    raw = read_raw(tmp_path / "100")  # as "mitdb/100" on a command line
    assert raw.ch_names == ["MLII", "V5"] and raw.get_channel_types() == ["ecg", "ecg"]
    assert read_raw(tmp_path / "100.dat").ch_names == ["MLII", "V5"]


def test_channel_types_from_names():
    from mne_specae.datasets.channels import (
        channel_type_from_name,
        check_channel_types,
        parse_channel_types,
    )

    names = {
        "ECG": "ecg",
        "ECG ECG": "ecg",
        "MLII": "ecg",
        "V5": "ecg",
        "EMG": "emg",
        "EMG submental": "emg",
        "EOG": "eog",
        "EEG Fpz-Cz": "eeg",
        "Fp1": "eeg",
        "Cz": "eeg",
        "RF": None,
        "STI 014": None,
        "Resp": None,
    }
    assert {n: channel_type_from_name(n) for n in names} == names
    info = mne.create_info(["ECG", "Fz", "EMG", "X"], 500.0, ["eeg", "eeg", "ecg", "eeg"])
    raw = mne.io.RawArray(np.zeros((4, 1000)), info, verbose=False)
    with pytest.warns(
        RuntimeWarning,
        match=r"f.edf: channel type\(s\) corrected after the "
        r"channel name: ECG \(eeg -> ecg\), EMG \(ecg -> emg\)",
    ):
        check_channel_types(raw, "f.edf")
    assert raw.get_channel_types() == ["ecg", "eeg", "emg", "eeg"]
    check_channel_types(raw, "f.edf", channel_types={"X": "emg", "ECG": "misc"})
    assert raw.get_channel_types() == ["misc", "eeg", "emg", "emg"]
    with pytest.raises(ValueError, match=r"f.edf: no channel\(s\) \['Y'\]"):
        check_channel_types(raw, "f.edf", channel_types={"Y": "eeg"})
    assert parse_channel_types("ECG=ecg, EMG1=emg") == {"ECG": "ecg", "EMG1": "emg"}
    with pytest.raises(ValueError, match="'ECG' is not NAME=type"):
        parse_channel_types("ECG")


def _write_wfdb_mat(folder, monkeypatch):
    """A WFDB record stored as PhysioNet's Challenge 2015 stores them: ``<name>.hea``
    naming a ``<name>.mat`` signal file (wfdb2mat's format 16 with a MATLAB header)."""
    from wfdb.io.convert.matlab import wfdb_to_mat

    _write_wfdb(folder, "a103", ["II", "V5"], ["mV", "mV"])
    monkeypatch.chdir(folder)
    wfdb_to_mat("a103")  # writes a103m.hea and a103m.mat here
    assert "a103m.mat 16" in (folder / "a103m.hea").read_text()
    return folder / "a103m.mat"


def test_read_raw_reads_a_wfdb_mat_record_and_refuses_other_mat_files(tmp_path, monkeypatch):
    """Before: read_raw('a103l.mat') went to MNE's FieldTrip reader and raised
    TypeError (unexpected keyword argument 'verbose')."""
    scipy_io = pytest.importorskip("scipy.io")
    mat = _write_wfdb_mat(tmp_path, monkeypatch)
    for name in (mat, mat.with_suffix(".hea"), mat.with_suffix("")):
        raw = read_raw(name)
        assert raw.ch_names == ["II", "V5"] and raw.get_channel_types() == ["ecg", "ecg"]
        assert raw.info["sfreq"] == 360.0 and raw.n_times == 3600
        t = np.arange(3600) / 360.0
        np.testing.assert_allclose(
            raw.get_data()[1], 1e-3 * np.sin(2 * np.pi * 4 * t), atol=1e-5
        )  # mV -> V
        assert raw.info["description"] == "a103m"
    other = tmp_path / "scores.mat"
    scipy_io.savemat(other, {"x": np.zeros((2, 10))})
    with pytest.raises(
        ValueError,
        match=r"scores\.mat is not part of a WFDB record "
        r"\(no scores\.hea beside it\)",
    ):
        read_raw(other)
