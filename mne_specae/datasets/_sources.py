"""The public datasets the recordings come from: their names, licences, citations, homepages."""

from __future__ import annotations

from dataclasses import dataclass

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
