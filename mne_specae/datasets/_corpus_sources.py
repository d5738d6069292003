"""The public sources of the pretraining corpus, the reserved records, and which files of
each repository the corpus uses.

Each source is a public GitHub repository pinned at a commit; every file the corpus uses
is a row of ``corpus_files.tsv`` (package data) with its path there, its raw URL, its
sha256 and its licence. :data:`CORPUS_SOURCES` says what each source is;
:func:`select_paths` is the rule that chose the files (``scripts/build_corpus.py
--register`` applies it to a folder of git mirrors to rewrite the table), and
:func:`is_reserved` the rule that keeps the records reserved for independent evaluation
out, whatever a rule selects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class CorpusSource:
    """A public repository of recordings used by the pretraining corpus."""

    key: str
    name: str
    repo: str
    commit: str
    licence: str
    citation: str
    signals: str


_PHYSIONET = (
    "Goldberger AL et al. PhysioBank, PhysioToolkit, and PhysioNet. Circulation "
    "101(23):e215-e220 (2000)."
)

CORPUS_SOURCES = {
    s.key: s
    for s in (
        CorpusSource(
            "cinc2015",
            "PhysioNet/CinC Challenge 2015 training set (records a*, b*, f*, t* only)",
            "wenling-lin/ELEC422_PHYSIONET2015",
            "7c1f078388af899581838a2c8393758804179547",
            "ODC-By-1.0",
            "Clifford GD et al. The PhysioNet/Computing in Cardiology Challenge 2015: "
            "reducing false arrhythmia alarms in the ICU. Comput Cardiol 42:273-276 (2015). "
            + _PHYSIONET,
            "ICU ECG leads, PPG (PLETH), arterial pressure (ABP), respiration; 250 Hz",
        ),
        CorpusSource(
            "muse",
            "eeg-notebooks v0.1 (Muse headband recordings)",
            "NeuroTechX/eeg-notebooks_v0.1",
            "5ee39e4f91080937ead13c208a65089cbb13b7f6",
            "BSD-3-Clause",
            "NeuroTechX eeg-notebooks, https://github.com/NeuroTechX/eeg-notebooks_v0.1",
            "dry EEG TP9/AF7/AF8/TP10, an unconnected AUX input, stimulus markers; 256 Hz",
        ),
        CorpusSource(
            "myo",
            "Myo armband readings dataset",
            "aljazfrancic/myo-readings-dataset",
            "2630b1dd8b83b2fa386f06d536f64254ad541ac5",
            "MIT",
            "Francic A. myo-readings-dataset, https://github.com/aljazfrancic/myo-readings-dataset",
            "8 forearm surface EMG (int8), 200 Hz",
        ),
        CorpusSource(
            "uci_gestures",
            "UCI EMG data for gestures (Lobov et al. 2018), 63 of 72 files",
            "cechava/EMG_gestures",
            "38deb36a3fa82ded59612c52dc45ddf49b76f8e4",
            "CC-BY-4.0",
            "Lobov S, Krilova N, Kastalskiy I, Kazantsev V, Makarov VA. Latent factors "
            "limiting the performance of sEMG-interfaces. Sensors 18(4):1122 (2018).",
            "8 forearm surface EMG (Myo), 200 Hz (logged at 1 kHz with repeats)",
        ),
        CorpusSource(
            "mitdb_more",
            "MIT-BIH Arrhythmia Database, records 104, 108, 202, 231",
            "mengst/PQRST",
            "38325069fd9f6febadcfbc563e69e888a60c7c60",
            "ODC-By-1.0",
            "Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database. IEEE Eng "
            "Med Biol 20(3):45-50 (2001). " + _PHYSIONET,
            "2 ECG leads, 360 Hz",
        ),
        CorpusSource(
            "mne_testing",
            "MNE-Python test fixtures (mne-testing-data)",
            "mne-tools/mne-testing-data",
            "e31ecb0ab137b3d89c938d0985d42f1d2ffb2bad",
            "BSD-3-Clause",
            "The MNE-Python developers, mne-testing-data, "
            "https://github.com/mne-tools/mne-testing-data",
            "EEG with EOG, EMG, ECG, accelerometer and trigger/status channels; 125-1450 Hz",
        ),
        CorpusSource(
            "unibo_inail",
            "UniBo-INAIL sEMG dataset",
            "pulp-bio/unibo-inail-semg-dataset",
            "5a9d62e738f165ee0766ef61e2dc35b7d61518bf",
            "LGPL-2.1",
            "Zanghieri M, Orlandi M, Donati E, Gruppioni E, Benini L, Benatti S. Online "
            "unsupervised arm posture adaptation for sEMG-based gesture recognition on a "
            "parallel ultra-low-power microcontroller. IEEE BioCAS (2023).",
            "4 rectified, smoothed EMG envelopes (a processed signal), 500 Hz",
        ),
        CorpusSource(
            "biosppy",
            "BioSPPy example signals",
            "PIA-Group/BioSPPy",
            "77550221f77e024459840ece540b1e017ed99e57",
            "BSD-3-Clause",
            "Carreiras C et al. BioSPPy: Biosignal Processing in Python (2015-), "
            "https://github.com/PIA-Group/BioSPPy",
            "accelerometer, BCG, EDA, PCG, PPG, respiration; 100-1000 Hz",
        ),
        CorpusSource(
            "neurokit",
            "NeuroKit2 example recordings (EOG, ECG, EDA, PPG, respiration, photosensor)",
            "neuropsychology/NeuroKit",
            "277f614ee3984647d71ba31aadffea97766aeb0f",
            "MIT",
            "Makowski D, Pham T, Lau ZJ, Brammer JC, Lespinasse F, Pham H, Scholzel C, Chen "
            "SHA. NeuroKit2: A Python toolbox for neurophysiological signal processing. "
            "Behav Res Methods 53(4):1689-1696 (2021).",
            "vertical/horizontal EOG (volts), ECG, EDA, PPG, respiration belt and a "
            "stimulus photosensor of single-subject lab recordings; 100-200 Hz",
        ),
        CorpusSource(
            "bi2012",
            "Brain Invaders 2012 (bi2012), subject 1 training session, as Eegle.jl's example",
            "Marco-Congedo/Eegle.jl",
            "b7a6e5a7ce6f586d534c93e502d04b0a26c0d82b",
            "CC-BY-4.0",
            "Van Veen GFP, Barachant A, Andreev A, Cattan G, Rodrigues PLC, Congedo M. "
            "Building Brain Invaders: EEG data of an experimental validation. "
            "hal-02126068 (2019); data: doi:10.5281/zenodo.2649006.",
            "16 wet EEG channels (NeXus-32, hardware common average), P300 trigger; 128 Hz",
        ),
        CorpusSource(
            "uci_eye_state",
            "UCI EEG Eye State (Roesler 2013), one Emotiv EPOC recording",
            "rogerior/ixio",
            "5529dc301c83dd152ba981c3da6239a42e6b1855",
            "CC-BY-4.0",
            "Roesler O. EEG Eye State. UCI Machine Learning Repository (2013), "
            "https://archive.ics.uci.edu/ml/datasets/EEG+Eye+State",
            "14 saline EEG channels of an Emotiv EPOC headset (eyes open/closed); 128 Hz",
        ),
        CorpusSource(
            "wfdb_samples",
            "wfdb-python sample records 03700181 and mixedsignals",
            "MIT-LCP/wfdb-python",
            "6850ad1aa0c1fcb2282b3625f767de98396cf740",
            "MIT",
            "Xie C, McCullum L, Johnson A, Pollard T, Gow B, Moody B. Waveform Database "
            "Software Package (WFDB) for Python (2023). " + _PHYSIONET,
            "ECG, arterial pressure, PPG, respiration at several rates (62.5-500 Hz)",
        ),
        CorpusSource(
            "noneeg",
            "PhysioNet Non-EEG Dataset for Assessment of Neurological Status (wrist "
            "accelerometer, temperature and EDA of 20 subjects), as mirrored unchanged "
            "(PhysioNet's SHA256SUMS.txt) in rd-pong/Neurological-Status-Detection",
            "rd-pong/Neurological-Status-Detection",
            "47c9a7c3dcffda57b361d249209eabae7392fec2",
            "ODC-By-1.0",
            "Birjandtalab J, Cogan D, Pouyan MB, Nourani M. A non-EEG biosignals dataset "
            "for assessment and visualization of neurological status. IEEE SiPS, 110-114 "
            "(2016), doi:10.1109/SiPS.2016.27. " + _PHYSIONET,
            "wrist accelerometer (3 axes), skin temperature and EDA (Affectiva Q); 8 Hz",
        ),
        CorpusSource(
            "flirt_e4",
            "FLIRT's test recording of an Empatica E4 wristband (one wearer, 2019)",
            "im-ethz/flirt",
            "d9bdcc56107edaa3457db5428b32fbe2080778d0",
            "MIT",
            "Foll S, Maritsch M, Spinola F, Mishra V, Barata F, Kowatsch T, Fleisch E, "
            "Wortmann F. FLIRT: A feature generation toolkit for wearable data. Comput "
            "Methods Programs Biomed 212:106461 (2021).",
            "EDA 4 Hz, skin temperature 4 Hz, accelerometer 32 Hz, PPG (BVP) 64 Hz",
        ),
    )
}

#: Records reserved for independent evaluation (shared/data/corpus/README.md): never
#: fetched, read, trained, tuned or evaluated on. Stems (file names without extension),
#: and patterns on the whole repository path.
RESERVED_STEMS = frozenset({"a103l", "v102s", "223", "232", "s0010_re"})
RESERVED_PATTERNS = (
    re.compile(r"(^|/)v\d{3}[sl](\.|$)"),  # CinC 2015 records starting with v
    re.compile(r"(^|/)S\d{3}R\d{2}"),  # PhysioNet eegmmidb runs
    re.compile(r"eegmmidb|emgdb|emg_(healthy|myopathy|neuropathy)", re.I),
    re.compile(r"biosignalsnotebooks|stress.?predict|yasa|(^|[/_-])in[-_]?ear", re.I),
    # mne-testing-data's EDF/test_edf_overlapping_annotations.edf is an eegmmidb run
    # (64 channels named "Fc5." ...): reserved like every eegmmidb run
    re.compile(r"test_edf_overlapping_annotations"),
)


def is_reserved(path):
    """Whether a file (a repository path or a corpus path) is a reserved record."""
    path = str(path).replace("\\", "/")
    stem = PurePosixPath(path).name.split(".")[0]
    return stem in RESERVED_STEMS or any(p.search(path) for p in RESERVED_PATTERNS)


_CINC_ROOT = "Documents/UBC/2018/ELEC422/entry/"
_CINC = re.compile(re.escape(_CINC_ROOT) + r"([abft]\d{3}[sl])\.(hea|mat)$")
_MUSE = re.compile(r"data/(.+/(subject\d+)/[^/]+/[^/]+\.csv)$")
_MYO = re.compile(r"_readings_(left|right)_hand/((\d{5})-\d+)/(\d+)\.txt$")
_UCI = re.compile(r"EMG_data/(\d{2})/(\d+_raw_data_[^/]+\.txt)$")
_MITDB = re.compile(r"(104|108|202|231)\.(hea|dat)$")
_UNIBO = re.compile(r"data/(user_(\d+)_day_\d+_posture_\d+)\.mat$")
_BIOSPPY = re.compile(r"examples/(acc|bcg|eda|pcg|ppg|resp)\.txt$")
#: NeuroKit2's example recordings (``nk.data``), CSV at the rate in their name. Left out:
#: ``eeg.txt`` (4097 integer samples of undocumented origin, the layout of the Bonn
#: epilepsy EEG segments, whose licence is not NeuroKit's to give), the ECG-only files
#: (ECG is plentiful; origin undocumented), and every ``.pickle`` (never unpickled: a
#: data file must not run code when opened).
_NEUROKIT = re.compile(
    r"data/((eog_100hz|eog_200hz|bio_eventrelated_100hz|bio_resting_5min_100hz"
    r"|bio_resting_8min_100hz)\.csv)$"
)
#: Eegle.jl's P300 example (NY format: ``.npz`` data + ``.yml`` header), the first
#: training session of Brain Invaders 2012 (bi2012). Its motor-imagery example (Alex MI)
#: is not in the snapshot (4 MiB or more).
_BI2012 = re.compile(r"data_examples/P300/((subject_01_session_01)\.(npz|yml))$")
#: The UCI EEG Eye State ARFF, copied unchanged (14980 rows) into rogerior/ixio.
_EYE_STATE = "EEG Eye State.arff"
#: The Non-EEG dataset's accelerometer/temperature/EDA records (its SpO2 and heart
#: rate records are 1 Hz: below any rate the package judges).
_NONEEG = re.compile(r"nonEEGdataset/((Subject\d+)_AccTempEDA)\.(hea|dat)$")
#: The E4's raw signals (its HR and IBI files are derived from the BVP).
_FLIRT_E4 = re.compile(r"test/wearable-data/empatica/(EDA|TEMP|ACC|BVP)\.csv$")
_WFDB = re.compile(r"sample-data/((03700181)\.(hea|dat)|(mixedsignals)(\.hea|_[epr]\.dat))$")

#: mne-testing-data files used (primary file first; companions follow), each with its
#: recording name. Chosen after scanning every raw file of the repository (see
#: doc/data.rst): recordings of at least 5 s with channels whose type is known.
MNE_TESTING_FILES = {
    "BDF/multiple_annotation_chans.bdf": "multiple_annotation_chans",
    "BDF/test_bdf_stim_channel.bdf": "test_bdf_stim_channel",
    "EDF/test_reduced.edf": "test_reduced",
    "EEGLAB/test_raw.set": "test_raw",
    "EEGLAB/test_raw.fdt": "test_raw",
    "eximia/test_eximia.nxe": "test_eximia",
    "antio/CA_208/test_CA_208_amp_disconnection.vhdr": "test_CA_208_amp_disconnection",
    "antio/CA_208/test_CA_208_amp_disconnection.eeg": "test_CA_208_amp_disconnection",
    "antio/CA_208/test_CA_208_amp_disconnection.vmrk": "test_CA_208_amp_disconnection",
    "antio/CA_208/test_CA_208_start_stop.vhdr": "test_CA_208_start_stop",
    "antio/CA_208/test_CA_208_start_stop.eeg": "test_CA_208_start_stop",
    "antio/CA_208/test_CA_208_start_stop.vmrk": "test_CA_208_start_stop",
    "antio/NA_271_bips/test-na-271.vhdr": "test-na-271",
    "antio/NA_271_bips/test-na-271.eeg": "test-na-271",
    "antio/NA_271_bips/test-na-271.vmrk": "test-na-271",
}

_FORMATS = {
    ".bdf": "bdf",
    ".edf": "edf",
    ".set": "eeglab",
    ".fdt": "companion",
    ".nxe": "eximia",
    ".vhdr": "brainvision",
    ".eeg": "companion",
    ".vmrk": "companion",
}


def select_paths(source, paths):
    """The files of ``source`` the corpus uses, from a repository's file list.

    Parameters
    ----------
    source : str
        A key of :data:`CORPUS_SOURCES`.
    paths : iterable of str
        Paths in the repository at its pinned commit.

    Returns
    -------
    rows : list of dict
        ``path``, ``relpath`` (in the corpus folder), ``subject`` and ``format`` (the
        reader of a primary file, ``"companion"`` for files read through another), in
        path order; reserved records are never returned.
    """
    rows = []
    for path in sorted(paths):
        row = _select(source, path)
        if row is not None and not is_reserved(path) and not is_reserved(row["relpath"]):
            rows.append(dict(path=path, **row))
    return rows


def _select(source, path):
    if source == "cinc2015" and (m := _CINC.search(path)):
        fmt = "wfdb_mat" if m.group(2) == "hea" else "companion"
        return dict(relpath=f"cinc2015/{m.group(1)}.{m.group(2)}", subject=m.group(1), format=fmt)
    if source == "muse" and (m := _MUSE.match(path)):
        return dict(relpath=f"muse/{m.group(1)}", subject=m.group(2), format="muse_csv")
    if source == "myo" and (m := _MYO.match(path)):
        hand, session, subject, gesture = m.groups()
        relpath = f"myo/{hand}_hand/{session}/{gesture}.txt"
        return dict(relpath=relpath, subject=subject, format="myo_txt")
    if source == "uci_gestures" and (m := _UCI.match(path)):
        relpath = f"uci_gestures/{m.group(1)}/{m.group(2)}"
        return dict(relpath=relpath, subject=m.group(1), format="uci_gestures_txt")
    if source == "mitdb_more" and (m := _MITDB.fullmatch(path)):
        fmt = "wfdb" if m.group(2) == "hea" else "companion"
        return dict(relpath=f"mitdb_more/{path}", subject=m.group(1), format=fmt)
    if source == "unibo_inail" and (m := _UNIBO.match(path)):
        relpath = f"unibo_inail/{m.group(1)}.mat"
        return dict(relpath=relpath, subject=f"user_{m.group(2)}", format="unibo_mat")
    if source == "biosppy" and (m := _BIOSPPY.match(path)):
        return dict(relpath=f"biosppy/{m.group(1)}.txt", subject=m.group(1), format="biosppy_txt")
    if source == "neurokit" and (m := _NEUROKIT.fullmatch(path)):
        return dict(relpath=f"neurokit/{m.group(1)}", subject=m.group(2), format="neurokit_csv")
    if source == "bi2012" and (m := _BI2012.fullmatch(path)):
        fmt = "ny_npz" if m.group(3) == "npz" else "companion"
        return dict(relpath=f"bi2012/{m.group(1)}", subject=m.group(2), format=fmt)
    if source == "uci_eye_state" and path == _EYE_STATE:
        relpath = "uci_eye_state/eeg_eye_state.arff"
        return dict(relpath=relpath, subject="eye_state", format="eye_state_arff")
    if source == "wfdb_samples" and (m := _WFDB.match(path)):
        name = PurePosixPath(path).name
        record = m.group(2) or m.group(4)
        fmt = "wfdb_multirate" if name.endswith(".hea") else "companion"
        return dict(relpath=f"wfdb_samples/{name}", subject=record, format=fmt)
    if source == "noneeg" and (m := _NONEEG.fullmatch(path)):
        fmt = "wfdb_multirate" if m.group(3) == "hea" else "companion"
        return dict(relpath=f"noneeg/{m.group(1)}.{m.group(3)}", subject=m.group(2), format=fmt)
    if source == "flirt_e4" and (m := _FLIRT_E4.fullmatch(path)):
        return dict(relpath=f"flirt_e4/{m.group(1)}.csv", subject="e4", format="e4_csv")
    if source == "mne_testing" and path in MNE_TESTING_FILES:
        fmt = _FORMATS[PurePosixPath(path).suffix.lower()]
        return dict(relpath=f"mne_testing/{path}", subject=MNE_TESTING_FILES[path], format=fmt)
    return None
