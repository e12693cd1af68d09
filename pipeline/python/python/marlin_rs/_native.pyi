"""Type stubs of the compiled module (pipeline/python/src); the public API is `marlin_rs`'s
(typed inline: `__init__.py`, `_marlin.py`)."""

from os import PathLike
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

_Path = Union[str, PathLike]

__version__: str

class Engine:
    def __init__(
        self,
        spec: str,
        config: Optional[str] = None,
        backend: str = "cpu",
        precision: str = "f32",
        threads: int = 0,
    ) -> None: ...
    @property
    def dim(self) -> int: ...
    @property
    def config_name(self) -> str: ...
    @property
    def checkpoint(self) -> Optional[PathLike]: ...
    def describe(self) -> str: ...
    def sha256(self) -> Optional[str]: ...
    def extract_features(self, x: np.ndarray, keep_seq: bool) -> np.ndarray: ...
    def extract_video(
        self,
        video_path: str,
        crop_face: bool,
        sample_rate: int,
        stride: int,
        reduction: str,
        keep_seq: bool,
        crop_mode: str,
        faces: str,
        tail: Optional[str],
        batch: Optional[int],
        detector: Optional[str],
        detector_backend: Optional[str],
        max_clips: Optional[int],
        orientation: Optional[str],
    ) -> np.ndarray: ...

def featurize(
    inputs: List[str],
    out: str,
    settings_file: Optional[str],
    overrides: str,
    resume: bool,
    shard: Optional[str],
    quiet: bool,
) -> Dict[str, Any]: ...
def read_features(dir: _Path) -> Tuple[np.ndarray, List[str], List[List[str]]]: ...
def detect(
    input: str, detector: Optional[str], backend: str, threads: int, min_size: float
) -> Dict[str, np.ndarray]: ...
def fetch(name: str, full: bool, quiet: bool) -> PathLike: ...
