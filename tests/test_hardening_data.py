"""Hardening of smoothgrad.data (issue 18): IDX files read within the memory their data needs (header checked
before anything is decompressed), downloads written through `smoothgrad.core.atomic_write`, and encodings that
refuse images scaled to [0, 1] and spike times their dtype cannot represent."""
import gzip
import hashlib
import math
import os
import struct
import threading
import tracemalloc

import numpy as np
import pytest

import smoothgrad.core as core
import smoothgrad.data as sd


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    "Never touch the real ~/.cache or $SMOOTHGRAD_DATA, never reach the network."
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SMOOTHGRAD_DATA", raising=False)
    monkeypatch.setattr(sd, "_SYSTEM_DIRS", {"mnist": [], "fashion": []})
    monkeypatch.setattr(sd, "MNIST_MIRRORS", {"mnist": [], "fashion": []})


def header(shape, code=0x08):
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def gz_zeros(path, shape, n_bytes=None):
    "A gzip IDX file of `shape` uint8 with `n_bytes` (default: all declared) zero data bytes, compressed in chunks."
    n = math.prod(shape) if n_bytes is None else n_bytes
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header(shape))
        chunk = bytes(2**20)
        while n > 0:
            f.write(chunk[:n])
            n -= len(chunk)
    return path


def peak_mib(fn):
    "(result or exception, peak traced allocation in MiB) of `fn()`."
    tracemalloc.start()
    try:
        try:
            out = fn()
        except Exception as err:  # noqa: BLE001
            out = err
        return out, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


# ---- bounded IDX reads ---------------------------------------------------------------------------------------
def test_gzip_bomb_is_refused_from_its_header(tmp_path):
    "64 MiB of declared and present data in a small .gz: refused with max_bytes before decompressing."
    p = gz_zeros(tmp_path / "bomb-idx3-ubyte.gz", (1024, 256, 256))
    assert p.stat().st_size < 2**20
    err, peak = peak_mib(lambda: sd.read_idx(p, max_bytes=2**20))
    assert isinstance(err, ValueError) and "bomb-idx3-ubyte.gz" in str(err) and "max_bytes" in str(err), err
    assert peak < 1, peak


def test_default_cap_refuses_a_large_declaration_before_reading(tmp_path):
    "The issue's file: a header declaring ~500 MB; refused by the header (not as 'truncated' after reading)."
    p = gz_zeros(tmp_path / "big-idx3-ubyte.gz", (640_000, 28, 28), n_bytes=4096)
    err, peak = peak_mib(lambda: sd.read_idx(p))
    assert isinstance(err, ValueError) and "more than max_bytes" in str(err) and str(sd.IDX_MAX_BYTES) in str(err)
    assert peak < 1, peak


def test_raw_file_declaring_more_than_it_holds_allocates_nothing(tmp_path):
    p = tmp_path / "raw-idx3-ubyte"
    p.write_bytes(header((100_000, 28, 28)) + bytes(100))
    err, peak = peak_mib(lambda: sd.read_idx(p))
    assert isinstance(err, ValueError) and "truncated" in str(err) and "raw-idx3-ubyte" in str(err)
    assert peak < 1, peak


def test_reading_needs_about_the_memory_of_the_data(tmp_path):
    "A valid 8 MB IDX .gz: peak allocation about the array itself (the old reader held 3 copies)."
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (10_000, 28, 28), dtype=np.uint8)
    p = tmp_path / "ok-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(header(a.shape) + a.tobytes(), compresslevel=1))
    out, peak = peak_mib(lambda: sd.read_idx(p))
    np.testing.assert_array_equal(out, a)
    assert peak < a.nbytes / 2**20 * 1.3 + 2, (peak, a.nbytes / 2**20)


@pytest.mark.parametrize("shape,code", [((200_000, 28, 28), 0x08), ((5, 32, 32), 0x08), ((5, 28, 28), 0x0D),
                                        ((5, 784), 0x08)])
def test_load_mnist_checks_the_header_before_the_data(tmp_path, shape, code):
    d = tmp_path / "d"
    d.mkdir()
    with gzip.open(d / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(header(shape, code) + bytes(64))  # the data would be far too short: never read
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(header((5,)) + bytes(5)))
    err, peak = peak_mib(lambda: sd.load_mnist("mnist", "test", path=d, download=False))
    assert isinstance(err, ValueError) and "t10k-images" in str(err) and "28, 28" in str(err), err
    assert "header declares" in str(err) and peak < 1


def test_read_idx_max_bytes_is_checked():
    for bad in (-1, 1.5, "10", True, None):
        with pytest.raises(ValueError, match="max_bytes"):
            sd.read_idx("/nonexistent-idx", max_bytes=bad)


def test_corrupt_gzip_crc_is_noticed(tmp_path):
    data = bytearray(gzip.compress(header((4,)) + b"abcd"))
    data[-8] ^= 0xFF  # the CRC-32 of the stream
    p = tmp_path / "crc-idx1-ubyte.gz"
    p.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="crc-idx1-ubyte.gz.*gzip"):
        sd.read_idx(p)


# ---- downloads: atomic, bounded -------------------------------------------------------------------------------
def test_download_goes_through_core_atomic_write(tmp_path, monkeypatch):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 5000)
    calls = []
    monkeypatch.setattr(sd, "atomic_write", lambda path, data: calls.append(path) or core.atomic_write(path, data))
    out = sd.download_file(src.as_uri(), tmp_path / "out" / "f.bin", hashlib.sha256(src.read_bytes()).hexdigest())
    assert calls == [tmp_path / "out" / "f.bin"] and out.read_bytes() == src.read_bytes()


def test_download_refuses_more_than_max_bytes(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(bytes(3 * 2**20))
    dest = tmp_path / "out" / "f.bin"
    with pytest.raises(ValueError, match="f.bin.*max_bytes = 1048576"):
        sd.download_file(src.as_uri(), dest, max_bytes=2**20)
    assert not dest.exists() and not list(dest.parent.iterdir())
    for bad in (-1, 2.0, "1", True):
        with pytest.raises(ValueError, match="max_bytes"):
            sd.download_file(src.as_uri(), dest, max_bytes=bad)


def test_concurrent_downloads_of_one_file_do_not_collide(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(np.random.default_rng(3).bytes(2**20))
    h = hashlib.sha256(src.read_bytes()).hexdigest()
    dest, errors = tmp_path / "out" / "f.bin", []

    def fetch():
        try:
            sd.download_file(src.as_uri(), dest, h)
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and dest.read_bytes() == src.read_bytes() and os.listdir(dest.parent) == ["f.bin"]


def test_download_keeps_the_old_file_when_the_disk_is_full(tmp_path, monkeypatch):
    src = tmp_path / "src.bin"
    src.write_bytes(b"new" * 100)
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"old")

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(core.os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        sd.download_file(src.as_uri(), dest)
    assert dest.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["f.bin", "src.bin"]


# ---- encodings ------------------------------------------------------------------------------------------------
SCALED = np.random.default_rng(0).random((3, 784))  # images scaled to [0, 1]


@pytest.mark.parametrize("images", [SCALED, SCALED.astype(np.float32), (SCALED > 0.5).astype(np.uint8)])
def test_binarize_refuses_images_scaled_to_unit_interval(images):
    with pytest.raises(ValueError) as e:
        sd.binarize(images)
    assert "images" in str(e.value) and "[0, 1]" in str(e.value) and "threshold" in str(e.value)
    b = sd.binarize(images, 0.5)  # a threshold on their scale is fine
    assert b.dtype == bool and 0 < b.mean() < 1
    np.testing.assert_array_equal(sd.binarize(images * 255), sd.binarize(images, 128 / 255))


def test_binarize_accepts_blank_and_grey_images():
    assert not sd.binarize(np.zeros((2, 784))).any()
    np.testing.assert_array_equal(sd.binarize(np.array([[0, 127, 128, 255]], np.uint8)), [[False, False, True, True]])


@pytest.mark.parametrize("images", [SCALED, (SCALED > 0.5).astype(np.uint8)])
def test_grey_times_refuses_images_scaled_to_unit_interval(images):
    with pytest.raises(ValueError) as e:
        sd.grey_times(images, 0.02)
    assert "images" in str(e.value) and "[0, 1]" in str(e.value) and "255" in str(e.value)
    t = sd.grey_times(images * 255, 0.02, 1.0, 8)
    assert t[np.isfinite(t)].min() == 0.02  # the brightest pixels get the earliest time, not the darkest level's


@pytest.mark.parametrize("kw,names", [(dict(t_first=1e308, spread=1e308), ("t_first", "spread")),
                                      (dict(t_first=1e20, spread=1.0), ("spread", "levels")),
                                      (dict(t_first=1.0, spread=1e-15, levels=255), ("spread",))])
def test_grey_times_refuses_times_float64_cannot_tell_apart(kw, names):
    with pytest.raises(ValueError) as e:
        sd.grey_times(np.array([[0, 40, 200, 255]], np.uint8), **kw)
    assert all(n in str(e.value) for n in names), str(e.value)


def test_grey_times_extremes_that_work_stay_finite():
    t = sd.grey_times(np.array([[0, 40, 200, 255]], np.uint8), 1e300, 1e300, 8)
    assert np.isinf(t[0, 0]) and np.isfinite(t[0, 1:]).all() and len(np.unique(t[0, 1:])) == 3


@pytest.mark.parametrize("T,dtype", [(1e300, np.float32), (1e-50, np.float32), (1e7, np.float16)])
def test_ttfs_encode_refuses_spike_times_the_dtype_cannot_hold(T, dtype):
    with pytest.raises(ValueError) as e:
        sd.ttfs_encode(np.array([[True, False]]), T, dtype)
    assert "T =" in str(e.value) and np.dtype(dtype).name in str(e.value)


def test_ttfs_encode_unchanged_where_representable():
    x = np.array([[True, False]])
    for T, dtype in ((2.0, np.float32), (1e30, np.float32), (1.7e308, np.float64), (1e-300, np.float64)):
        t = sd.ttfs_encode(x, T, dtype)
        assert t.dtype == dtype and t[0, 0] == np.dtype(dtype).type(T * np.log(1 / 0.99)) and np.isinf(t[0, 1])


# ---- yin-yang radii -------------------------------------------------------------------------------------------
def test_yin_yang_huge_radii_give_a_correct_data_set():
    "The issue's r_big=1e160, r_small=1e159 (was OverflowError): a valid data set, consistent with its classes."
    f, y = sd.yin_yang("test", n=60, seed=2, r_small=1e159, r_big=1e160)
    assert np.isfinite(f).all() and (f >= 0).all() and (f <= 2e160).all() and set(y) == {0, 1, 2}
    np.testing.assert_array_equal(sd.yin_yang_class(f[:, 0], f[:, 1], 1e159, 1e160), y)


@pytest.mark.parametrize("scale", [2.0**-990, 2.0**990])
def test_yin_yang_is_exactly_scale_invariant(scale):
    "A power-of-two scale of both radii scales every feature exactly and keeps every label."
    f0, y0 = sd.yin_yang("test", n=200)
    f, y = sd.yin_yang("test", n=200, r_small=0.1 * scale, r_big=0.5 * scale)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(f, f0 * scale)


@pytest.mark.parametrize("r_big,r_small", [(1e-301, 1e-302), (1e301, 1e300), (1e-320, 1e-321)])
def test_yin_yang_radii_outside_float64_geometry_are_refused(r_big, r_small):
    for call in (lambda: sd.yin_yang("test", n=3, r_small=r_small, r_big=r_big),
                 lambda: sd.yin_yang_class(0.0, 0.0, r_small, r_big)):
        with pytest.raises(ValueError) as e:
            call()
        assert "r_big" in str(e.value) and "1e-300" in str(e.value) and "1e+300" in str(e.value)


def test_yin_yang_tiny_radius_ratio_is_still_refused_clearly():
    with pytest.raises(ValueError, match="r_small must be at least"):
        sd.yin_yang("test", n=3, r_small=1e-305, r_big=1e-300)


def test_yin_yang_times_overflow_is_refused():
    with pytest.raises(ValueError, match="t_late - t_early"):
        sd.yin_yang_times(np.full((2, 4), 0.5), -1e308, 1e308)
