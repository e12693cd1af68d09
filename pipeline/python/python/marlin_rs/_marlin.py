"""`Marlin`: marlin-pytorch 0.3.4's `Marlin` API on the marlin-rs library."""

import os
from typing import Any, Optional, Tuple, Union

import numpy as np

from . import _native

PathLike = Union[str, os.PathLike]


class Marlin:
    """A MARLIN encoder: the official `marlin_pytorch.Marlin` API, returning float32 numpy arrays.

    Make one with `Marlin.from_file`, `Marlin.from_online` (as marlin-pytorch) or `Marlin.load`
    (every option). It can be pickled (the checkpoint is opened again where it is unpickled) and
    used in `fork`ed and `spawn`ed worker processes.
    """

    def __init__(self, engine: "_native.Engine", recipe: Tuple[Any, ...]) -> None:
        self._engine = engine
        self._recipe = recipe

    @classmethod
    def load(
        cls,
        path_or_name: PathLike,
        config: Optional[PathLike] = None,
        backend: str = "cpu",
        precision: str = "f32",
        threads: int = 0,
    ) -> "Marlin":
        """Opens a checkpoint file or a released model fetched into the cache.

        Args:
            path_or_name: a checkpoint (`.pt` zip or legacy, a Lightning `.ckpt`, `.safetensors`,
                as the released files and the Hugging Face mirrors store them) or a released name
                (`vit_small_ytf`, `marlin_vit_base_ytf`, ...) already in the cache (`fetch`).
            config: the architecture: MARLIN's YAML model config, a preset (`vit_small`) or a
                released name; default: the released architecture the weights' shapes give.
            backend: where the encoder computes: `cpu` (exact to the official code), `onnx-cpu`,
                `cuda`, `tensorrt` (the ONNX backends need ONNX Runtime: `fetch("onnxruntime")`).
            precision: `f32` (the official features), `bf16` or `int8` (faster, cosine ≥ 0.999).
            threads: encoder threads, 0 for every core.

        Raises:
            MarlinFileNotFoundError: no such checkpoint (nor a fetched released name).
            MarlinValueError: an unknown backend, precision or architecture.
            MarlinError: a file that is not a MARLIN checkpoint (the message says why).
        """
        path_or_name = os.fspath(path_or_name)
        config = None if config is None else os.fspath(config)
        recipe = (path_or_name, config, backend, precision, threads)
        return cls(_native.Engine(path_or_name, config, backend, precision, threads), recipe)

    @classmethod
    def from_file(cls, model_name: str, path: PathLike) -> "Marlin":
        """The official `Marlin.from_file`: the architecture `model_name` with the weights at `path`.

        Args:
            model_name: a released name (`marlin_vit_small_ytf`, ...), a preset (`vit_small`) or
                MARLIN's YAML model config file.
            path: the checkpoint: what the official accepts (a `.pt` state dict, a Lightning
                `.ckpt` whose `state_dict` holds the model, discriminator keys ignored) and the
                other layouts `Marlin.load` reads. A full checkpoint's decoder is not needed for
                features and is left unused.
        """
        return cls.load(path, config=model_name)

    @classmethod
    def from_online(cls, model_name: str, full_model: bool = False) -> "Marlin":
        """The official `Marlin.from_online`: a released model, downloaded on first use.

        The download goes to marlin's cache (`MARLIN_CACHE_DIR`, else ~/.cache/marlin, shared
        with the `marlin` command), resumes a partial file and is checked to load before it is
        kept.

        Args:
            model_name: `marlin_vit_small_ytf`, `marlin_vit_base_ytf` or `marlin_vit_large_ytf`
                (the `marlin_` prefix may be left out).
            full_model: download the full model (encoder and decoder) rather than the encoder.
        """
        path = _native.fetch(model_name, full_model, False)
        return cls.load(path, config=model_name)

    @property
    def dim(self) -> int:
        """Feature width D (384 for vit_small, 768 vit_base, 1024 vit_large)."""
        return self._engine.dim

    @property
    def config_name(self) -> str:
        """The architecture's name, e.g. `marlin_vit_small_ytf`."""
        return self._engine.config_name

    @property
    def checkpoint(self) -> Optional[str]:
        """The checkpoint file the weights came from."""
        path = self._engine.checkpoint
        return None if path is None else os.fspath(path)

    def describe(self) -> str:
        """Where and how the encoder computes, e.g. `cpu f32, 2 threads`."""
        return self._engine.describe()

    def sha256(self) -> Optional[str]:
        """The SHA-256 of the checkpoint file (lowercase hex)."""
        return self._engine.sha256()

    def extract_features(self, x: Any, keep_seq: bool = True) -> np.ndarray:
        """The official `Marlin.extract_features`: the features of a batch of clips.

        Args:
            x: clips as float32 `(B, 3, 16, 224, 224)` in [0, 1] (RGB, `frames / 255`): a numpy
                array or anything numpy can read (`__array__`, the buffer protocol: a CPU torch
                tensor too, without importing torch). Other dtypes are converted to float32.
            keep_seq: every token's feature rather than their pooled mean (the official
                default is True here).

        Returns:
            float32 `(B, 1568, D)` with `keep_seq`, else `(B, D)`.
        """
        array = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
        return self._engine.extract_features(array, keep_seq)

    def extract_video(
        self,
        video_path: PathLike,
        crop_face: bool = False,
        sample_rate: int = 2,
        stride: int = 16,
        reduction: str = "none",
        keep_seq: bool = False,
        detector_device: Optional[str] = None,
        *,
        crop_mode: str = "compat",
        faces: str = "largest",
        tail: Optional[str] = None,
        batch: Optional[int] = None,
        detector: Optional[PathLike] = None,
        detector_backend: Optional[str] = None,
        max_clips: Optional[int] = None,
        orientation: Optional[str] = None,
    ) -> np.ndarray:
        """The official `Marlin.extract_video`: a video's features, one row per clip.

        Clips are cut as the official code cuts them: 16 frames, every `sample_rate`-th, windows
        every `stride * sample_rate` frames, the frames after the last full window dropped. Any
        video GStreamer decodes is read (no `nb_frames` needed), in the official colours.

        Args:
            video_path: the video. Without `crop_face` its frames must be 224x224 face crops.
            crop_face: detect the face in every sampled frame (FaceX-Zoo's RetinaFace, found in
                marlin's cache: `marlin_rs.fetch("retinaface")`, or `detector=`) and crop it.
            sample_rate: take every n-th frame inside a clip window.
            stride: clip windows start every `stride * sample_rate` frames.
            reduction: `none` (a row per clip), `mean` or `max` over clips.
            keep_seq: every token's feature per clip rather than their pooled mean.
            detector_device: accepted for compatibility and ignored: the detector runs where
                `detector_backend` says (the CPU by default).

        Keyword-only extras:
            crop_mode: `compat` (default): the official crops bit for bit, so the features are
                the official ones; `marlin` fixes the official code's quirks: it hands the
                detector BGR frames (the official code passes RGB to a detector trained on BGR),
                smooths the box over time and keeps the last face through frames without one
                (MARLIN's own dataset preprocessing); `aligned` warps the 5 landmarks onto
                ArcFace's template.
            faces: with several faces, `largest` (default), `score` (the official choice: the
                best-scored) or `all` (a row per clip and face track; not with a reduction).
                `compat` always takes the official choice.
            tail: frames after the last full window: `drop` (the official rule) or `pad`.
            batch: clips per encoder forward (default 2).
            detector: FaceX-Zoo's `face_detection_retina.pkl` (default: marlin's cache).
            detector_backend: where the detector computes (default `cpu`).
            max_clips: stop after this many clips.
            orientation: a video with a display rotation (phones): `display` (turned, as players
                show it), `stored` (as recorded) or `official` (as the official code reads it:
                turned for videos over 32 frames, stored for shorter ones); default: `official`
                with crop_mode `compat`, else `display`.

        Returns:
            float32 `(n_clips, D)`, `(n_clips, 1568, D)` with `keep_seq`; reduced: `(D,)` or
            `(1568, D)`.

        Raises:
            MarlinFileNotFoundError: no such video, or no face detector.
            MarlinValueError: an unknown choice or a number out of range (named).
            MarlinError: a file that is not a video, or that cannot be decoded.
            KeyboardInterrupt: Ctrl-C (it stops within a clip).
        """
        del detector_device
        return self._engine.extract_video(
            os.fspath(video_path),
            crop_face,
            sample_rate,
            stride,
            reduction,
            keep_seq,
            crop_mode,
            faces,
            tail,
            batch,
            None if detector is None else os.fspath(detector),
            detector_backend,
            max_clips,
            orientation,
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Marlin.load, self._recipe)

    def __repr__(self) -> str:
        return f"Marlin({self.config_name}, {self.checkpoint!r}, {self.describe()})"
