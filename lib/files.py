"""Files: download with a pinned SHA-256, read the IDX format, find files inside installed packages.

Used by :mod:`lib.data` to fetch the official MNIST files (chapter 01 onwards); nothing here
knows what the bytes mean beyond the IDX header.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import os
import struct
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import torch

from lib._checks import (
    check_flags,
)

__all__ = [
    "sha256_hex",
    "download",
    "read_idx",
    "package_file",
]

MAX_BYTES = 64 * 2**20  # no MNIST file is larger; refuse anything bigger
# IDX type codes -> big-endian NumPy dtypes (http://yann.lecun.com/exdb/mnist/, bottom).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of `data` as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def _check_sha256(sha256: object) -> str:
    ok = isinstance(sha256, str) and len(sha256) == 64
    if not ok or any(c not in "0123456789abcdef" for c in sha256.lower()):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    return sha256.lower()


def _gunzip(data: bytes, name: str) -> bytes:
    """Decompress gzip `data`, refusing a corrupt stream or one larger than MAX_BYTES."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(MAX_BYTES + 1)
    except (OSError, EOFError, zlib.error) as err:  # zlib.error is not an OSError
        raise ValueError(f"{name} is not a valid gzip file: {err}") from err
    if len(out) > MAX_BYTES:
        raise ValueError(f"{name} decompresses to more than {MAX_BYTES} bytes")
    return out


def download(url: str, path: str | Path, sha256: str, gunzip: bool = False) -> Path:
    """Download `url` to `path`, keeping it only if its SHA-256 equals `sha256`.

    With ``gunzip=True`` the body is decompressed first and `sha256` is the hash of the
    decompressed bytes, which are what is saved. The bytes are checked in memory and
    written atomically, so a file that fails the check never reaches `path`: it raises
    ``ValueError`` naming the file and the expected and actual hashes. Network failures
    raise ``OSError`` (``urllib.error.URLError``). Returns `path`.
    """
    check_flags(gunzip=gunzip)
    sha256 = _check_sha256(sha256)
    if not isinstance(url, str) or not url:
        raise ValueError(f"url must be a non-empty string, got {url!r}")
    path = Path(path)
    with urllib.request.urlopen(url, timeout=30) as response:
        data = response.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"{url} is larger than {MAX_BYTES} bytes: refused")
    if gunzip:
        data = _gunzip(data, url)
    actual = sha256_hex(data)
    if actual != sha256:
        raise ValueError(
            f"checksum mismatch for {path.name} from {url}: expected SHA-256 {sha256}, "
            f"got {actual}; the file was refused and not saved"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def read_idx(path: str | Path) -> torch.Tensor:
    """Parse an IDX file (the format of the MNIST files), gzipped or not.

    The header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a
    big-endian uint32; the data follow, big-endian, row-major. Returns a tensor of that
    shape and type, e.g. ``uint8 [10000, 28, 28]`` for ``t10k-images-idx3-ubyte``.
    A malformed file (bad magic number, unknown type, wrong length) raises ``ValueError``.
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, path.name)
    if len(data) < 4 or data[:2] != b"\x00\x00":
        raise ValueError(f"{path.name} is not an IDX file: bad magic number {data[:4].hex()}")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path.name}: unknown IDX type code 0x{code:02x}")
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise ValueError(f"{path.name}: IDX header with {ndim} dimensions is truncated or empty")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[code])
    body = len(data) - 4 - 4 * ndim
    if body != int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(
            f"{path.name}: header says shape {shape} of {dtype.name} "
            f"({int(np.prod(shape)) * dtype.itemsize} bytes) but the file holds {body} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(shape)
    return torch.from_numpy(array.astype(dtype.newbyteorder("=")))


def package_file(package: str, relative: str) -> Path:
    """The path of a data file inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ValueError(f"package {package!r} is not installed; pip install it")
    return Path(spec.origin).parent / relative
