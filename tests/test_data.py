"""Tests for smoothgrad.data: IDX parsing, local search / verified download (file:// URLs, no
network), the embedded MNIST subset, encodings and the Yin-Yang generator."""
import gzip
import hashlib
import struct
import zipfile

import numpy as np
import pytest

import smoothgrad.data as sd
from smoothgrad.data import (
    binarize,
    download_file,
    flip_pixels,
    load_embedded_mnist,
    load_mnist,
    parse_idx,
    read_idx,
    ttfs_encode,
    yin_yang,
    yin_yang_class,
    yin_yang_times,
)


def idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D}[arr.dtype.type]
    head = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def tiny_set(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def write_split(folder, split="train", n=5, gz=True, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    x, y = tiny_set(n, seed)
    paths = []
    for base, arr in zip(sd.MNIST_FILES[split], (x, y)):
        b = idx_bytes(arr)
        p = folder / (base + (".gz" if gz else ""))
        p.write_bytes(gzip.compress(b) if gz else b)
        paths.append(p)
    return x, y, paths


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Never touch the real ~/.cache or $SMOOTHGRAD_DATA, never reach the network."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SMOOTHGRAD_DATA", raising=False)
    monkeypatch.setattr(sd, "_SYSTEM_DIRS", {"mnist": [], "fashion": []})
    monkeypatch.setattr(sd, "MNIST_MIRRORS", {"mnist": [], "fashion": []})


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32])
def test_parse_idx_round_trip(dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype) if dtype != np.uint8 else np.arange(24, dtype=np.uint8)
    out = parse_idx(idx_bytes(a))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, a)


def test_read_idx_raw_and_gz(tmp_path):
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(a))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(a)))
    (tmp_path / "gz_without_suffix").write_bytes(gzip.compress(idx_bytes(a)))
    for name in ("a", "a.gz", "gz_without_suffix"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), a)


@pytest.mark.parametrize(
    "mutate, msg",
    [
        (lambda b: b[:-3], "truncated"),
        (lambda b: b[:6], "truncated IDX header"),
        (lambda b: b + b"\0", "trailing"),
        (lambda b: b"\x00\x00\x08\x00" + b[4:], "magic"),
        (lambda b: b"\x12\x34" + b[2:], "magic"),
        (lambda b: b"", "magic"),
        (lambda b: gzip.compress(b)[:-10], "gzip"),
        (lambda b: gzip.compress(b)[:15] + b"garbage" * 3, "gzip"),
    ],
)
def test_read_idx_rejects_corrupt_files(tmp_path, mutate, msg):
    p = tmp_path / "bad-file-idx1-ubyte"
    p.write_bytes(mutate(idx_bytes(np.arange(10, dtype=np.uint8))))
    with pytest.raises(ValueError, match=msg) as e:
        read_idx(p)
    assert "bad-file-idx1-ubyte" in str(e.value)


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_explicit_path(tmp_path, gz):
    x, y, _ = write_split(tmp_path / "d", "test", n=7, gz=gz)
    xi, yi = load_mnist("mnist", "test", path=tmp_path / "d", download=False)
    assert xi.shape == (7, 784) and xi.dtype == np.uint8 and yi.dtype == np.uint8
    np.testing.assert_array_equal(xi, x.reshape(7, 784))
    np.testing.assert_array_equal(yi, y)


def test_load_mnist_search_order(tmp_path, monkeypatch):
    env = tmp_path / "env"
    monkeypatch.setenv("SMOOTHGRAD_DATA", str(env))
    _, y_env, _ = write_split(env / "fashion", "train", seed=1)
    _, y_cache, _ = write_split(tmp_path / "home" / ".cache" / "smoothgrad" / "fashion", "train", seed=2)
    _, y_sys, _ = write_split(tmp_path / "sys", "train", seed=3)
    monkeypatch.setattr(sd, "_SYSTEM_DIRS", {"mnist": [], "fashion": [tmp_path / "sys"]})
    np.testing.assert_array_equal(load_mnist("fashion", "train", download=False)[1], y_env)
    monkeypatch.delenv("SMOOTHGRAD_DATA")
    np.testing.assert_array_equal(load_mnist("fashion", "train", download=False)[1], y_cache)
    for p in (tmp_path / "home" / ".cache" / "smoothgrad" / "fashion").iterdir():
        p.unlink()
    np.testing.assert_array_equal(load_mnist("fashion", "train", download=False)[1], y_sys)
    with pytest.raises(FileNotFoundError):
        load_mnist("mnist", "train", download=False)


def test_load_mnist_inconsistent_files(tmp_path):
    _, _, (fi, fl) = write_split(tmp_path, "train", n=5)
    fl.write_bytes(gzip.compress(idx_bytes(np.zeros(4, np.uint8))))
    with pytest.raises(ValueError, match="labels"):
        load_mnist("mnist", "train", path=tmp_path, download=False)
    fl.write_bytes(gzip.compress(idx_bytes(np.full(5, 11, np.uint8))))
    with pytest.raises(ValueError, match="labels 0..9"):
        load_mnist("mnist", "train", path=tmp_path, download=False)


def test_load_mnist_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        load_mnist("kmnist")
    with pytest.raises(ValueError, match="split"):
        load_mnist("mnist", "validation")


def fake_mirror(tmp_path, monkeypatch, kind="mnist", corrupt=False):
    """Serve tiny IDX.gz files from a file:// 'mirror' and register their hashes."""
    src = tmp_path / "mirror"
    x, y, paths = write_split(src, "train", n=6)
    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    if corrupt:
        paths[0].write_bytes(paths[0].read_bytes()[:-1] + b"x")
    monkeypatch.setattr(sd, "MNIST_SHA256", {**sd.MNIST_SHA256, kind: hashes})
    monkeypatch.setattr(sd, "MNIST_MIRRORS", {"mnist": [], "fashion": [], kind: [src.as_uri() + "/"]})
    return x, y


def test_download_verified_and_cached(tmp_path, monkeypatch):
    x, y = fake_mirror(tmp_path, monkeypatch)
    xi, yi = load_mnist("mnist", "train")
    np.testing.assert_array_equal(xi, x.reshape(-1, 784))
    cache = tmp_path / "home" / ".cache" / "smoothgrad" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    monkeypatch.setattr(sd, "MNIST_MIRRORS", {"mnist": [], "fashion": []})  # now served from the cache
    np.testing.assert_array_equal(load_mnist("mnist", "train")[1], y)


def test_download_hash_mismatch_leaves_nothing(tmp_path, monkeypatch):
    fake_mirror(tmp_path, monkeypatch, corrupt=True)
    with pytest.raises(FileNotFoundError, match="SHA-256 mismatch"):
        load_mnist("mnist", "train", path=tmp_path / "dl")
    assert not any((tmp_path / "dl").iterdir())  # no partial or temp file


def test_download_file_atomic(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello" * 1000)
    dest = tmp_path / "out" / "f.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    with pytest.raises(ValueError, match="f.bin"):
        download_file(src.as_uri(), dest, sha256="0" * 64)
    assert dest.read_bytes() == b"old" and sorted(p.name for p in dest.parent.iterdir()) == ["f.bin"]
    download_file(src.as_uri(), dest, sha256=hashlib.sha256(src.read_bytes()).hexdigest())
    assert dest.read_bytes() == src.read_bytes()


def test_known_hashes_look_right():
    for kind in ("mnist", "fashion"):
        assert set(sd.MNIST_SHA256[kind]) == {b + ".gz" for bs in sd.MNIST_FILES.values() for b in bs}
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in sd.MNIST_SHA256[kind].values())


def test_embedded_mnist():
    xtr, ytr = load_embedded_mnist("train")
    xte, yte = load_embedded_mnist("test")
    assert xtr.shape == (6000, 784) and xte.shape == (1000, 784)
    assert xtr.dtype == xte.dtype == ytr.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(ytr), np.full(10, 600))
    np.testing.assert_array_equal(np.bincount(yte), np.full(10, 100))
    assert len(np.unique(xtr)) == 256 and xtr.max() == 255
    # real digits: ~19% of pixels non-zero, corners are blank; no test digit repeats a training digit
    assert 0.1 < (xtr > 0).mean() < 0.3 and xtr[:, 0].max() == 0
    assert not set(map(bytes, xte)) & set(map(bytes, xtr))
    with pytest.raises(ValueError, match="split"):
        load_embedded_mnist("validation")


def test_embedded_npz_small_and_compressed():
    size = sd.EMBEDDED_MNIST.stat().st_size
    assert size < 3_000_000
    with zipfile.ZipFile(sd.EMBEDDED_MNIST) as z:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in z.infolist())
    assert (sd.EMBEDDED_MNIST.parent / "ATTRIBUTION.md").is_file()


def test_binarize_flip_and_ttfs():
    img = np.array([[0, 127, 128, 255]], dtype=np.uint8)
    b = binarize(img)
    np.testing.assert_array_equal(b, [[False, False, True, True]])
    t = ttfs_encode(b, T=2.0)
    np.testing.assert_allclose(t[0, 2:], 2.0 * np.log(1 / 0.99))
    assert np.isinf(t[0, :2]).all() and t.dtype == np.float64
    assert ttfs_encode(b, dtype=np.float32).dtype == np.float32
    x = np.zeros((200, 784), bool)
    f = flip_pixels(x, 0.02, np.random.default_rng(1))
    assert abs(f.mean() - 0.02) < 0.002 and not x.any()
    np.testing.assert_array_equal(flip_pixels(x, 0.02, 5), flip_pixels(x, 0.02, np.random.default_rng(5)))
    assert flip_pixels(x, 1.0, 0).all() and not flip_pixels(x, 0.0, 0).any()
    with pytest.raises(TypeError, match="x_bool"):
        flip_pixels(img, 0.1, 0)
    with pytest.raises(ValueError, match="p must"):
        flip_pixels(b, 1.5, 0)
    with pytest.raises(TypeError, match="x_bool"):
        ttfs_encode(img)
    with pytest.raises(ValueError, match="T must"):
        ttfs_encode(b, T=0)
    with pytest.raises(TypeError, match="images"):
        binarize(b)
    with pytest.raises(TypeError, match="rng"):
        flip_pixels(b, 0.1, rng="seed")


@pytest.mark.parametrize(
    "x, y, cls",
    [
        (0.5, 0.9, 1), (0.5, 0.1, 0), (0.25, 0.5, 2), (0.75, 0.5, 2),
        (0.25, 0.65, 1), (0.25, 0.35, 1), (0.75, 0.65, 0), (0.75, 0.35, 0),
        (0.05, 0.45, 1), (0.1, 0.25, 0), (0.9, 0.75, 1), (0.3, 0.58, 2), (0.5, 0.55, 1), (0.5, 0.45, 0),
    ],
)
def test_yin_yang_class_hand_checked(x, y, cls):
    assert yin_yang_class(x, y) == cls


def test_yin_yang_point_symmetry():
    rng = np.random.default_rng(0)
    xy = rng.random((2000, 2))
    c = yin_yang_class(xy[:, 0], xy[:, 1])
    cr = yin_yang_class(1 - xy[:, 0], 1 - xy[:, 1])
    np.testing.assert_array_equal(np.where(c == 2, 2, 1 - c), cr)


def test_yin_yang_splits_balanced_deterministic():
    sizes = {"train": 5000, "validation": 1000, "test": 1000}
    data = {s: yin_yang(s) for s in sizes}
    for s, n in sizes.items():
        f, lab = data[s]
        assert f.shape == (n, 4) and lab.shape == (n,)
        counts = np.bincount(lab, minlength=3)
        assert counts.min() > n / 3 - 4 * np.sqrt(n), counts  # goal class drawn uniformly
        np.testing.assert_allclose(f[:, 2:], 1 - f[:, :2])
        assert (np.hypot(f[:, 0] - 0.5, f[:, 1] - 0.5) <= 0.5).all()
        np.testing.assert_array_equal(yin_yang_class(f[:, 0], f[:, 1]), lab)
    f2, l2 = yin_yang("train")
    np.testing.assert_array_equal(f2, data["train"][0])
    assert not np.array_equal(data["validation"][0], data["test"][0])
    f3, _ = yin_yang("train", n=20, seed=7)
    np.testing.assert_array_equal(f3, yin_yang("test", n=20, seed=7)[0])
    np.testing.assert_array_equal(f2[:20], yin_yang("train", n=20)[0])
    with pytest.raises(ValueError, match="split"):
        yin_yang("val")
    with pytest.raises(ValueError, match="n must"):
        yin_yang("train", n=-1)


def test_yin_yang_times():
    f = np.array([[0.0, 1.0, 0.5, 0.25]])
    t = yin_yang_times(f, 0.15, 2.0)
    np.testing.assert_allclose(t, [[0.15, 2.0, 1.075, 0.6125, 0.15]])
    assert yin_yang_times(f, 0.0, 1.0, t_bias=0.3)[0, -1] == 0.3
    with pytest.raises(ValueError, match="t_late"):
        yin_yang_times(f, 1.0, 1.0)
    with pytest.raises(ValueError, match="features"):
        yin_yang_times(f[0], 0.0, 1.0)


def test_grey_times_code():
    from smoothgrad.data import grey_times

    x = np.array([[0, 1, 31, 32, 128, 254, 255]], np.uint8)
    t = grey_times(x, t_first=0.02, spread=1.0, levels=8)
    assert t.dtype == np.float64 and t.shape == x.shape
    assert np.isinf(t[0, 0])  # black: no spike
    # levels q = ceil(8 g / 255) / 8: 1/8, 1/8, 2/8, 5/8, 1, 1 -> t = 0.02 + (1 - q)
    assert np.allclose(t[0, 1:], 0.02 + 1 - np.array([1, 1, 2, 5, 8, 8]) / 8, atol=1e-15, rtol=0)
    assert np.all(np.diff(t[0, 1:]) <= 0)  # brighter is earlier (or equal within a level)
    imgs = np.random.default_rng(0).integers(0, 256, (50, 784))
    tt = grey_times(imgs, 0.5, spread=2.0, levels=4)
    fin = np.isfinite(tt)
    assert np.array_equal(fin, imgs > 0) and tt[fin].min() >= 0.5 and tt[fin].max() <= 2.5 - 2.0 / 4 + 1e-12
    assert max(len(np.unique(r[np.isfinite(r)])) for r in tt) <= 4


@pytest.mark.parametrize("kw, err", [(dict(images=[[300]]), ValueError), (dict(images=[[-1]]), ValueError),
                                     (dict(images=[[np.nan]]), ValueError), (dict(images=[[True]]), TypeError),
                                     (dict(t_first=-1.0), ValueError), (dict(spread=0.0), ValueError),
                                     (dict(levels=0), ValueError), (dict(levels=2.5), ValueError),
                                     (dict(levels=True), ValueError)])
def test_grey_times_rejects_bad_input(kw, err):
    from smoothgrad.data import grey_times

    args = dict(images=[[0, 128]], t_first=0.02, spread=1.0, levels=8) | kw
    with pytest.raises(err):
        grey_times(**args)
