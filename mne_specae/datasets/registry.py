"""What the package knows about the public recordings it reads.

One :class:`Recording` per recording of the bundled sample set
(:data:`SAMPLE_RECORDINGS`) and of the extended set (:data:`EXTENDED_RECORDINGS`: more
subjects of eegmat and of the UCI lower-limb EMG), each with the files it needs (path
inside the data folder, public download URL, SHA-256 checksum, see
:mod:`~mne_specae.datasets.checksums`), its
modality, subject, channels, sampling rate, units and the licence and citation of
the dataset it comes from. The recordings themselves are never shipped with the
package: they are read from a data folder (see :func:`mne_specae.datasets.get_data_path`)
or downloaded from the URLs below.

Unit conversions (what the readers do to reach volts, MNE's unit):

* MIT-BIH (WFDB): physical values in mV from the header's gain and baseline, x 1e-3.
* eegmat (EDF+): MNE applies the EDF physical range; the file says uV for EEG and mV
  for ECG, MNE returns volts.
* UCI lower-limb EMG (text): mV, x 1e-3.
* BioSPPy examples (text): uncalibrated ADC counts. The readers subtract the ADC
  mid-scale (2**(bits - 1)) and apply a *nominal* 1e-6 V per count, so that MNE's
  plots and scalings behave; the amplitude of these recordings is arbitrary and
  must not be compared with calibrated ones (normalise per item or per recording).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._sources import PHYSIONET_CITATION, SOURCES, Source  # noqa: F401 (public here)
from .checksums import EEGMAT_SHA256 as _EEGMAT_SHA256
from .checksums import UCI_SHA256 as _UCI_SHA256

_PHYSIONET_FILES = "https://physionet.org/files/{db}/1.0.0/"
_BIOSPPY_RAW = (
    "https://raw.githubusercontent.com/scientisst/BioSPPy/"
    "82e894096ba76cce343a9f9d688e9325f1c95d59/examples/"
)
# The UCI archive is a zip without a published checksum; its text files are served,
# byte for byte, by this public copy at a pinned commit, file by file with checksums.
_UCI_RAW = (
    "https://raw.githubusercontent.com/hb2kang-zz/sEMG_Classification/"
    "4b5f4b5cc5e0d0ef0c782ea05f320162ee4535e3/SEMG_DB1/"
)


@dataclass(frozen=True)
class DataFile:
    """One file: where it sits in the data folder, where to download it, its checksum."""

    relpath: str
    url: str
    sha256: str | None = None


@dataclass(frozen=True)
class Recording:
    """One recording of one modality, as the package reads it.

    Attributes
    ----------
    name : str
        Unique key, ``<modality>/<source>/<file stem>`` (e.g. ``"ecg/mitdb/100"``).
        :func:`~mne_specae.datasets.load_sample` stores it in ``raw.info["description"]``
        and :func:`~mne_specae.make_segments` uses it as the ``recording`` column.
    modality : str
        ``"ecg"``, ``"eeg"`` or ``"emg"`` (the MNE channel type).
    subject : str
        Subject key used to group recordings in validation splits.
    source : str
        Key into :data:`SOURCES` (licence, citation, homepage).
    reader : str
        ``"wfdb"``, ``"edf"``, ``"biosppy_txt"`` or ``"uci_txt"``.
    files : tuple of DataFile
        The first file is the one the reader opens.
    channels : tuple of str
        Channel names to keep, as MNE names them after reading.
    sfreq : float
        Sampling rate of the file in Hz.
    units : str
        Units stored in the file.
    labels : dict
        Constant descriptors of the recording (condition, exercise, ...), handy as
        extra metadata for :func:`~mne_specae.make_segments`.
    """

    name: str
    modality: str
    subject: str
    source: str
    reader: str
    files: tuple[DataFile, ...]
    channels: tuple[str, ...]
    sfreq: float
    units: str
    labels: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def licence(self) -> str:
        """Licence of the source dataset."""
        return SOURCES[self.source].licence

    @property
    def citation(self) -> str:
        """How to cite the source dataset."""
        return SOURCES[self.source].citation

    @property
    def path(self) -> str:
        """Path of the file the reader opens, relative to the data folder."""
        return self.files[0].relpath


def _mitdb(record, lead2, sha_hea, sha_dat, sha_atr=None):
    base = _PHYSIONET_FILES.format(db="mitdb")
    files = [
        DataFile(f"ecg/mitdb/{record}.hea", base + f"{record}.hea", sha_hea),
        DataFile(f"ecg/mitdb/{record}.dat", base + f"{record}.dat", sha_dat),
    ]
    if sha_atr is not None:
        files.append(DataFile(f"ecg/mitdb/{record}.atr", base + f"{record}.atr", sha_atr))
    return Recording(
        name=f"ecg/mitdb/{record}",
        modality="ecg",
        subject=f"mitdb-{record}",
        source="mitdb",
        reader="wfdb",
        files=tuple(files),
        channels=("MLII", lead2),
        sfreq=360.0,
        units="mV",
    )


EEGMAT_CHANNELS = (
    "Fp1", "Fp2", "F3", "F4", "F7", "F8", "T3", "T4", "C3", "C4",
    "T5", "T6", "P3", "P4", "O1", "O2", "Fz", "Cz", "Pz",
)  # fmt: skip

# Files whose ECG channel holds no usable ECG: no ECG recording for them. Subject02_1
# shows no ECG at all; Subject13_1 (extended set) is nearly flat (1st-99th percentile
# -0.05 .. 0.05 mV, against 0.25 mV or more in every other file).
_EEGMAT_NO_ECG = ("Subject02_1", "Subject13_1")


def _eegmat_stems(subjects):
    """File stems of eegmat subjects: rest (``_1``) then task (``_2``) for each."""
    return [f"Subject{subject:02d}_{run}" for subject in subjects for run in (1, 2)]


def _eegmat(stem, modality):
    file = DataFile(
        f"eeg/eegmat/{stem}.edf",
        _PHYSIONET_FILES.format(db="eegmat") + f"{stem}.edf",
        _EEGMAT_SHA256[stem],
    )
    return Recording(
        name=f"{modality}/eegmat/{stem}",
        modality=modality,
        subject="eegmat-" + stem.split("_")[0],
        source="eegmat",
        reader="edf",
        files=(file,),
        channels=EEGMAT_CHANNELS if modality == "eeg" else ("ECG",),
        sfreq=500.0,
        units="uV" if modality == "eeg" else "mV",
        labels={"condition": "rest" if stem.endswith("_1") else "arithmetic"},
    )


def _biosppy(modality, stem, sha, sfreq, units, subject, labels=None):
    return Recording(
        name=f"{modality}/biosppy/{stem}",
        modality=modality,
        subject=subject,
        source="biosppy",
        reader="biosppy_txt",
        files=(DataFile(f"{modality}/biosppy/{stem}.txt", _BIOSPPY_RAW + f"{stem}.txt", sha),),
        channels=(modality.upper(),),
        sfreq=sfreq,
        units=units,
        labels=labels or {},
    )


UCI_CHANNELS = ("RF", "BF", "VM", "ST")
UCI_EXERCISES = {"mar": "gait", "pie": "standing", "sen": "sitting"}
_UCI_GROUPS = {"A": "knee abnormality", "N": "normal"}


def uci_file(fname):
    """DataFile of one text file of the UCI lower-limb EMG set (e.g. ``"3Amar.txt"``)."""
    group = fname[: -len(".txt")][-4]
    return DataFile(
        f"emg/uci_lower_limb/{fname}", _UCI_RAW + f"{group}_TXT/{fname}", _UCI_SHA256[fname]
    )


def uci_recording(fname):
    """Recording entry for one text file of the UCI lower-limb EMG set."""
    stem = fname[: -len(".txt")]
    subject, group, exercise = stem[:-4], stem[-4], stem[-3:]
    return Recording(
        name=f"emg/uci_lower_limb/{stem}",
        modality="emg",
        subject=f"uci-{subject}{group}",
        source="uci_lower_limb",
        reader="uci_txt",
        files=(uci_file(fname),),
        channels=UCI_CHANNELS,
        sfreq=1000.0,
        units="mV",
        labels={"exercise": UCI_EXERCISES[exercise], "group": _UCI_GROUPS[group]},
    )


_MITDB_SAMPLE = (
    _mitdb(
        "100", "V5",
        "db882392a66ccc4dee10104082cffa1a6f7fd9dd7d55c281c8345b3c7b9a2a6f",
        "b2ea3c250e56e48f4b7b90697832b8ecd1afa1e0bb31f2dcfea4ed6e1075a639",
        "8d8a5349fb16638ebbf649f1779d12e96d91b736b2aafe59db43719ae583d471",
    ),
    _mitdb(
        "106", "V1",
        "edda68c7de6d1101b23d4f71822dd5660f48db02e8184e048a617a2d60addfe0",
        "c017bc18b95b1f970bca143a044ee5d54168648b541e47aa656f2737a59c1202",
    ),
    _mitdb(
        "113", "V1",
        "6b5f87ceafafd52f7748fd514eac10a2ec314486ae83586c6e87845344bf4d8f",
        "f5509b71dabaaa11c53f687ee17aab0071bce3d471e2ab77c71a6434f5b7aacf",
    ),
    _mitdb(
        "121", "V1",
        "fa97bd556fc696b806c9cfc2bcea6dbe915be29fd6c29865418cc7399a95fe4b",
        "679f374a7b2557fed04a4bc5648301ce9bdd38e5a4f13b2e63ebbcf7cb3fb482",
    ),
)  # fmt: skip

_UCI_SAMPLE_SUBJECTS = ("3A", "4A", "5A", "8N", "9N", "10N")
_EEGMAT_SAMPLE = _eegmat_stems(range(4))

#: The bundled sample set: every recording :func:`~mne_specae.datasets.load_sample` reads.
SAMPLE_RECORDINGS: tuple[Recording, ...] = (
    *_MITDB_SAMPLE,
    _biosppy(
        "ecg", "ecg", "43803401285e67bee45c64979ba9c204417ea5a06b2d72c4c007bacf16b845be",
        1000.0, "ADC counts (12-bit)", "biosppy-ecg",
    ),
    *(_eegmat(stem, "ecg") for stem in _EEGMAT_SAMPLE if stem not in _EEGMAT_NO_ECG),
    *(_eegmat(stem, "eeg") for stem in _EEGMAT_SAMPLE),
    _biosppy(
        "eeg", "eeg_ec", "eb44c8ccd556cb4a6141d8dd3fea4fa34dfedb48d74004307a2deced3146e80e",
        125.0, "ADC counts (10-bit)", "biosppy-eeg", {"condition": "eyes closed"},
    ),
    _biosppy(
        "eeg", "eeg_eo", "e30e592530ecba1db1649e9bf140d7c5c0fa8b4814bf55262aef0596edd97b6b",
        125.0, "ADC counts (10-bit)", "biosppy-eeg", {"condition": "eyes open"},
    ),
    *(
        uci_recording(f"{subject}{exercise}.txt")
        for subject in _UCI_SAMPLE_SUBJECTS
        for exercise in UCI_EXERCISES
    ),
    _biosppy(
        "emg", "emg", "e9a278c359b2e636049634e2c3ba25d187db828755cc2eeb62a9e89c40235fb5",
        1000.0, "ADC counts (12-bit)", "biosppy-emg",
    ),
    _biosppy(
        "emg", "emg_1", "c3c41791523a0a8f32ee66e82a852a041e45d07d696c0f0e7313518cc23ab7a5",
        1000.0, "ADC counts (12-bit)", "biosppy-emg",
    ),
)  # fmt: skip

# The other subjects of both datasets (eegmat 20-35; UCI 6A, 11A, 7N) are kept out
# for independent evaluation: never add them here. In the public files, 1Npie/2Npie
# and 1Nsen/2Nsen hold the same samples (only the file name in the header differs):
# keep 1N and 2N on the same side of a split.
_UCI_EXTENDED_SUBJECTS = (
    "1A",
    "2A",
    "7A",
    "8A",
    "9A",
    "10A",
    "1N",
    "2N",
    "3N",
    "4N",
    "5N",
    "6N",
    "11N",
)
_EEGMAT_EXTENDED = _eegmat_stems(range(4, 20))

#: The extended set: more subjects of eegmat (Subject04-19) and of the UCI lower-limb
#: EMG, read with ``load_sample(extended=True)`` beside the sample set.
EXTENDED_RECORDINGS: tuple[Recording, ...] = (
    *(_eegmat(stem, "ecg") for stem in _EEGMAT_EXTENDED if stem not in _EEGMAT_NO_ECG),
    *(_eegmat(stem, "eeg") for stem in _EEGMAT_EXTENDED),
    *(
        uci_recording(f"{subject}{exercise}.txt")
        for subject in _UCI_EXTENDED_SUBJECTS
        for exercise in UCI_EXERCISES
    ),
)

#: Bits of the ADC behind each BioSPPy example (mid-scale is removed on reading).
BIOSPPY_ADC_BITS = {"ecg": 12, "eeg_ec": 10, "eeg_eo": 10, "emg": 12, "emg_1": 12}

#: Nominal scale applied to uncalibrated ADC counts (volts per count).
NOMINAL_VOLTS_PER_COUNT = 1e-6

MITDB_RECORDS = (
    "100 101 102 103 104 105 106 107 108 109 111 112 113 114 115 116 117 118 119 121 "
    "122 123 124 200 201 202 203 205 207 208 209 210 212 213 214 215 217 219 220 221 "
    "222 223 228 230 231 232 233 234"
).split()

EEGMAT_SUBJECTS = tuple(range(36))


def get_recording(name: str) -> Recording:
    """Return the registry entry of a sample or extended recording by its name.

    Parameters
    ----------
    name : str
        A recording name (``Recording.name``) such as ``"eeg/eegmat/Subject00_1"``;
        a Raw returned by :func:`~mne_specae.datasets.load_sample` holds it in
        ``raw.info["description"]``.

    Returns
    -------
    recording : Recording
        The entry, with licence, citation, labels and files.
    """
    for recording in (*SAMPLE_RECORDINGS, *EXTENDED_RECORDINGS):
        if recording.name == name:
            return recording
    known = ", ".join(r.name for r in SAMPLE_RECORDINGS[:3])
    raise KeyError(
        f"No sample or extended recording is called {name!r}. Names look like {known}, "
        "...; see mne_specae.datasets.SAMPLE_RECORDINGS and EXTENDED_RECORDINGS for all "
        "of them."
    )
