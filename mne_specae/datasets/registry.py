"""What the package knows about the public recordings it reads.

One :class:`Recording` per recording of the bundled sample set, each with the files
it needs (path inside the data folder, public download URL, SHA-256 checksum), its
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

PHYSIONET_CITATION = (
    "Goldberger AL, Amaral LAN, Glass L, Hausdorff JM, Ivanov PCh, Mark RG, Mietus JE, "
    "Moody GB, Peng C-K, Stanley HE. PhysioBank, PhysioToolkit, and PhysioNet: components "
    "of a new research resource for complex physiologic signals. Circulation "
    "101(23):e215-e220 (2000)."
)


@dataclass(frozen=True)
class Source:
    """A public dataset: where it lives, its licence and how to cite it."""

    key: str
    name: str
    licence: str
    citation: str
    homepage: str


SOURCES = {
    "mitdb": Source(
        "mitdb",
        "MIT-BIH Arrhythmia Database v1.0.0 (PhysioNet)",
        "ODC-By 1.0",
        "Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database. IEEE Eng Med "
        "Biol 20(3):45-50 (2001). " + PHYSIONET_CITATION,
        "https://physionet.org/content/mitdb/1.0.0/",
    ),
    "eegmat": Source(
        "eegmat",
        "EEG During Mental Arithmetic Tasks v1.0.0 (PhysioNet)",
        "ODC-By 1.0",
        "Zyma I, Tukaev S, Seleznov I, Kiyono K, Popov A, Chernykh M, Shpenkov O. "
        "Electroencephalograms during Mental Arithmetic Task Performance. Data 4(1):14 "
        "(2019). " + PHYSIONET_CITATION,
        "https://physionet.org/content/eegmat/1.0.0/",
    ),
    "uci_lower_limb": Source(
        "uci_lower_limb",
        "EMG dataset in Lower Limb (UCI Machine Learning Repository)",
        "CC BY 4.0",
        "Sanchez O, Sotelo J, Gonzales M, Hernandez G. EMG dataset in Lower Limb "
        "[Dataset]. UCI Machine Learning Repository (2014). "
        "https://doi.org/10.24432/C5ZW3P",
        "https://archive.ics.uci.edu/dataset/278/emg+dataset+in+lower+limb",
    ),
    "biosppy": Source(
        "biosppy",
        "BioSPPy example signals",
        "BSD-3-Clause (Copyright (c) Instituto de Telecomunicacoes)",
        "Carreiras C, Alves AP, Lourenco A, Canento F, Silva H, Fred A, et al. BioSPPy: "
        "Biosignal Processing in Python (2015-), https://github.com/scientisst/BioSPPy",
        "https://github.com/scientisst/BioSPPy",
    ),
    "eegbci": Source(
        "eegbci",
        "EEG Motor Movement/Imagery Database v1.0.0 (PhysioNet eegmmidb)",
        "ODC-By 1.0",
        "Schalk G, McFarland DJ, Hinterberger T, Birbaumer N, Wolpaw JR. BCI2000: A "
        "General-Purpose Brain-Computer Interface (BCI) System. IEEE TBME 51(6):1034-1043 "
        "(2004). " + PHYSIONET_CITATION,
        "https://physionet.org/content/eegmmidb/1.0.0/",
    ),
    "emgdb": Source(
        "emgdb",
        "Examples of Electromyograms v1.0.0 (PhysioNet emgdb)",
        "ODC-By 1.0",
        "Examples of Electromyograms, PhysioNet (2009), "
        "https://doi.org/10.13026/C24S3D. " + PHYSIONET_CITATION,
        "https://physionet.org/content/emgdb/1.0.0/",
    ),
}

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

_EEGMAT_SHA256 = {
    "Subject00_1": "ac46d8c9905d6750c8f07235f2e0d96771882cad8af06a8e32d88cfd16c376ed",
    "Subject00_2": "19476db6d5f2bcd40e417a7e1f2f9b276af05cf2c93a52a2be4d7524b4e9885c",
    "Subject01_1": "e8c8bd03146127f6084e36282b20bf9236cd5e5459e8a9129b05963bdbbb461a",
    "Subject01_2": "da7ad48824d5c92a5a12b90495f4ceca98dbc91fca1d3e85f009dbc640b32ca7",
    "Subject02_1": "02da547be13c67b310a020d48be83be6a1faad72b26519e8084038aea1aa30f8",
    "Subject02_2": "2ff3c97cbc6be7c4b3e43df85f42621d2837bd860463747557a6c3a558d802ee",
    "Subject03_1": "8f22c7eb40e2d2b2f61dadd874172f395fed9ca83c843e9d92b492ec2b3d4f41",
    "Subject03_2": "d4792fe50ad51d7ad607caeaf3c24f2d19087cb96311c4c2cbdfdd6418f56cf0",
}
# Subject02_1 holds no visible ECG in its ECG channel: no ECG recording for it.
_EEGMAT_NO_ECG = ("Subject02_1",)


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

_UCI_SHA256 = {
    "10Amar.txt": "e85626d6e15bb3da33da4101595f3a9aec4ccf5e9de2cdf4b90794dcd07c615c",
    "10Apie.txt": "3bae57beede6ac75f82d90f9e3a008f2341fb95ac2d32a1c2625ad73624e48d7",
    "10Asen.txt": "2a93035577ad7ddca57ab97e8e129f33ffc81f9cf873c8aaa29bb98cb6201ed4",
    "11Amar.txt": "47c82994f2e75a6cc7cee0ecacfed3b1571bbc561eae67128185e29ce08e3b05",
    "11Apie.txt": "16402e90eb2534eecf7d8f7c49fbc986d8666915a3252ced78423b5405218359",
    "11Asen.txt": "86a2cc90dc32d233470c58fa3ce67753e9c3f714d3b9c232654dca44f89357ba",
    "1Amar.txt": "f11bafbaa6316a6e3121e78cd50138cf590461cbce2fe6663aa208dd7cbe0d73",
    "1Apie.txt": "31ce03dbe588065d73d0352122618e4957ef7d55c7d1ae955a319291cf398c08",
    "1Asen.txt": "70a91cbac1d2435f4d7d537c09dd413100ed8832abcb59863e653f4275823c6c",
    "2Amar.txt": "43385a14533968e3fb71b521271b76ae9fccae29c64d03949e8d8d179b71d3eb",
    "2Apie.txt": "39925c8dfe46a148122c68d837f9e0b1823366d76dffab3e29a318a18f02d4b4",
    "2Asen.txt": "68e5a0cb6a567790d91bd0c16de6369b18f92068f5ab611d0530429bdcf7b15b",
    "3Amar.txt": "4e7cb5d27ebc6bccc0599eb7cebd29f98074b59920c03188220dd343bc51f0c0",
    "3Apie.txt": "2f269f0d05ef274e04e1f59e9a4588e2d733dcf7721595cf498f70c3fc90012e",
    "3Asen.txt": "ab77b8914b2551a4f7ed4e4620ea8c4990a3ba8a92b12e511f7d0a5b60012223",
    "4Amar.txt": "19662ccfda2e698c9c05c32a5833be899a2cf308d4e583a5e9682d0f28f1a0c3",
    "4Apie.txt": "63e20bd08ab7ee3222384036bcb26a1818663f39b52d68bd7cc185174d5be173",
    "4Asen.txt": "a64340096b6d16f111298102d2cb194ec7ff290e181d005f3f751f6a90a447ea",
    "5Amar.txt": "fd4146dda1e7dce1b4f7d172419994deef5a8c4c98276e2d728ea345e1d6aff0",
    "5Apie.txt": "7f178c00ccfb09df3f618380b8cf731c855b68c71ea90ef74f6faa1ebb80d06b",
    "5Asen.txt": "a0fca7b9f5b1a0d26bf64f3c4bb6b49055f692b0cd5ed95dd49c40cb2cf12755",
    "6Amar.txt": "667e64d8571b35464e8cd5eda57d74cfd05027badb50181f8b4392f86c672b5f",
    "6Apie.txt": "cda4244fc28dd27ae39b4bd6f55f48f59342c037bfae4fc29d58988e1d88a056",
    "6Asen.txt": "4c2abfa089ce2f3ac9fece03db95c58365eafba18905c2e8c349889b2528b26c",
    "7Amar.txt": "ebb26fff0b15faab4849e43179aaec9aecb417e95111280eb43909d61ba69674",
    "7Apie.txt": "b0fb93ec3749be6ea82264198e755eaac3aa574f511d6ff1e810e7e3f00cee64",
    "7Asen.txt": "f349a28610dbb1e8a849828dc32927ecfbd79356c657fffa9ede6a2358b5059a",
    "8Amar.txt": "f3ad4e6e1fb1b147fb660e57cb320a2095f4fdf455d050b6d3e41ec1d638a8a6",
    "8Apie.txt": "ce85f1a70bbec481fd6e4ea1903c9f36d623a84094e68de19395a5589b4fc6ce",
    "8Asen.txt": "f720d33241c9edb28c0d5eb06c601aa0654355f054a201299f74b83298f2a1bb",
    "9Amar.txt": "a0b8688df52050ca6d9b4d2fb16c010cf3957f417fb275efa5033669a6c97306",
    "9Apie.txt": "897b43e3fb409c4990ae11adb1eb0010920c65daa70f6975c87d89fc344652c6",
    "9Asen.txt": "ca4ec78f7fb8dfd9e68407de272c978205ddfd95539db91355d329ecb6157990",
    "10Nmar.txt": "4bfc2a35547d1ad78c99e5d29482bb22f0a92421b34e5b9086018caa628f7dd2",
    "10Npie.txt": "90c8281bdeec42e418be8af87dfb13eeb8733d0fc1a10ee9148bf40615e969f7",
    "10Nsen.txt": "cd8d4d18c44fcb750403365a6ec1f476148020493ba15f389c40aedc866f0f50",
    "11Nmar.txt": "223b35e0986f37d2cecae4acbafb5b2ffe56de8d2b5a2024f372eb7cec6a3cef",
    "11Npie.txt": "ac3e03043981a67f4bbfeaf171874184a3a78e2dda271db1e7f5450a8b901090",
    "11Nsen.txt": "0dd7fd63dae49c300012f5155187ae2947ac9664899f6db0f126ec8ffc0921c1",
    "1Nmar.txt": "36aff6a6048455ebab4aa8c98f5d9149b82402188c0d4e02ff0c041c5228f926",
    "1Npie.txt": "7a1809a5c574fbfdfdbae21681c79156a43eab099e290350cd10d9d415c0a60d",
    "1Nsen.txt": "b0adfeba21e3500f057b96add58d21f16ccdca63a428f26a1b7c770c5c6ba0a3",
    "2Nmar.txt": "902ff77dbb5f52e17449de801cb7846d50bd8b1c80f9b1cfcd91d0c6c5694a84",
    "2Npie.txt": "292833515e21e2514ae26082e7855498e0b29c6dc8c7b73c64fcbdb3d3f9a6ed",
    "2Nsen.txt": "b7cb098bfb6a022c883ebead482cd6e8dbd85759e04446f2e2dafeb3cbafa106",
    "3Nmar.txt": "3d63769dcb5e943436791a526d5bb5e07f1a9a66448562185fd18cffe17ae318",
    "3Npie.txt": "b47abc2949b960d1c8085a729b5b0f401c66665134cf5c6c87b6e40eabc9f1e7",
    "3Nsen.txt": "f219031ffda5f97f334870ae48af4830f8b0e14e69335147a92fdacc482def56",
    "4Nmar.txt": "a362b081bb45eb4b188a98ab74ee9467f862fdab6b859778f6694fdcb644bf98",
    "4Npie.txt": "d079539c7c5251da2ad46026a999f0d78dba4ce1aa773f92520cb0af562e0747",
    "4Nsen.txt": "9e71ff2dc747742e4b02b0eee38b605a1fae231fe68b8b4643e4c9a63965bbeb",
    "5Nmar.txt": "e8c5bbd6e5159fc36278c3bd96293a5403125d7aa3e5b4e0b884d933157c7c0e",
    "5Npie.txt": "77708977a4735ec51b5b48d685ee5db58c282655409a27de0623edce54c30be3",
    "5Nsen.txt": "00e7b90bb6385c83b94b7424c8a4c43c23eafcc6480c3f91f465f72db02488d6",
    "6Nmar.txt": "60777a94d436f3631c48b358f9aa0e2c154c3e16a914e21c657e4421422e84fb",
    "6Npie.txt": "bf2723eae510e881e1487e3fad2a02a78013fc10760afe3808d49a60ffec48e3",
    "6Nsen.txt": "d61d24691ec1b75532de3362843f65abc258c2a1f3056c085f0d5abda7405e38",
    "7Nmar.txt": "ca9aba7d281a438341a56ac190e92c75cb042ed5dad134fb08118011108ffb5d",
    "7Npie.txt": "45a916df8f9659270e5c002988424978e8e949e28eaf1e78109d61e533a22b11",
    "7Nsen.txt": "d7f86148df1ff44fed251c1c1abfba8fc474fe59e2858f182f9f46e541e6964c",
    "8Nmar.txt": "7110f1f1a8d7c2e0d9681f48001167f51bf76e0ff4bf7633eff9dd4c11dec81a",
    "8Npie.txt": "f3dec1d3da0022657a29a08f617e02007388348751aad1fae144fa5bf2e7b875",
    "8Nsen.txt": "d8b13a7bb255e574ce812ee931a86ff68da38f8a2b487a2a6f95e3b7a5da6550",
    "9Nmar.txt": "196f7523241d108fb37c8ee98382feb61757978c1c16daf56278d5862fce67b1",
    "9Npie.txt": "c1e083d3de730906acb64c12a0252eef5b9d115dd9ef93aedb1d37ae72c5bd84",
    "9Nsen.txt": "f0d82a18a2d995702fa8b4155b18597d829c5fada07672958abdf4114dd841ed",
}


def uci_file(fname):
    """DataFile of one text file of the UCI lower-limb EMG set (e.g. ``"3Amar.txt"``)."""
    group = fname[: -len(".txt")][-4]
    return DataFile(
        f"emg/uci_lower_limb/{fname}",
        _UCI_RAW + f"{group}_TXT/{fname}",
        _UCI_SHA256[fname],
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

#: The bundled sample set: every recording :func:`~mne_specae.datasets.load_sample` reads.
SAMPLE_RECORDINGS: tuple[Recording, ...] = (
    *_MITDB_SAMPLE,
    _biosppy(
        "ecg", "ecg", "43803401285e67bee45c64979ba9c204417ea5a06b2d72c4c007bacf16b845be",
        1000.0, "ADC counts (12-bit)", "biosppy-ecg",
    ),
    *(_eegmat(stem, "ecg") for stem in _EEGMAT_SHA256 if stem not in _EEGMAT_NO_ECG),
    *(_eegmat(stem, "eeg") for stem in _EEGMAT_SHA256),
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
    """Return the registry entry of a sample recording by its name.

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
    for recording in SAMPLE_RECORDINGS:
        if recording.name == name:
            return recording
    known = ", ".join(r.name for r in SAMPLE_RECORDINGS[:3])
    raise KeyError(
        f"No sample recording is called {name!r}. Names look like {known}, ...; "
        "see mne_specae.datasets.SAMPLE_RECORDINGS for all of them."
    )
