"""Reading .npz files that may be damaged: one ValueError naming the file, sizes checked before reading.

Why: an .npz is a zip of .npy arrays, and numpy allocates the shape an
array's header declares before it reads the data, so a damaged or hostile
header (a 40 GB array in a 1 KB file) would allocate before anything could
say no. Here each member's zip size and .npy header (shape, dtype) are
read first and checked against liveai.limits.MAX_NPZ_ARRAY_BYTES.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from liveai.data import DataError
from liveai.limits import MAX_NPZ_ARRAY_BYTES


def load_arrays(path: str | os.PathLike[str], expected: dict[str, int]) -> dict[str, np.ndarray]:
    """The arrays named in `expected` (name -> number of dimensions), or a ValueError naming the file.

    Never unpickles (allow_pickle=False). A missing file is FileNotFoundError.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    try:
        with zipfile.ZipFile(path) as zf:
            sizes = {info.filename: info.file_size for info in zf.infolist()}
            declared = {name: _declared_bytes(zf, f"{name}.npy") for name in expected if f"{name}.npy" in sizes}
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, RuntimeError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from exc
    out: dict[str, np.ndarray] = {}
    for name, ndim in expected.items():
        member = f"{name}.npy"
        if member not in sizes:
            raise DataError(f"{path}: no array {name!r} (has {', '.join(sorted(sizes)) or 'nothing'})")
        size = max(sizes[member], declared[name])
        if size > MAX_NPZ_ARRAY_BYTES:
            raise DataError(f"{path}: array {name!r} is {size} bytes, over the limit of "
                             f"{MAX_NPZ_ARRAY_BYTES} (liveai.limits.MAX_NPZ_ARRAY_BYTES)")
        try:
            with np.load(path, allow_pickle=False) as z:
                arr = z[name]
        except Exception as exc:  # zlib.error, ValueError (pickled/odd header), EOFError, OSError...
            raise DataError(f"{path}: array {name!r} cannot be read ({type(exc).__name__}: {exc})") from exc
        if arr.ndim != ndim:
            raise DataError(f"{path}: array {name!r} has shape {arr.shape}, expected {ndim} dimension(s)")
        out[name] = arr
    return out


def _declared_bytes(zf: zipfile.ZipFile, member: str) -> int:
    """Bytes the .npy header of `member` says its array holds (ValueError for a header numpy would refuse)."""
    with zf.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"{member}: .npy format version {version}")
    if dtype.hasobject:
        raise ValueError(f"{member}: holds Python objects (never unpickled)")
    count = 1
    for n in shape:
        count *= int(n)
    return count * dtype.itemsize
