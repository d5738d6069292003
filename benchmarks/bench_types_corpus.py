"""Channel types on sources the heads never saw: leave one source out on the corpus.

    python benchmarks/bench_types_corpus.py --corpus /work/corpus --out OUT [--model FILE]
        [--per-source 40] [--max-segments 12] [--cache OUT/type_data.pkl]

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

The collected data are cached (``--cache``, a local pickle, never a model file) so
that the evaluation can be rerun without reading the corpus again.
"""

import argparse
import pickle
import time
from pathlib import Path

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


def collect(model, args):
    data = None
    t0 = time.perf_counter()
    sources = [
        *corpus_raws(get_corpus_path(args.corpus), args.per_source),
        *dev_raws(args.per_source // 2),
    ]
    for raw, kinds, source in sources:
        part = msa.collect_type_data(
            model, raw, kinds=kinds, sources=source, max_segments=args.max_segments, verbose=False
        )
        data = part if data is None else data + part
    print(f"collected {data!r} in {time.perf_counter() - t0:.0f} s")
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
        "--keep-encoder-head",
        action="store_true",
        help="keep the model's own ECG/EEG/EMG head instead of refitting it per fold",
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = msa.load_pretrained(verbose=False)
    if args.model is not None:
        from mne_specae.pretrained.loading import resolve_model

        model = resolve_model(args.model)
    cache = Path(args.cache) if args.cache else out / "type_data.pkl"
    if cache.is_file():
        data = pickle.loads(cache.read_bytes())
        print(f"read {data!r} from {cache}")
    else:
        data = collect(model, args)
        cache.write_bytes(pickle.dumps(data))
    t0 = time.perf_counter()
    result = msa.evaluate_types(
        model, data, C=args.C, refit_encoder=not args.keep_encoder_head, verbose=False
    )
    print(f"leave one source out in {time.perf_counter() - t0:.0f} s")
    report(result, out)


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
