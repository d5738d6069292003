"""Sphinx configuration of the mne-specae documentation.

Build with ``make doc`` (HTML in ``doc/_build/html``). The gallery in
``examples/`` is executed on every build, on the real sample recordings of the data
folder (``MNE_SPECAE_DATA``); a failing example fails the build.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from datetime import date
from pathlib import Path

# OpenMP threads that wait passively: with torch's default (spinning) wait policy,
# training on 2 threads slowed down six-fold whenever another process used one of
# the 2 cores (measured, see performance.rst). Set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MPLBACKEND", "Agg")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
if "MNE_SPECAE_DATA" not in os.environ:
    for folder in (ROOT.parent / "shared" / "data" / "biosignals",):
        if (folder / "MANIFEST.tsv").is_file():
            os.environ["MNE_SPECAE_DATA"] = str(folder)

from sphinx.util import logging as sphinx_logging  # noqa: E402

import mne_specae  # noqa: E402

logger = sphinx_logging.getLogger("mne_specae.doc")

# -- Project -------------------------------------------------------------------------
project = "mne-specae"
author = "mne-specae developers"
copyright = f"{date.today().year}, {author}"
release = mne_specae.__version__
version = release

# -- General -------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
]
templates_path = ["_templates"]
default_role = "py:obj"
pygments_style = "sphinx"

# -- autodoc / autosummary / numpydoc --------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_ignore = "all"  # link only the aliases below, not every word of a type
numpydoc_xref_aliases = {
    "Raw": "mne.io.Raw",
    "Epochs": "mne.Epochs",
    "mne.Epochs": "mne.Epochs",
    "mne.io.Raw": "mne.io.Raw",
    "mne.Annotations": "mne.Annotations",
    "EpochsTFRArray": "mne.time_frequency.EpochsTFRArray",
    "RawTFRArray": "mne.time_frequency.RawTFRArray",
    "SpecAE": "mne_specae.SpecAE",
    "Spectrogram": "mne_specae.Spectrogram",
    "History": "mne_specae.training.History",
    "WaveformInput": "mne_specae.nn.WaveformInput",
    "InputStage": "mne_specae.nn.InputStage",
    "Recording": "mne_specae.datasets.Recording",
    "Source": "mne_specae.datasets.Source",
    "DataFile": "mne_specae.datasets.DataFile",
    "ndarray": "numpy.ndarray",
    "numpy.ndarray": "numpy.ndarray",
    "DataFrame": "pandas.DataFrame",
    "pandas.DataFrame": "pandas.DataFrame",
    "torch.Tensor": "torch.Tensor",
    "torch.nn.Module": "torch.nn.Module",
    "torch.device": "torch.device",
    "matplotlib.figure.Figure": "matplotlib.figure.Figure",
    "matplotlib.axes.Axes": "matplotlib.axes.Axes",
    "pathlib.Path": "pathlib.Path",
    "umap.UMAP": "umap.UMAP",
}

# -- intersphinx: links to MNE, NumPy, SciPy, matplotlib, scikit-learn, PyTorch -------
INTERSPHINX = {
    "python": "https://docs.python.org/3",
    "mne": "https://mne.tools/stable",
    "numpy": "https://numpy.org/doc/stable",
    "scipy": "https://docs.scipy.org/doc/scipy",
    "matplotlib": "https://matplotlib.org/stable",
    "sklearn": "https://scikit-learn.org/stable",
    "torch": "https://docs.pytorch.org/docs/stable",
    "pandas": "https://pandas.pydata.org/docs",
}
intersphinx_timeout = 5


def _online(host="mne.tools", port=443, timeout=3.0):
    """Whether the inventories' servers can be reached (one quick connection)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


_mode = os.environ.get("MNE_SPECAE_DOC_INTERSPHINX", "auto").lower()
if _mode in ("0", "off", "no", "false"):
    _use_intersphinx, _why = False, "MNE_SPECAE_DOC_INTERSPHINX=0"
elif _mode in ("1", "on", "yes", "true"):
    _use_intersphinx, _why = True, ""
else:
    _use_intersphinx = _online()
    _why = "the inventories cannot be fetched (offline build)"
intersphinx_mapping = {k: (v, None) for k, v in INTERSPHINX.items()} if _use_intersphinx else {}
# Parameter types link into the other projects' docs only when their inventories are
# there (offline, numpydoc's "python:int" targets would show as such).
numpydoc_xref_param_type = _use_intersphinx
if not _use_intersphinx:
    print(
        f"[mne-specae doc] intersphinx disabled: {_why}. Names of MNE, NumPy, SciPy, "
        "matplotlib, scikit-learn and PyTorch render as plain text; they link when the "
        "documentation is built online."
    )

# -- sphinx-gallery --------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": [str(ROOT / "examples")],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,  # a broken example fails the build
    "only_warn_on_example_error": False,
    "plot_gallery": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("mne_specae",),
    "capture_repr": ("_repr_html_",),  # tables and MNE objects; no stray <Figure ...> lines
    "show_memory": False,
    "min_reported_time": 0,
    "write_computation_times": True,
    "thumbnail_size": (320, 240),
}

# -- HTML ------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"mne-specae {release}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "secondary_sidebar_items": ["page-toc"],
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "icon_links": [],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}

# Warnings that would fail the build with -W but are not ours to fix.
suppress_warnings = ["config.cache"]


# -- Pages generated at build time -----------------------------------------------------
def _rst_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = "  ".join("=" * w for w in widths)
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line, fmt.format(*header), line]
    out += [fmt.format(*row) for row in rows]
    out.append(line)
    return "\n".join(out)


def write_data_sources(app):
    """Write doc/generated/data_sources.inc and sample_recordings.inc from the registry."""
    from mne_specae.datasets import SAMPLE_RECORDINGS, SOURCES

    out = HERE / "generated"
    out.mkdir(exist_ok=True)
    lines = []
    for key, src in SOURCES.items():
        recs = [r for r in SAMPLE_RECORDINGS if r.source == key]
        title = src.name
        lines += [title, "-" * len(title), ""]
        lines += [
            f"* **Key:** ``{key}``",
            f"* **Licence:** {src.licence}",
            f"* **Homepage:** {src.homepage}",
        ]
        if recs:
            kinds = sorted({r.modality.upper() for r in recs})
            rates = sorted({f"{r.sfreq:g}" for r in recs})
            lines.append(
                f"* **In the sample set:** {len(recs)} recording(s) "
                f"({', '.join(kinds)}; {', '.join(rates)} Hz), subjects "
                f"{', '.join(sorted({r.subject for r in recs}))}"
            )
        else:
            lines.append("* **In the sample set:** none (full dataset through a fetcher)")
        lines += ["* **Cite:**", "", f"  {src.citation}", ""]
    text = "\n".join(lines)
    path = out / "data_sources.inc"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)

    rows = [
        (
            r.name,
            r.modality.upper(),
            r.subject,
            f"{r.sfreq:g}",
            r.units,
            SOURCES[r.source].licence.split(" (")[0],
            ", ".join(f"{k}={v}" for k, v in r.labels.items()) or "-",
        )
        for r in SAMPLE_RECORDINGS
    ]
    table = _rst_table(("recording", "type", "subject", "Hz", "units", "licence", "labels"), rows)
    path = out / "sample_recordings.inc"
    if not path.exists() or path.read_text() != table + "\n":
        path.write_text(table + "\n")


def write_presets(app):
    """doc/generated/presets.inc: the named SpecAE settings, as the package has them."""
    from mne_specae import presets

    lines = []
    for name in ("RECOMMENDED", "STUDY", "QUICK"):
        values = getattr(presets, name)
        changed = (
            values
            if name == "RECOMMENDED"
            else {k: v for k, v in values.items() if v != presets.RECOMMENDED[k]}
        )
        lines += [".. code-block:: python", ""]
        lines += [f"   {name} = dict(" + ("" if name == "RECOMMENDED" else "RECOMMENDED,")]
        lines += [f"       {key}={value!r}," for key, value in changed.items()]
        lines += ["   )", ""]
    out = HERE / "generated"
    out.mkdir(exist_ok=True)
    path = out / "presets.inc"
    text = "\n".join(lines)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def check_api_reference(app):
    """Every public name must appear in api.rst (a missing one fails the -W build)."""
    from mne_specae import datasets, viz

    text = (HERE / "api.rst").read_text()
    listed = {line.strip() for line in text.splitlines()}
    wanted = [n for n in mne_specae.__all__]
    wanted += [n for n in datasets.__all__]
    wanted += [n for n in dir(viz) if n.startswith("plot_")]
    wanted += [
        "train_autoencoder",
        "split_by_group",
        "History",
        "WaveformInput",
        "InputStage",
        "RECOMMENDED",
        "STUDY",
        "QUICK",
    ]
    missing = [n for n in wanted if not any(item == n or item.endswith("." + n) for item in listed)]
    if missing:
        logger.warning(f"api.rst does not list these public names: {missing}")


def fix_viewcode_backlinks(app, exception):
    """Repair the "[docs]" links of the source pages (sphinx.ext.viewcode).

    viewcode keeps one module prefix per source file: models.py documents
    ConvAutoencoder2d as ``mne_specae.ConvAutoencoder2d`` and WaveformInput as
    ``mne_specae.nn.WaveformInput``, so the links to the latter pointed to
    ``#mne_specae.WaveformInput``, an anchor that does not exist. Each such link is
    pointed at the anchor its page really has.
    """
    import re

    if exception is not None or app.builder.name != "html":
        return
    out = Path(app.outdir)
    ids_cache = {}

    def ids_of(page):
        if page not in ids_cache:
            text = page.read_text(encoding="utf-8") if page.is_file() else ""
            ids_cache[page] = set(re.findall(r'id="([^"]+)"', text))
        return ids_cache[page]

    link = re.compile(r'href="([^"#]*generated/([^"#/]+)\.html)#([^"]+)"')
    for source in (out / "_modules").rglob("*.html"):
        text = source.read_text(encoding="utf-8")

        def repair(match):
            href, objname, anchor = match.groups()
            target = (source.parent / href).resolve()
            if anchor in ids_of(target):
                return match.group(0)
            short = objname.rsplit(".", 1)[-1]
            parts = anchor.split(".")
            if short in parts:
                rest = parts[parts.index(short) + 1 :]
                fixed = ".".join([objname, *rest])
                if fixed in ids_of(target):
                    return f'href="{href}#{fixed}"'
            return match.group(0)

        new = link.sub(repair, text)
        if new != text:
            source.write_text(new, encoding="utf-8")


_T0 = time.perf_counter()


def report_time(app, exception):
    if exception is None:
        print(f"[mne-specae doc] built in {time.perf_counter() - _T0:.0f} s")


# Offline, intersphinx is off: references into other projects' documentation
# (numpydoc's links of "bool" and "array_like", MNE's "%(verbose)s" text) render as
# plain text instead of warning. Online, intersphinx resolves them.
_EXTERNAL_LABELS = ("tut-logging",)
_EXTERNAL_PREFIXES = tuple(f"{key}:" for key in INTERSPHINX)


def quiet_external_refs(app, env, node, contnode):
    if _use_intersphinx:
        return None
    target = node.get("reftarget", "")
    if node.get("refdomain") == "std" and (
        target in _EXTERNAL_LABELS or target.startswith(_EXTERNAL_PREFIXES)
    ):
        return contnode
    return None


# Module-level constants carry no docstring of their own (autodoc would show the
# docstring of tuple, str or dict): these texts replace it.
DATA_DOCS = {
    "mne_specae.__version__": "The package version (PEP 440), ``'{value}'``.",
    "mne_specae.SIGNAL_TYPES": (
        "Channel types the package treats as signals: ``{value}``. "
        ":func:`~mne_specae.make_segments` keeps these channels (ECG and EMG are not "
        'MNE "data" channels) and names each segment\'s ``signal_type`` after them.'
    ),
    "mne_specae.datasets.SOURCES": (
        "The public datasets the package reads: a dict of key (``'mitdb'``, "
        "``'eegmat'``, ``'uci_lower_limb'``, ``'biosppy'``, ``'eegbci'``, ``'emgdb'``) "
        "-> :class:`~mne_specae.datasets.Source` (name, licence, citation, homepage). "
        ":func:`~mne_specae.datasets.citations` prints them; :doc:`/data` lists them."
    ),
    "mne_specae.datasets.SAMPLE_RECORDINGS": (
        "The bundled sample set: a tuple of one :class:`~mne_specae.datasets.Recording` "
        "per recording that :func:`~mne_specae.datasets.load_sample` reads (files, URLs, "
        "checksums, subject, channels, sampling rate, units, labels); :doc:`/data` "
        "lists them."
    ),
    "mne_specae.datasets.EXTENDED_RECORDINGS": (
        "The extended set: more subjects of eegmat (Subject04-19) and of the UCI "
        "lower-limb EMG (13 subjects), as :class:`~mne_specae.datasets.Recording` "
        "entries that ``load_sample(extended=True)`` reads after the sample; for "
        "benchmarks, recipe selection and pretraining (:doc:`/data`)."
    ),
    "mne_specae.evaluation.baselines.BANDS": (
        "Frequency bands (Hz) of :class:`~mne_specae.evaluation.baselines.BandPowers` per signal "
        "type: ``{value}``."
    ),
    "mne_specae.presets.RECOMMENDED": (
        "The defaults of :class:`~mne_specae.SpecAE`: a dict of its method settings "
        "(input stage, network, training), chosen by the downstream benchmark "
        "(:doc:`/downstream`) for a CPU; "
        "the values are listed in :ref:`presets`."
    ),
    "mne_specae.presets.STUDY": (
        "The study's method: 480 x 640 dB spectrograms at native STFT resolution and its "
        "network (4 layers of 64 3 x 3 filters, 2 x 2 max-pooling, Adam, MSE, early "
        'stopping). A GPU job: ``SpecAE(**presets.STUDY, device="cuda")``. Values in '
        ":ref:`presets`."
    ),
    "mne_specae.presets.QUICK": (
        "A first look on a laptop CPU: the recommended input stage with a smaller network "
        "and fewer epochs. Values in :ref:`presets`."
    ),
}


def data_docstrings(app, what, name, obj, options, lines):
    if what != "data" or name not in DATA_DOCS:
        return
    value = obj if isinstance(obj, (str, tuple)) else None
    lines[:] = [DATA_DOCS[name].replace("{value}", str(value)), ""]


def public_bases(app, name, obj, options, bases):
    """Show torch.nn.Module instead of the private base class of the autoencoders."""
    import torch

    bases[:] = [
        torch.nn.Module if b.__name__.startswith("_") and issubclass(b, torch.nn.Module) else b
        for b in bases
    ]


def skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing methods (set_*_request)."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", skip_member)
    app.connect("autodoc-process-bases", public_bases)
    app.connect("autodoc-process-docstring", data_docstrings)
    app.connect("missing-reference", quiet_external_refs)
    app.connect("builder-inited", write_data_sources)
    app.connect("builder-inited", write_presets)
    app.connect("builder-inited", check_api_reference)
    app.connect("build-finished", fix_viewcode_backlinks)
    app.connect("build-finished", report_time)
