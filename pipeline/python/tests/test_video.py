"""`Marlin.extract_video` against the official `extract_video` (the oracle's videos/): the
cropped videos as they are, the wild ones with `crop_face=True` (compat crops), every clip within
the official suite's mean-abs 1.5e-4; the shapes of every reduction and keep_seq; the errors."""

import json

import numpy as np
import pytest

import marlin_rs

WILD = ["video01", "video02", "video03"]
CROPPED = ["cropped01", "cropped02", "cropped04", "cropped05"]


def check(got, want, what):
    assert got.dtype == np.float32
    assert got.shape == want.shape, f"{what}: clip count"
    mad = np.abs(got - want).mean(axis=1)
    assert mad.max() < 1.5e-4, f"{what}: mean-abs-diff per clip {mad}"


@pytest.mark.parametrize("video", CROPPED + WILD)
def test_tiny_matches_the_official_extract_video(oracle, media, detector, tiny, video):
    crop = video in WILD
    assert json.loads((oracle / "videos" / "videos.json").read_text())["videos"][f"{video}.mp4"]["crop_face"] == crop
    got = tiny.extract_video(str(media / "marlin" / f"{video}.mp4"), crop_face=crop, detector=detector)
    check(got, np.load(oracle / "videos" / "marlin_tiny" / f"{video}.npy"), video)


@pytest.mark.parametrize("video", ["cropped01", "video01"])
def test_vit_small_matches_the_official_extract_video(oracle, media, detector, vit_small, video):
    got = vit_small.extract_video(media / "marlin" / f"{video}.mp4", crop_face=video in WILD, detector=detector)
    check(got, np.load(oracle / "videos" / "marlin_vit_small_random" / f"{video}.npy"), video)


def test_every_reduction_and_keep_seq_has_the_official_shape(oracle, media, tiny):
    video = media / "marlin" / "cropped02.mp4"  # 3 clips
    rows = tiny.extract_video(video)
    for reduction in ["none", "mean", "max"]:
        for keep_seq in [False, True]:
            got = tiny.extract_video(video, reduction=reduction, keep_seq=keep_seq)
            row = (1568, 64) if keep_seq else (64,)
            assert got.shape == ((3,) + row if reduction == "none" else row), (reduction, keep_seq)
            assert got.dtype == np.float32 and got.flags.c_contiguous
            if not keep_seq and reduction != "none":
                want = rows.mean(axis=0) if reduction == "mean" else rows.max(axis=0)
                assert np.abs(got - want).max() <= 1e-6, reduction


def test_sampling_arguments_cut_clips_as_the_official_rule(media, tiny):
    # cropped01 has 143 frames: windows start at range(0, 143 - 16 * sample_rate, stride * sample_rate)
    video = media / "marlin" / "cropped01.mp4"
    assert tiny.extract_video(video, sample_rate=1, stride=16).shape[0] == 8
    assert tiny.extract_video(video, stride=8).shape[0] == 7
    assert tiny.extract_video(video, max_clips=2).shape[0] == 2


def test_a_missing_video_is_a_file_not_found_error_naming_it(tiny, tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(FileNotFoundError, match="nope.mp4: no such file") as e:
        tiny.extract_video(missing)
    assert isinstance(e.value, marlin_rs.MarlinError)


def test_a_file_that_is_no_video_is_a_marlin_error_naming_it(tiny, oracle):
    with pytest.raises(marlin_rs.MarlinError, match=r"README.md: not a video") as e:
        tiny.extract_video(oracle / "README.md")
    assert not isinstance(e.value, (FileNotFoundError, ValueError))


def test_bad_settings_are_value_errors_with_the_cli_message(media, tiny):
    video = media / "marlin" / "cropped01.mp4"
    with pytest.raises(ValueError, match="`avg` is not a valid reduction: choose one of none, mean, max"):
        tiny.extract_video(video, reduction="avg")
    with pytest.raises(ValueError, match="`square` is not a valid crop mode"):
        tiny.extract_video(video, crop_face=True, crop_mode="square")
    with pytest.raises(ValueError, match="sample_rate must be in"):
        tiny.extract_video(video, sample_rate=0)
    with pytest.raises(ValueError, match="`sideways` is not a valid orientation"):
        tiny.extract_video(video, orientation="sideways")


def test_a_missing_detector_says_where_it_looked(media, tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match="no-detector.pkl"):
        tiny.extract_video(media / "marlin" / "video01.mp4", crop_face=True, detector=tmp_path / "no-detector.pkl")


def test_bad_checkpoints_are_errors_naming_the_file(oracle, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt: no such checkpoint file"):
        marlin_rs.Marlin.load(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all" * 10)
    with pytest.raises(marlin_rs.MarlinError, match="garbage.pt"):
        marlin_rs.Marlin.from_file("vit_small", garbage)
    with pytest.raises(ValueError, match="vit_huge"):
        marlin_rs.Marlin.from_file("vit_huge", oracle / "models" / "marlin_tiny.encoder.pt")
    with pytest.raises(marlin_rs.MarlinError, match="contradicts|shape mismatch"):
        marlin_rs.Marlin.from_file("vit_small", oracle / "models" / "marlin_tiny.encoder.pt")


def test_the_gil_is_released_while_a_video_is_read_and_encoded(media, tiny):
    import threading
    import time

    took = []

    def work():
        t = time.perf_counter()
        tiny.extract_video(media / "marlin" / "cropped01.mp4")
        took.append(time.perf_counter() - t)

    worker = threading.Thread(target=work)
    worker.start()
    last, longest = time.perf_counter(), 0.0
    while worker.is_alive():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    worker.join()
    # with the GIL held through the call, this thread would stall for all of it
    assert longest < took[0] / 2, f"this thread stalled {longest:.3f} s of the call's {took[0]:.3f} s"


def test_threads_share_one_model(oracle, media, detector):
    from concurrent.futures import ThreadPoolExecutor

    # a fresh model: its detector is opened by whichever thread comes first
    model = marlin_rs.Marlin.from_file(str(oracle / "marlin_tiny.yaml"), str(oracle / "models" / "marlin_tiny.encoder.pt"))
    videos = ["cropped04", "video03", "cropped05", "video03"]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda v: model.extract_video(media / "marlin" / f"{v}.mp4", crop_face=v.startswith("video"), detector=detector), videos))
    for video, features in zip(videos, got):
        check(features, np.load(oracle / "videos" / "marlin_tiny" / f"{video}.npy"), video)
