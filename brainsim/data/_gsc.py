"""Google Speech Commands v0.02 (35 words): WAV folders read as log-mel spectrograms.

The published layout: one folder per word holding `<speaker>_nohash_<n>.wav` (16-bit PCM,
mono, 16 kHz, at most 1 s), `_background_noise_/` (ignored), and `validation_list.txt`
and `testing_list.txt` naming the validation and test files by their path relative to
the folder; every other WAV in a word folder is training data.

Features: samples scaled to [-1, 1) (int16 / 32768), each clip zero-padded or cropped to
1 s, then, as torchaudio's `MelSpectrogram` does with its defaults, framed with a centred,
reflect-padded periodic Hann window of `n_fft` samples every `hop` samples, turned into
the power spectrum `|rfft|^2` and projected onto an HTK mel filterbank (triangles linear
in Hz between mel-spaced edges from 0 Hz to 8 kHz, peak 1, no area normalisation);
finally `log(x + 1e-6)`.
"""

import os
import wave
from pathlib import Path

import numpy as np

from ._paths import check_split, resolve_data_dir

SAMPLE_RATE = 16_000
GSC_WORDS = tuple(
    sorted(
        "backward bed bird cat dog down eight five follow forward four go happy house learn "
        "left marvin nine no off on one right seven sheila six stop three tree two up visual "
        "wow yes zero".split()
    )
)
"""The 35 words; a word's label is its index here (alphabetical order)."""
LOG_OFFSET = 1e-6
_LISTS = {"valid": "validation_list.txt", "test": "testing_list.txt"}


def read_wav(path: str | os.PathLike) -> np.ndarray:
    """One 16-bit PCM mono 16 kHz WAV file as float64 samples in [-1, 1).

    **Raises:** `FileNotFoundError` or `ValueError` naming the file and the problem (not
    a WAV file, truncated, or another rate, width or channel count).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        with wave.open(str(path), "rb") as f:
            channels, width, rate = f.getnchannels(), f.getsampwidth(), f.getframerate()
            n = f.getnframes()
            raw = f.readframes(n)
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{path}: not a readable PCM WAV file ({e})") from None
    if (channels, width, rate) != (1, 2, SAMPLE_RATE):
        raise ValueError(
            f"{path}: need 16-bit mono {SAMPLE_RATE} Hz audio, got {8 * width}-bit, "
            f"{channels} channel(s), {rate} Hz"
        )
    if len(raw) != 2 * n:
        raise ValueError(f"{path}: truncated, {len(raw) // 2} of {n} samples present")
    return np.frombuffer(raw, "<i2").astype(np.float64) / 32768.0


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """HTK mel filterbank `(n_fft // 2 + 1, n_mels)` over 0 .. `sample_rate / 2`.

    Mel `m(f) = 2595 log10(1 + f / 700)`; `n_mels + 2` edges equally spaced in mel;
    filter `j` rises linearly (in Hz) from edge `j` to 1 at edge `j + 1` and falls to 0 at
    edge `j + 2`, evaluated at the FFT bin frequencies. Filters narrower than the bin
    spacing can be all zero (e.g. the lowest ones at 140 mels and `n_fft = 256`).
    """
    if n_mels < 1 or n_fft < 2:
        raise ValueError(f"n_mels, n_fft: must be >= 1 and >= 2, got {n_mels}, {n_fft}")
    top = 2595.0 * np.log10(1.0 + (sample_rate / 2) / 700.0)
    edges = 700.0 * (10.0 ** (np.linspace(0.0, top, n_mels + 2) / 2595.0) - 1.0)
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)[:, None]
    lo, centre, hi = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
    rising = (freqs - lo) / (centre - lo)
    falling = (hi - freqs) / (hi - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def log_mel_spectrogram(
    audio: np.ndarray, *, n_mels: int = 140, n_fft: int = 256, hop: int = 80
) -> np.ndarray:
    """Log-mel spectrogram of clips `(..., samples)`: `(..., 1 + samples // hop, n_mels)`.

    Frame `t` is centred on sample `t * hop` (reflect padding of `n_fft // 2` each side).
    Float64, in the units of the samples (e.g. [-1, 1) audio).
    """
    if hop < 1:
        raise ValueError(f"hop: must be a positive integer, got {hop}")
    audio = np.asarray(audio, np.float64)
    half = n_fft // 2
    if audio.shape[-1] <= half:
        raise ValueError(
            f"audio: need more than n_fft // 2 = {half} samples, got {audio.shape[-1]}"
        )
    padded = np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(half, half)], mode="reflect")
    n_frames = 1 + audio.shape[-1] // hop
    starts = np.arange(n_frames) * hop
    frames = padded[..., starts[:, None] + np.arange(n_fft)]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
    return np.log(power @ mel_filterbank(n_mels, n_fft) + LOG_OFFSET)


def _split_files(folder: Path, split: str) -> list[str]:
    """Paths (relative, `/`-separated) of a split's WAV files."""
    listed = {}
    for name, file in _LISTS.items():
        path = folder / file
        if not path.is_file():
            raise FileNotFoundError(f"{path}: file not found (the split lists of GSC v0.02)")
        listed[name] = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    if split != "train":
        return listed[split]
    held = set(listed["valid"]) | set(listed["test"])
    files = []
    for word_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if word_dir.name.startswith("_"):  # _background_noise_
            continue
        files += [f"{word_dir.name}/{p.name}" for p in sorted(word_dir.glob("*.wav"))]
    return [f for f in files if f not in held]


def load_gsc(
    data_dir: str | os.PathLike | None = None,
    split: str = "train",
    *,
    n_mels: int = 140,
    n_fft: int = 256,
    hop: int = 80,
) -> tuple[np.ndarray, np.ndarray]:
    """Load Google Speech Commands v0.02 (35 words) as log-mel spectrograms.

    **Arguments:**

    - `data_dir`: the dataset folder, or a parent with a `speech_commands_v0.02/` or
      `gsc/` subfolder; `None` reads the `BRAINSIM_DATA` environment variable.
    - `split`: `"train"`, `"valid"` (`validation_list.txt`) or `"test"`
      (`testing_list.txt`); train is every other WAV in the word folders.
    - `n_mels`, `n_fft`, `hop`: the spectrogram (see the module docstring); the paper's
      140, 256 and 80 samples (5 ms) give 201 frames per 1-s clip.

    **Returns:** `(x, labels)`: float32 `(n, 1 + 16000 // hop, n_mels)` and int32 labels
    in `0..34`, the index of the word in `GSC_WORDS` (alphabetical).

    **Raises:** `FileNotFoundError` for a missing folder, list or listed file;
    `ValueError` naming the file for an unreadable WAV, a wrong format, or a folder that
    is not one of the 35 words.
    """
    check_split(split, ("train", "valid", "test"))
    for name, value, low in (("n_mels", n_mels, 1), ("n_fft", n_fft, 2), ("hop", hop, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name}: must be an integer >= {low}, got {value!r}")
    folder = resolve_data_dir(data_dir, ("speech_commands_v0.02", "gsc"))
    files = _split_files(folder, split)
    if not files:
        raise ValueError(f"{folder}: no WAV files in the {split!r} split")
    index = {w: i for i, w in enumerate(GSC_WORDS)}
    labels = np.empty(len(files), np.int32)
    x = np.empty((len(files), 1 + SAMPLE_RATE // hop, n_mels), np.float32)
    for start in range(0, len(files), 256):  # 256 clips at a time: bounded scratch memory
        chunk = files[start : start + 256]
        clips = np.zeros((len(chunk), SAMPLE_RATE))
        for i, rel in enumerate(chunk):
            word = rel.split("/")[0]
            if word not in index:
                raise ValueError(f"{folder / rel}: {word!r} is not one of the 35 GSC v0.02 words")
            labels[start + i] = index[word]
            audio = read_wav(folder / rel)[:SAMPLE_RATE]  # cropped, or zero-padded below
            clips[i, : audio.size] = audio
        x[start : start + len(chunk)] = log_mel_spectrogram(
            clips, n_mels=n_mels, n_fft=n_fft, hop=hop
        )
    return x, labels
