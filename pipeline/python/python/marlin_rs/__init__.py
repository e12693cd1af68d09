"""MARLIN facial-video features without torch.

A drop-in for marlin-pytorch 0.3.4: `Marlin.from_file`, `Marlin.from_online`,
`Marlin.extract_video` and `Marlin.extract_features` take the same arguments with the same
defaults and return float32 numpy arrays with the official shapes and values. Also:
`featurize` (many videos into one folder, resumable), `read_features` (that folder back),
`detect` (faces) and `fetch` (released checkpoints, the face detector, into marlin's cache).

Long calls release the GIL and stop on Ctrl-C (KeyboardInterrupt). Errors are `MarlinError`s
(`MarlinFileNotFoundError` is a FileNotFoundError, `MarlinValueError` a ValueError) with the
`marlin` command's message. Library log events go to the `logging` logger "marlin_rs".
"""

import json
import os
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native
from ._errors import MarlinError, MarlinFileNotFoundError, MarlinValueError
from ._marlin import Marlin, PathLike

__version__: str = _native.__version__

# a fork right after decoding waits until GStreamer's pool threads are gone (see src/fork.rs)
os.register_at_fork(before=_native.before_fork)

__all__ = [
    "Marlin",
    "MarlinError",
    "MarlinFileNotFoundError",
    "MarlinValueError",
    "detect",
    "featurize",
    "fetch",
    "read_features",
]

# `featurize` keywords that set a key inside a section of the settings (as the command's flags).
_SECTION_KEYWORDS = {
    "crop_face": ("faces", "crop_face"),
    "detector": ("faces", "detector"),
    "detector_backend": ("faces", "backend"),
    "keep_seq": ("output", "keep_seq"),
    "layout": ("output", "layout"),
}


def featurize(
    inputs: Union[PathLike, Sequence[PathLike]],
    out: PathLike,
    *,
    settings: Optional[PathLike] = None,
    resume: bool = False,
    shard: Optional[str] = None,
    quiet: bool = False,
    **keys: Any,
) -> Dict[str, Any]:
    """Features of many videos into one folder, as `marlin featurize`.

    Writes `features.npy` (a row per clip), `clips.csv` (what each row is), `failures.csv`
    (videos that failed, with why; the others are written) and `manifest.json` into `out`.
    Every file is written whole or not at all; an interrupted run (Ctrl-C raises
    KeyboardInterrupt) continues with `resume=True`.

    Args:
        inputs: video files, folders (searched for videos) and manifest CSVs (a `path` column;
            `video_id`, `label`, `split` and other columns are carried into clips.csv).
        out: the output folder.
        settings: a settings YAML file (configs/default.yaml documents every key).
        resume: continue the run already in `out` (finished videos are skipped).
        shard: `"I/N"`, this machine's share of the videos.
        quiet: no progress on stderr.
        **keys: settings keys, over the file's: `model` (a checkpoint or released name),
            `batch_size`, `jobs`, `precision`, sections as dicts (`sampling={"stride": 8}`,
            `faces={"mode": "marlin"}`), and as the command's flags `crop_face`, `detector`,
            `detector_backend`, `keep_seq`, `layout`.

    Returns:
        `out` (the folder written; a shard's own when sharded), the paths `features`,
        `clips`, `failures`, `manifest`, and the counts `videos`, `done`, `failed`,
        `pending`, `rows`.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    overrides: Dict[str, Any] = {}
    for key, value in keys.items():
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if key in _SECTION_KEYWORDS:
            section, name = _SECTION_KEYWORDS[key]
            overrides.setdefault(section, {})[name] = value
        elif isinstance(value, dict) and isinstance(overrides.get(key), dict):
            overrides[key].update(value)
        else:
            overrides[key] = value
    return _native.featurize(
        [os.fspath(p) for p in inputs],
        os.fspath(out),
        None if settings is None else os.fspath(settings),
        json.dumps(overrides),
        resume,
        shard,
        quiet,
    )


def read_features(dir: PathLike, as_frame: bool = False) -> Tuple[np.ndarray, Any]:
    """A `featurize` folder back: `(features, rows)`.

    Args:
        dir: the folder `featurize` wrote (`features.npy`, `clips.csv`).
        as_frame: rows as a pandas DataFrame (typed columns) rather than a list of dicts
            (pandas is imported only then).

    Returns:
        `features` float32 `(rows, D)` (or `(rows, 1568, D)` with keep_seq), and per row of it
        a dict of clips.csv's columns (`video_id`, `path`, `clip_index`, ... as text).
    """
    features, columns, rows = _native.read_features(os.fspath(dir))
    if as_frame:
        import pandas

        return features, pandas.read_csv(os.path.join(os.fspath(dir), "clips.csv"))
    return features, [dict(zip(columns, row)) for row in rows]


def detect(
    image_or_video: PathLike,
    detector: Optional[PathLike] = None,
    *,
    backend: str = "cpu",
    threads: int = 0,
    min_size: float = 0.0,
) -> Dict[str, np.ndarray]:
    """Faces in an image or in every frame of a video (FaceX-Zoo's RetinaFace), as `marlin detect`.

    Args:
        image_or_video: a JPEG/PNG/... image or any video GStreamer decodes.
        detector: `face_detection_retina.pkl` (default: marlin's cache, `fetch("retinaface")`).
        backend: where the detector computes.
        threads: detector threads, 0 for every core.
        min_size: faces narrower than this many pixels are left out.

    Returns:
        one entry per face, best first within a frame: `frame` (int, 0 for an image),
        `track` (an id linking a face across frames), `boxes` float32 `(N, 4)` x1, y1, x2, y2,
        `scores` `(N,)`, `landmarks` `(N, 5, 2)` (eyes, nose, mouth corners) in pixels.
    """
    return _native.detect(
        os.fspath(image_or_video),
        None if detector is None else os.fspath(detector),
        backend,
        threads,
        min_size,
    )


def fetch(name: str, full: bool = False, quiet: bool = False) -> str:
    """Downloads into marlin's cache, as `marlin models fetch`; returns the file's path.

    The cache is `MARLIN_CACHE_DIR`, else ~/.cache/marlin (the `marlin` command's). A partial
    download resumes; the file is checked to load before it is kept; a cached file is not
    downloaded again.

    Args:
        name: a released model (`vit_small_ytf`, `vit_base_ytf`, `vit_large_ytf`, with or
            without `marlin_`), `retinaface` (the face detector `crop_face` uses) or
            `onnxruntime` (ONNX Runtime's CPU library for the onnx backends).
        full: the full model (encoder and decoder) rather than the encoder.
        quiet: no progress on stderr.
    """
    return os.fspath(_native.fetch(name, full, quiet))


