"""`Marlin.extract_features` against the official features of the oracle clips, within the Rust
tests' tolerances (tests/oracle_encoder.rs), and what it accepts as input."""

import numpy as np
import pytest

import marlin_rs

# max-abs tolerances of tests/oracle_encoder.rs
TOLERANCE = {"marlin_tiny": 2e-5, "marlin_vit_small_random": 1e-4}


def clip_input(oracle, name):
    frames = np.load(oracle / "clips" / f"{name}.u8.npy")  # (16, 224, 224, 3) uint8
    return (frames.astype(np.float32) / 255).transpose(3, 0, 1, 2)[None]  # (1, 3, 16, 224, 224)


@pytest.mark.parametrize("folder", sorted(TOLERANCE))
def test_features_match_the_official_ones(oracle, tiny, vit_small, folder):
    model = tiny if folder == "marlin_tiny" else vit_small
    for name in ["face", "noise"]:
        x = clip_input(oracle, name)
        seq = model.extract_features(x)  # the official default: keep_seq=True
        pooled = model.extract_features(x, keep_seq=False)
        want_seq = np.load(oracle / "features" / folder / f"{name}.seq.npy")
        want = np.load(oracle / "features" / folder / f"{name}.mean.npy")
        assert seq.dtype == np.float32 and seq.shape == (1, 1568, model.dim)
        assert pooled.dtype == np.float32 and pooled.shape == (1, model.dim)
        assert np.abs(seq[0] - want_seq).max() <= TOLERANCE[folder], f"{folder} {name} per token"
        assert np.abs(pooled[0] - want).max() <= TOLERANCE[folder], f"{folder} {name} pooled"


def test_a_batch_gives_each_clip_its_own_features(oracle, tiny):
    x = np.concatenate([clip_input(oracle, "noise"), clip_input(oracle, "face")])
    got = tiny.extract_features(x, keep_seq=False)
    assert got.shape == (2, 64)
    for row, name in zip(got, ["noise", "face"]):
        want = np.load(oracle / "features" / "marlin_tiny" / f"{name}.mean.npy")
        assert np.abs(row - want).max() <= 2e-5


class TensorLike:
    """What a CPU torch tensor offers numpy: `__array__` (torch is not imported)."""

    def __init__(self, array):
        self.array = array

    def __array__(self, dtype=None, copy=None):
        return self.array if dtype is None else self.array.astype(dtype)


def test_array_likes_and_other_dtypes_are_taken(oracle, tiny):
    x = clip_input(oracle, "face")
    want = tiny.extract_features(x, keep_seq=False)
    for given in [TensorLike(x), memoryview(x), x.astype(np.float64), np.asfortranarray(x)]:
        got = tiny.extract_features(given, keep_seq=False)
        assert np.abs(got - want).max() <= 1e-6, type(given)


def test_a_wrong_shape_is_a_value_error_naming_the_shape(tiny):
    with pytest.raises(ValueError, match=r"\[1, 3, 8, 224, 224\].*\(B, 3, 16, 224, 224\)"):
        tiny.extract_features(np.zeros((1, 3, 8, 224, 224), np.float32))


def test_the_other_checkpoint_layouts_load(oracle):
    x = clip_input(oracle, "face")
    want = np.load(oracle / "features" / "marlin_tiny" / "face.mean.npy")
    for layout in ["encoder.legacy.pt", "full.pt", "hf.safetensors"]:
        m = marlin_rs.Marlin.from_file(str(oracle / "marlin_tiny.yaml"), str(oracle / "models" / f"marlin_tiny.{layout}"))
        assert np.abs(m.extract_features(x, keep_seq=False)[0] - want).max() <= 2e-5, layout


def test_a_lightning_ckpt_loads_as_the_official_from_file_loads_it(oracle, tmp_path):
    from lightning_ckpt import write_lightning_ckpt

    ckpt = tmp_path / "marlin_tiny.ckpt"
    write_lightning_ckpt(oracle / "models" / "marlin_tiny.encoder.pt", ckpt)
    m = marlin_rs.Marlin.from_file(str(oracle / "marlin_tiny.yaml"), str(ckpt))
    want = np.load(oracle / "features" / "marlin_tiny" / "face.mean.npy")
    assert np.abs(m.extract_features(clip_input(oracle, "face"), keep_seq=False)[0] - want).max() <= 2e-5


def test_library_log_events_reach_python_logging(oracle, caplog):
    with caplog.at_level("INFO", logger="marlin_rs"):
        marlin_rs.Marlin.from_file(str(oracle / "marlin_tiny.yaml"), str(oracle / "models" / "marlin_tiny.encoder.pt"))
    messages = [r.getMessage() for r in caplog.records if r.name == "marlin_rs"]
    assert any(m.startswith("loaded checkpoint") and "marlin_tiny.encoder.pt" in m for m in messages), messages


def test_a_marlin_pickles_as_its_checkpoint_and_options(oracle, tiny):
    import pickle

    again = pickle.loads(pickle.dumps(tiny))
    x = clip_input(oracle, "noise")
    assert np.array_equal(again.extract_features(x, keep_seq=False), tiny.extract_features(x, keep_seq=False))
    assert again.checkpoint == tiny.checkpoint and again.dim == 64


def test_the_onnx_cpu_backend_gives_the_same_features(oracle, monkeypatch):
    # ONNX Runtime as tools/setup.sh fetches it (tools/onnxruntime.sh), as the Rust tests find it
    from conftest import REPO

    found = sorted((REPO / "target" / "onnxruntime").glob("*/onnxruntime/capi/libonnxruntime.so.*"))
    assert found, f"no ONNX Runtime under {REPO / 'target' / 'onnxruntime'}: run tools/onnxruntime.sh"
    runtime = found[-1]
    monkeypatch.setenv("ORT_DYLIB_PATH", str(runtime))
    m = marlin_rs.Marlin.load(oracle / "models" / "marlin_tiny.encoder.pt", config=oracle / "marlin_tiny.yaml", backend="onnx-cpu")
    assert m.describe().startswith("onnx")
    want = np.load(oracle / "features" / "marlin_tiny" / "noise.mean.npy")
    assert np.abs(m.extract_features(clip_input(oracle, "noise"), keep_seq=False)[0] - want).max() <= 1e-4
