"""Synthetic channels of known type for the channel-type tests (RawArray content).

Each function returns one channel ``(n_samples,)`` in SI-like units at ``sfreq``
(:func:`drifting`: a recording with a drift added, also for ``benchmarks/bench_types_drift.py``);
``rng`` varies rates, amplitudes and noise so that a head fitted on some seeds can be
tested on others.
"""

import mne
import numpy as np
from scipy.signal import butter, sosfiltfilt


def _t(sfreq, seconds):
    return np.arange(int(round(sfreq * seconds))) / sfreq


def _rate_track(rng, t, base, spread):
    """Instantaneous rate (Hz) wandering slowly around ``base``; its phase (cycles)."""
    drift = np.cumsum(rng.normal(0, 1, t.size)) / np.sqrt(t.size)
    rate = base * (1 + spread * np.sin(2 * np.pi * t / rng.uniform(20, 60)) + 0.05 * drift)
    dt = np.diff(t, prepend=0)
    return rate, np.cumsum(rate * dt)


def breathing(sfreq, seconds, rng, rate=None):
    """Respiration: an asymmetric (inhale faster than exhale) wave at ~0.25 Hz."""
    t = _t(sfreq, seconds)
    _, phase = _rate_track(rng, t, rate or rng.uniform(0.18, 0.35), 0.15)
    frac = phase % 1.0
    wave = np.where(frac < 0.4, np.sin(np.pi * frac / 0.8), np.cos(np.pi * (frac - 0.4) / 1.2))
    amp = 1 + 0.2 * np.sin(2 * np.pi * t / rng.uniform(30, 90))
    return 1e-3 * (amp * wave + rng.normal(0, 0.03, t.size))


def ppg(sfreq, seconds, rng, rate=None, notch=0.25):
    """Photoplethysmogram: a systolic peak and a dicrotic wave per beat (~1.2 Hz)."""
    t = _t(sfreq, seconds)
    _, phase = _rate_track(rng, t, rate or rng.uniform(0.9, 1.5), 0.05)
    frac = phase % 1.0
    wave = np.exp(-(((frac - 0.2) / 0.09) ** 2)) + notch * np.exp(-(((frac - 0.5) / 0.08) ** 2))
    resp = 0.1 * np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 6))
    return wave + resp + rng.normal(0, 0.01, t.size)


def abp(sfreq, seconds, rng):
    """Arterial pressure: a steep upstroke, a notch, a slow run-off (mmHg-like)."""
    t = _t(sfreq, seconds)
    _, phase = _rate_track(rng, t, rng.uniform(1.0, 1.6), 0.05)
    frac = phase % 1.0
    up = np.clip(frac / 0.08, 0, 1)
    wave = np.where(frac < 0.08, up, np.exp(-(frac - 0.08) / 0.35))
    wave = wave + 0.15 * np.exp(-(((frac - 0.38) / 0.04) ** 2))
    return 80 + 40 * wave + rng.normal(0, 0.3, t.size)


def eda(sfreq, seconds, rng):
    """Electrodermal activity: a tonic drift with phasic responses (µS)."""
    t = _t(sfreq, seconds)
    x = 2 + 0.3 * np.cumsum(rng.normal(0, 1, t.size)) / np.sqrt(sfreq * 60)
    x += 0.2 * t / max(t[-1], 1)
    for onset in np.cumsum(rng.exponential(15, 200)):
        if onset >= t[-1]:
            break
        s = t - onset
        x += np.where(s > 0, rng.uniform(0.05, 0.4) * (np.exp(-s / 4) - np.exp(-s / 0.7)), 0)
    return 1e-6 * x + 1e-9 * rng.normal(size=t.size)


def temperature(sfreq, seconds, rng):
    """Skin temperature: a slow drift quantised to 0.01 °C."""
    t = _t(sfreq, seconds)
    x = (
        33
        + 0.5 * np.sin(2 * np.pi * t / rng.uniform(600, 1800))
        + 0.05 * np.cumsum(rng.normal(0, 1, t.size)) / np.sqrt(t.size)
    )
    return np.round(x, 2)


def accelerometer(sfreq, seconds, rng, axis=0):
    """One axis of a wrist/hip accelerometer while walking (~1.8 steps/s), in g."""
    t = _t(sfreq, seconds)
    _, phase = _rate_track(rng, t, rng.uniform(1.6, 2.0), 0.05)
    g = (0.0, 0.0, 1.0)[axis % 3]
    step = 0.3 * np.sin(2 * np.pi * phase + axis) + 0.15 * np.sin(4 * np.pi * phase + 2 * axis)
    impact = 0.4 * np.exp(-((((phase % 1.0) - 0.1) / 0.03) ** 2))
    pause = (np.sin(2 * np.pi * t / rng.uniform(40, 80)) > -0.7).astype(float)
    return g + pause * (step + impact) + rng.normal(0, 0.02, t.size)


def trigger(sfreq, seconds, rng):
    """A 0/5 V trigger line: short pulses at random times."""
    t = _t(sfreq, seconds)
    x = np.zeros(t.size)
    for onset in np.cumsum(rng.uniform(1, 4, 1000)):
        if onset >= t[-1]:
            break
        x[(t >= onset) & (t < onset + 0.1)] = 5.0
    return x


def eog(sfreq, seconds, rng):
    """Electro-oculogram: blinks (~300 µV, 0.3 s), saccades (steps) and noise (V)."""
    t = _t(sfreq, seconds)
    x = np.zeros(t.size)
    for onset in np.cumsum(rng.exponential(3.5, 1000)):
        if onset >= t[-1]:
            break
        x += 3e-4 * np.exp(-(((t - onset) / 0.08) ** 2))
    level = 0.0
    for onset in np.cumsum(rng.exponential(1.5, 2000)):
        if onset >= t[-1]:
            break
        new = rng.uniform(-2e-4, 2e-4)
        x += np.where(t >= onset, new - level, 0)
        level = new
    x += 5e-6 * rng.normal(size=t.size)  # background EEG/noise
    return x


def drifting(raw, tmin, seconds, drift, times_sd=20.0, seed=0):
    """``seconds`` of ``raw`` from ``tmin`` over a DC offset, with a drift on every
    channel (``times_sd`` x its standard deviation): ``"walk"``, an electrode's slow
    wander (a random walk low-passed at 0.2 Hz), or ``"settle"``, an amplifier's settling
    transient after it starts (decaying in 1.5 s, random sign); a new Raw."""
    part = raw.copy().crop(tmin, tmin + seconds, include_tmax=False).load_data()
    x = part.get_data()
    rng = np.random.default_rng(seed)
    sd = x.std(axis=1, keepdims=True)
    if drift == "walk":
        walk = np.cumsum(rng.normal(size=x.shape), axis=1)
        walk = sosfiltfilt(butter(4, 0.2, fs=part.info["sfreq"], output="sos"), walk)
        shape = (walk - walk.mean(axis=1, keepdims=True)) / walk.std(axis=1, keepdims=True)
    else:
        shape = rng.choice([-1.0, 1.0], (len(x), 1)) * np.exp(-part.times / 1.5)
    offset = rng.uniform(-200, 200, (len(x), 1)) * sd
    return mne.io.RawArray(x + offset + times_sd * sd * shape, part.info, verbose=False)
