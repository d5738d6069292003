"""Public recordings: the bundled sample and extended sets, full-data fetchers, readers.

The recordings are copies of public datasets and are never shipped with the
package. They are read from a data folder (:func:`get_data_path`) and downloaded,
checksums checked, from their public URLs when missing there.
"""

from .corpus import (
    build_corpus,
    corpus_channel_kinds,
    corpus_files,
    corpus_summary,
    get_corpus_path,
    read_corpus,
)
from .download import get_data_path
from .fetchers import (
    fetch_eegbci,
    fetch_eegmat,
    fetch_mitdb,
    fetch_physionet_emg,
    fetch_uci_lower_limb_emg,
)
from .readers import (
    read_biosppy_txt,
    read_edf,
    read_raw,
    read_uci_emg,
    read_wfdb,
    read_wfdb_annotations,
)
from .registry import (
    EXTENDED_RECORDINGS,
    SAMPLE_RECORDINGS,
    SOURCES,
    DataFile,
    Recording,
    Source,
    get_recording,
)
from .sample import citations, load_sample, load_sample_epochs

__all__ = [
    "EXTENDED_RECORDINGS",
    "SAMPLE_RECORDINGS",
    "SOURCES",
    "DataFile",
    "Recording",
    "Source",
    "build_corpus",
    "citations",
    "corpus_channel_kinds",
    "corpus_files",
    "corpus_summary",
    "fetch_eegbci",
    "fetch_eegmat",
    "fetch_mitdb",
    "fetch_physionet_emg",
    "fetch_uci_lower_limb_emg",
    "get_corpus_path",
    "get_data_path",
    "get_recording",
    "load_sample",
    "load_sample_epochs",
    "read_biosppy_txt",
    "read_corpus",
    "read_edf",
    "read_raw",
    "read_uci_emg",
    "read_wfdb",
    "read_wfdb_annotations",
]
