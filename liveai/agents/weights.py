"""Weights files, checked before they are trusted: size, the sha256 their JSON records, safe loading only.

Why: a truncated or altered .pt gave a raw torch traceback whose hint says
to retry with `weights_only=False` (which would run whatever the file
holds). Here every model's weights go through `load_weights`: the file's
size is checked (liveai.limits.MAX_WEIGHTS_BYTES), its sha256 is compared
with the one its JSON records (`sha256_12` or `model_version`), and it is
read with `torch.load(..., weights_only=True)`. Any failure is one
WeightsError naming the file and the fix (the JSON's retrain command, or
restoring the file); torch's own hint is never passed on.
`liveai doctor` runs `check_folder` on the committed weights.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from liveai.limits import MAX_WEIGHTS_BYTES

DIGEST_KEYS = ("sha256_12", "model_version", "sha256")
PACKAGE_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"     # the weights liveai ships


class WeightsError(ValueError):
    """Weights that cannot be used: damaged, altered, too big, or not weights; the message says the fix."""


def digest(path: str | Path, n: int = 12) -> str:
    """First `n` hex digits of the file's sha256 (the model version takes and JSONs record)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:n]


def meta_of(path: str | Path) -> dict[str, Any] | None:
    """The JSON beside the weights (same name, .json), or None when there is none or it cannot be read."""
    meta = Path(path).with_suffix(".json")
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def expected_digest(meta: dict[str, Any] | None) -> str | None:
    for key in DIGEST_KEYS:
        value = (meta or {}).get(key)
        if isinstance(value, str) and len(value) >= 8 and all(c in "0123456789abcdef" for c in value.lower()):
            return value.lower()
    return None


def fix_hint(path: str | Path, meta: dict[str, Any] | None = None) -> str:
    """How to get good weights back: the recorded retrain command, or restore the file."""
    meta = meta if meta is not None else meta_of(path)
    command = next((meta[k] for k in ("reproduce", "command") if isinstance((meta or {}).get(k), str)), None) \
        if meta else None
    shipped = Path(path).resolve().parent == PACKAGE_WEIGHTS
    restore = (f"restore it (`git checkout -- liveai/weights/{Path(path).name}`, or reinstall liveai)" if shipped
               else "replace it with a good copy")
    if command:
        return f"{restore}, or retrain: `{command.split('  ')[0].strip()}`"
    return restore


def verify(path: str | Path) -> str:
    """The file's digest, after the size check and the comparison with its JSON; WeightsError otherwise.

    Weights without a recorded digest (a user's own file) pass with their digest unchecked.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights {path} not found; {fix_hint(path)}")
    size = path.stat().st_size
    if size > MAX_WEIGHTS_BYTES:
        raise WeightsError(f"weights {path}: {size} bytes is over the limit of {MAX_WEIGHTS_BYTES} "
                           f"(liveai.limits.MAX_WEIGHTS_BYTES); {fix_hint(path)}")
    meta = meta_of(path)
    actual = digest(path)
    want = expected_digest(meta)
    if want is not None and not actual.startswith(want[:12]) and not want.startswith(actual):
        raise WeightsError(f"weights {path} are damaged or altered: sha256 {actual}, its JSON records {want[:12]}; "
                           f"{fix_hint(path, meta)}")
    return actual


def load_weights(path: str | Path) -> dict[str, Any]:
    """The checked file's contents as torch.load(weights_only=True) gives them (a dict); WeightsError otherwise."""
    import pickle

    import torch

    path = Path(path)
    verify(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, AttributeError, ImportError,
            TypeError, KeyError, IndexError, MemoryError) as exc:
        raise WeightsError(f"weights {path} cannot be read ({_reason(exc)}); {fix_hint(path)}") from None
    if not isinstance(blob, dict):
        raise WeightsError(f"weights {path} hold a {type(blob).__name__}, not liveai weights; {fix_hint(path)}")
    return blob


def _reason(exc: BaseException) -> str:
    """torch's error, first line only, without its advice to load unsafely."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if "weights_only" in str(exc) or isinstance(exc, (ImportError, AttributeError)):
        return "it holds something other than plain tensors; it is never loaded unsafely"
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


def check_folder(folder: str | Path) -> dict[str, str]:
    """Each .pt in `folder`: 'ok <digest>', 'ok <digest> (no checksum recorded)', or 'DAMAGED: ...'."""
    out = {}
    for path in sorted(Path(folder).glob("*.pt")):
        try:
            actual = verify(path)
        except (WeightsError, OSError) as exc:
            out[path.name] = f"DAMAGED: {exc}"
            continue
        recorded = expected_digest(meta_of(path)) is not None
        out[path.name] = f"ok {actual}" + ("" if recorded else " (no checksum recorded)")
    return out
