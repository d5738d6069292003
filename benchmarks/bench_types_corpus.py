"""Channel types on sources the heads never saw: leave one source out on the corpus.

    python benchmarks/bench_types_corpus.py --corpus /work/corpus --out OUT [--model FILE]
        [--per-source 40] [--max-segments 12] [--cache OUT/type_data.pkl] [--rates 64,32,25,4]
        [--upsampled] [--held] [--hide-names]

Reads evenly spread recordings of each corpus source (at most ``--per-source``; every
recording of the small sources) and the developers' sample and extended sets,
collects what :func:`mne_specae.identify_channel_types` sees of every channel
(:func:`mne_specae.collect_type_data`: the rules, the rate-aware features, the
encoder's embeddings; the true MNE types and kinds from the corpus), then
:func:`mne_specae.evaluate_types`: for each source, the type head and the encoder's
ECG/EEG/EMG head are fitted on the other sources and the source's channels decided.
Writes ``OUT/types_summary.csv`` (per true type: channels, right, unknown, wrong, the
most common wrong answer), ``OUT/types_confusion.csv``, ``OUT/types_per_source.csv``
and ``OUT/types_predictions.csv``, and prints them. The same sources with every
channel: ``--per-source 0``.

With ``--rates``, the same leave-one-source-out is run again for each rate with the
held-out source's recordings resampled to it (those sampled faster only; the heads
are still fitted on the other sources at their own rates, with augmented rows): the
low-rate path, as a wearable's PPG at 64 Hz, motion or a breathing belt at 25-32 Hz
or an EDA at 4 Hz would take it. ``OUT/<rate>hz/`` holds its tables and
``OUT/types_by_rate.csv`` one line per rate. With ``--upsampled`` too, each rate again
with the recordings resampled to it and back up to their own rate by FFT
(``OUT/<rate>hz_up/``): the slow channels of a multi-rate file (a polysomnogram) as
MNE's EDF reader gives them, every channel at the highest rate with an empty band
above its own Nyquist frequency. With ``--held``, each rate again with every sample
repeated back to the recording's rate (``OUT/<rate>hz_held/``; the rate is the
recording's over the nearest whole ratio): a stream forward-filled to a common rate.

With ``--hide-names``, every channel is decided as if the file named it ``ch<k>``
and typed it ``misc``: from the signal alone (the declared-EOG and name guards, which
read what the file says, then never act).

The collected data are cached (``--cache``, a local pickle, never a model file) so
that the evaluation can be rerun without reading the corpus again.
"""

import argparse
import pickle
import time
from pathlib import Path

import mne
import numpy as np
import pandas as pd

import mne_specae as msa
from mne_specae.datasets import corpus_channel_kinds, load_sample
from mne_specae.datasets.corpus import READERS, _recording_name, corpus_files, get_corpus_path
from mne_specae.utils._signals import evenly_spaced

#: Sources of the developers' sets, named as the corpus names the same database.
DEV_SOURCE = {"mitdb": "mitdb", "eegmat": "eegmat", "uci_lower_limb": "uci_lower_limb"}
CORPUS_SOURCE = {"mitdb_more": "mitdb"}


def corpus_raws(folder, per_source):
    """``(raw, kinds, source)`` of evenly spread recordings of each corpus source."""
    table = corpus_files()
    table = table[table["format"] != "companion"]
    for source, rows in table.groupby("source", sort=True):
        rows = rows.to_dict("records")
        keep = evenly_spaced(len(rows), per_source) if per_source else range(len(rows))
        for k in keep:
            row = rows[int(k)]
            raws = READERS[row["format"]](
                folder / row["relpath"],
                subject=f"{row['source']}-{row['subject']}",
                recording=_recording_name(row),
            )
            for raw in raws if isinstance(raws, list) else [raws]:
                yield raw, corpus_channel_kinds(raw), CORPUS_SOURCE.get(source, source)


def dev_raws(per_source):
    sample = load_sample(extended=True, download=False, verbose=False)
    by_source = {}
    for raws in sample.values():
        for raw in raws:
            source = raw.info["description"].split("/")[1]
            by_source.setdefault(DEV_SOURCE.get(source, source), []).append(raw)
    for source, raws in sorted(by_source.items()):
        keep = evenly_spaced(len(raws), per_source) if per_source else range(len(raws))
        for k in keep:
            yield raws[int(k)], None, source


def collect(model, args, rate=None, mode=""):
    """The type data of the corpus and developers' recordings; with ``rate``, of those
    sampled faster, resampled to ``rate`` (test channels only: no augmented rows), and
    back to their own rate with ``mode``: ``"upsampled"`` by FFT, as MNE's EDF reader
    upsamples the slow channels of a multi-rate file; ``"held"`` by repeating each
    sample ``k`` times (then ``rate`` is their own over ``k``, ``k`` the nearest whole
    ratio), as exports forward-fill slow streams to a common rate."""
    data = None
    t0 = time.perf_counter()
    sources = [
        *corpus_raws(get_corpus_path(args.corpus), args.per_source),
        *dev_raws(args.per_source // 2),
    ]
    for raw, kinds, source in sources:
        if rate is not None:
            if raw.info["sfreq"] <= rate:
                continue
            own = raw.info["sfreq"]
            if mode == "held":
                k = int(round(own / rate))
                low = raw.copy().load_data().resample(own / k, verbose=False)
                held = mne.io.RawArray(np.repeat(low.get_data(), k, axis=1), raw.info.copy())
                raw = held.set_annotations(low.annotations)
            else:
                raw = raw.copy().load_data().resample(rate, verbose=False)
            if mode == "upsampled":
                raw.resample(own, npad=0, method="fft", verbose=False)
        part = msa.collect_type_data(
            model,
            raw,
            kinds=kinds,
            sources=source,
            max_segments=args.max_segments,
            augment=rate is None,
            verbose=False,
        )
        data = part if data is None else data + part
    at = "" if rate is None else f" at {rate:g} Hz" + (f", {mode} back" if mode else "")
    print(f"collected {data!r}{at} in {time.perf_counter() - t0:.0f} s")
    return data


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default=None, help="a .specae file (default: shipped)")
    parser.add_argument("--per-source", type=int, default=40)
    parser.add_argument("--max-segments", type=int, default=12)
    parser.add_argument("--cache", default=None)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument(
        "--rates",
        default="",
        help="also decide every source's channels resampled to these rates (Hz, comma-"
        "separated, e.g. 64,32,25,4: a wearable's), with the heads fitted on the others",
    )
    parser.add_argument(
        "--upsampled",
        action="store_true",
        help="with --rates: also decide the channels resampled to each rate and upsampled "
        "back to their own by FFT (a multi-rate file as MNE's EDF reader gives it)",
    )
    parser.add_argument(
        "--held",
        action="store_true",
        help="with --rates: also decide the channels resampled to about each rate and "
        "each sample repeated back to their own (a stream forward-filled to a common rate)",
    )
    parser.add_argument(
        "--keep-encoder-head",
        action="store_true",
        help="keep the model's own ECG/EEG/EMG head instead of refitting it per fold",
    )
    parser.add_argument(
        "--hide-names",
        action="store_true",
        help="decide each channel as if named ch<k> and typed misc: from the signal alone",
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = msa.load_pretrained(verbose=False)
    if args.model is not None:
        from mne_specae.pretrained.loading import resolve_model

        model = resolve_model(args.model)
    cache = Path(args.cache) if args.cache else out / "type_data.pkl"
    data = cached(cache, lambda: collect(model, args))
    if args.hide_names:
        data = hide_names(data)
    t0 = time.perf_counter()
    result = msa.evaluate_types(
        model, data, C=args.C, refit_encoder=not args.keep_encoder_head, verbose=False
    )
    print(f"leave one source out in {time.perf_counter() - t0:.0f} s")
    report(result, out)
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    rows = [low_rate_row(result, "own")]
    modes = [""] + ["upsampled"] * args.upsampled + ["held"] * args.held
    for rate, mode in [(rate, mode) for rate in rates for mode in modes]:
        tag = f"{rate:g}hz" + {"": "", "upsampled": "_up", "held": "_held"}[mode]
        test = cached(
            cache.with_name(f"{cache.stem}_{tag}{cache.suffix}"),
            lambda rate=rate, mode=mode: collect(model, args, rate, mode),
        )
        t0 = time.perf_counter()
        at = msa.evaluate_types(
            model,
            data,
            C=args.C,
            refit_encoder=not args.keep_encoder_head,
            test_data=test,
            verbose=False,
        )
        name = f"{rate:g} Hz" + (f", {mode}" if mode else "")
        print(
            f"\n=== every source at {name} (leave one source out, {time.perf_counter() - t0:.0f} s)"
        )
        (out / tag).mkdir(exist_ok=True)
        report(at, out / tag)
        rows.append(low_rate_row(at, name))
    if rates:
        table = pd.DataFrame(rows).set_index("rate")
        print(
            "\nBy rate (right / unknown / wrong per true type; channels sampled faster, resampled):"
        )
        print(table.to_string())
        table.to_csv(out / "types_by_rate.csv")


def hide_names(data):
    """The type data with every channel named ``ch<k>`` and typed ``misc`` (copies;
    the table keeps the true names for the reports)."""
    channels = [dict(ch, name=f"ch{k}", type="misc") for k, ch in enumerate(data.channels)]
    return msa.pretrained.TypeData(data.table, channels)


def cached(path, make):
    """The type data pickled at ``path`` (a local cache, never a model file), or made
    and written there."""
    if path.is_file():
        data = pickle.loads(path.read_bytes())
        print(f"read {data!r} from {path}")
        return data
    data = make()
    path.write_bytes(pickle.dumps(data))
    return data


def low_rate_row(result, rate):
    """One line of the by-rate table: per true type ``right/unknown/wrong`` (with the
    channel count), the ECG/EEG/EMG balanced accuracy and the other channels called
    ECG, EEG or EMG."""
    row = {"rate": rate, "balanced_accuracy": round(result["balanced_accuracy"], 3)}
    other = result["other_types"]
    row["others_called_biopotential"] = f"{other['called_biopotential']} of {other['n']}"
    for t, r in result["summary"].iterrows():
        row[t] = f"{r['right']:.2f}/{r['unknown']:.2f}/{r['wrong']:.2f} ({int(r['n'])})"
    return row


def report(result, out):
    """Print the leave-one-source-out tables and write them (and the headline) to
    ``out``: ``types_predictions.csv``, ``types_summary.csv``, ``types_family.csv``,
    ``types_confusion.csv``, ``types_per_source.csv``, ``types_headline.txt``."""
    result["predictions"].to_csv(out / "types_predictions.csv", index=False)
    result["summary"].to_csv(out / "types_summary.csv")
    result["family"].to_csv(out / "types_family.csv")
    result["confusion"].to_csv(out / "types_confusion.csv")
    result["by_source"].to_csv(out / "types_per_source.csv")
    with pd.option_context("display.width", 200, "display.max_rows", 300):
        print("\nLeave-one-source-out channel types (heads never saw the source):")
        print(result["summary"].round(3).to_string())
        print("type head alone (family right):")
        print(result["family"].round(3).to_string())
        print(result["confusion"].to_string())
        print(result["by_source"].round(3).to_string())
    print(result["headline"])
    (out / "types_headline.txt").write_text(result["headline"] + "\n")


if __name__ == "__main__":
    main()
