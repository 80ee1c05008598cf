"""Google Speech Commands reader: log-mel features against closed forms, splits, errors."""

import wave
from pathlib import Path

import numpy as np
import pytest

from brainsim.data import load_gsc
from brainsim.data._gsc import GSC_WORDS, LOG_OFFSET, SAMPLE_RATE, log_mel_spectrogram

N_FFT, HOP, N_MELS = 256, 80, 140


def write_wav(path: Path, samples: np.ndarray, *, rate: int = SAMPLE_RATE, width: int = 2):
    """Float samples in [-1, 1) as a PCM WAV (16-bit unless `width` says otherwise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ints = np.round(np.asarray(samples) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(ints.tobytes() if width == 2 else ints.astype(np.int8).tobytes())


def tone(freq: float, *, amp: float = 0.5, seconds: float = 1.0, onset: int = 0) -> np.ndarray:
    n = int(round(seconds * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    x = amp * np.cos(2 * np.pi * freq * t)
    x[:onset] = 0.0
    return x


def htk_weight(freq: float, n_mels: int = N_MELS) -> np.ndarray:
    """Weight of each HTK mel triangle at `freq` Hz, from the definition."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = hz(np.linspace(0.0, mel(SAMPLE_RATE / 2), n_mels + 2))
    out = np.zeros(n_mels)
    for j in range(n_mels):
        lo, c, hi = edges[j], edges[j + 1], edges[j + 2]
        if lo <= freq <= c:
            out[j] = (freq - lo) / (c - lo)
        elif c < freq <= hi:
            out[j] = (hi - freq) / (hi - c)
    return out


def make_gsc(root: Path, layout: dict[str, list[str]], *, valid=(), test=()) -> Path:
    """A tiny GSC v0.02 folder: `layout` maps word -> file stems; each file a tone whose
    frequency encodes its index (so files can be told apart after loading)."""
    folder = root / "speech_commands_v0.02"
    k = 0
    for word, stems in layout.items():
        for stem in stems:
            write_wav(folder / word / f"{stem}.wav", tone(500.0 + 250.0 * k, seconds=0.9))
            k += 1
    write_wav(folder / "_background_noise_" / "white_noise.wav", np.zeros(100))
    (folder / "validation_list.txt").write_text("".join(f"{p}\n" for p in valid))
    (folder / "testing_list.txt").write_text("".join(f"{p}\n" for p in test))
    (folder / "LICENSE").write_text("CC-BY-4.0\n")
    return folder


def test_a_pure_tone_lands_in_its_mel_bins_with_the_closed_form_power():
    # A cosine of amplitude A at FFT bin k under a periodic Hann window of N samples:
    # |X[k]| = A N / 4 and |X[k +- 1]| = A N / 8, nothing elsewhere.
    k = 70  # 4375 Hz
    freq = k * SAMPLE_RATE / N_FFT
    amp = 0.5
    out = load_one(tone(freq, amp=amp))
    frame = out[100]
    peak = (amp * N_FFT / 4) ** 2
    bin_hz = SAMPLE_RATE / N_FFT
    expected = peak * (
        htk_weight(freq) + (htk_weight(freq - bin_hz) + htk_weight(freq + bin_hz)) / 4
    )
    np.testing.assert_allclose(np.exp(frame), expected + LOG_OFFSET, rtol=2e-3, atol=1e-5)
    j = int(np.argmax(frame))
    assert j == int(np.argmax(htk_weight(freq)))  # the triangle that contains the tone
    assert expected[j] > 0.5 * peak and np.sum(expected > 1e-3 * peak) <= 4


def test_frames_are_5_ms_apart_and_the_onset_of_a_sound_shows_at_its_time():
    # frame t covers samples t * 80 - 128 .. t * 80 + 127: a tone starting at sample
    # 8000 (0.5 s) leaves frames t <= 98 silent (exactly log 1e-6) and reaches t = 99.
    out = load_one(tone(1000.0, onset=8000))
    assert out.shape == (1 + SAMPLE_RATE // HOP, N_MELS) == (201, 140)
    silent = np.all(out == np.log(LOG_OFFSET), axis=1)
    assert silent[:99].all() and not silent[99:].any()


def test_short_clips_are_zero_padded_and_long_clips_cropped(tmp_path):
    x = tone(3000.0, seconds=1.0)
    folder = make_gsc(tmp_path, {"yes": []})
    write_wav(folder / "yes" / "a_nohash_0.wav", x[:9000])
    write_wav(folder / "yes" / "b_nohash_0.wav", np.concatenate([x[:9000], np.zeros(7000)]))
    write_wav(folder / "yes" / "c_nohash_0.wav", np.concatenate([x, x[:4000]]))
    write_wav(folder / "yes" / "d_nohash_0.wav", x)
    feats, labels = load_gsc(tmp_path)
    np.testing.assert_array_equal(feats[0], feats[1])
    np.testing.assert_array_equal(feats[2], feats[3])
    assert feats.dtype == np.float32 and labels.dtype == np.int32


def load_one(samples: np.ndarray) -> np.ndarray:
    ints = np.round(samples * 32767) / 32768.0  # the same quantisation as a WAV file
    padded = np.zeros(SAMPLE_RATE)
    padded[: ints.size] = ints[:SAMPLE_RATE]
    return log_mel_spectrogram(padded, n_mels=N_MELS, n_fft=N_FFT, hop=HOP)


def test_wav_roundtrip_matches_the_in_memory_features(tmp_path):
    x = tone(2000.0)
    folder = make_gsc(tmp_path, {"zero": []})
    write_wav(folder / "zero" / "s_nohash_0.wav", x)
    feats, labels = load_gsc(tmp_path / "speech_commands_v0.02")
    np.testing.assert_allclose(feats[0], load_one(x), rtol=1e-6, atol=1e-5)
    assert labels.tolist() == [34]


def test_split_lists_are_respected_and_labels_follow_the_alphabet(tmp_path):
    layout = {"yes": ["a_nohash_0", "b_nohash_0"], "bed": ["c_nohash_0", "c_nohash_1"]}
    layout["backward"] = ["d_nohash_0"]
    make_gsc(tmp_path, layout, valid=["yes/b_nohash_0.wav"], test=["bed/c_nohash_1.wav"])
    x_tr, y_tr = load_gsc(tmp_path, "train", n_mels=20, hop=160)
    x_va, y_va = load_gsc(tmp_path, "valid", n_mels=20, hop=160)
    x_te, y_te = load_gsc(tmp_path, "test", n_mels=20, hop=160)
    words = list(GSC_WORDS)
    assert len(words) == 35 and words == sorted(words)
    assert y_tr.tolist() == [0, 1, 33]  # backward, bed/c_nohash_0, yes/a_nohash_0
    assert y_va.tolist() == [33] and y_te.tolist() == [1]
    assert x_tr.shape == (3, 101, 20) and x_va.shape == x_te.shape == (1, 101, 20)
    # each file is a distinct tone: no training sample equals a held-out one
    for held in (x_va[0], x_te[0]):
        assert not any(np.array_equal(held, row) for row in x_tr)
    # the gsc/ folder name resolves too
    (tmp_path / "speech_commands_v0.02").rename(tmp_path / "gsc")
    np.testing.assert_array_equal(load_gsc(tmp_path, "valid", n_mels=20, hop=160)[0], x_va)


def test_errors_name_the_folder_or_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_gsc(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="validation_list.txt"):
        load_gsc(tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_gsc(tmp_path, "validation")
    with pytest.raises(ValueError, match="hop: must be an integer >= 1, got 0"):
        load_gsc(tmp_path, hop=0)
    with pytest.raises(ValueError, match="n_mels"):
        load_gsc(tmp_path, n_mels=2.5)
    folder = make_gsc(tmp_path, {"go": ["a_nohash_0"]})
    (folder / "go" / "b_nohash_0.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(ValueError, match=r"b_nohash_0.wav: not a readable PCM WAV"):
        load_gsc(tmp_path)
    whole = (folder / "go" / "a_nohash_0.wav").read_bytes()
    (folder / "go" / "b_nohash_0.wav").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=r"b_nohash_0.wav: truncated"):
        load_gsc(tmp_path)
    write_wav(folder / "go" / "b_nohash_0.wav", tone(440.0), rate=8000)
    with pytest.raises(ValueError, match=r"b_nohash_0.wav: need 16-bit mono 16000 Hz.*8000 Hz"):
        load_gsc(tmp_path)
    write_wav(folder / "go" / "b_nohash_0.wav", tone(440.0), width=1)
    with pytest.raises(ValueError, match=r"b_nohash_0.wav: need 16-bit.*got 8-bit"):
        load_gsc(tmp_path)
    (folder / "go" / "b_nohash_0.wav").unlink()
    (folder / "testing_list.txt").write_text("go/missing_nohash_0.wav\n")
    with pytest.raises(FileNotFoundError, match="missing_nohash_0.wav"):
        load_gsc(tmp_path, "test")
    write_wav(folder / "hello" / "a_nohash_0.wav", tone(440.0))
    with pytest.raises(ValueError, match="'hello' is not one of the 35"):
        load_gsc(tmp_path)
