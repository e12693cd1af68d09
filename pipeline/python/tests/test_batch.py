"""`featurize` + `read_features` (the batch runner and its folder read back), `detect`."""

import numpy as np
import pytest

import marlin_rs


def test_featurize_then_read_features_round_trip(oracle, media, tmp_path):
    videos = [media / "marlin" / f"{v}.mp4" for v in ["cropped01", "cropped02"]]
    out = tmp_path / "features"
    summary = marlin_rs.featurize(
        videos,
        out,
        model=str(oracle / "models" / "marlin_tiny.encoder.pt"),
        model_config=str(oracle / "marlin_tiny.yaml"),
        quiet=True,
    )
    assert (summary["videos"], summary["done"], summary["failed"], summary["rows"]) == (2, 2, 0, 7)
    assert summary["features"] == out / "features.npy" and summary["features"].is_file()
    features, rows = marlin_rs.read_features(out)
    assert features.dtype == np.float32 and features.shape == (7, 64)
    assert len(rows) == 7 and {"video_id", "path", "clip_index"} <= set(rows[0])
    for video in ["cropped01", "cropped02"]:
        mine = [i for i, r in enumerate(rows) if r["path"].endswith(f"{video}.mp4")]
        assert [rows[i]["clip_index"] for i in mine] == [str(k) for k in range(len(mine))]
        want = np.load(oracle / "videos" / "marlin_tiny" / f"{video}.npy")
        assert np.abs(features[mine] - want).mean(axis=1).max() < 1.5e-4, video
    # a second run over the same folder resumes: nothing left to do, nothing lost
    again = marlin_rs.featurize(videos, out, model=str(oracle / "models" / "marlin_tiny.encoder.pt"),
                                model_config=str(oracle / "marlin_tiny.yaml"), resume=True, quiet=True)
    assert again["rows"] == 7
    assert np.array_equal(marlin_rs.read_features(out)[0], features)


def test_featurize_refuses_unknown_settings_by_name(oracle, media, tmp_path):
    with pytest.raises(ValueError, match="unknown field `bacth_size`"):
        marlin_rs.featurize(media / "marlin" / "cropped01.mp4", tmp_path, model="x.pt", bacth_size=2)
    with pytest.raises(ValueError, match="batch_size must be in"):
        marlin_rs.featurize(media / "marlin" / "cropped01.mp4", tmp_path, model="x.pt", batch_size=0)
    with pytest.raises(ValueError, match="`wavy` is not a valid crop mode"):
        marlin_rs.featurize(media / "marlin" / "cropped01.mp4", tmp_path, model="x.pt", faces={"mode": "wavy"})


def test_detect_finds_the_official_detections(oracle, media, detector):
    faces = marlin_rs.detect(media / "registry" / "single_face.jpg", detector)
    want = np.load(oracle / "detector" / "single_face.npz")["dets"]
    assert faces["boxes"].shape == (len(want), 4) and faces["landmarks"].shape == (len(want), 5, 2)
    assert np.abs(faces["boxes"][0] - want[0, :4]).max() < 0.5
    assert abs(faces["scores"][0] - want[0, 4]) < 1e-3
    assert (faces["frame"] == 0).all()
    clip = marlin_rs.detect(media / "registry" / "single_face.mp4", detector)
    assert len(clip["scores"]) > 0 and clip["frame"].max() > 0


def test_fetch_puts_the_detector_where_crop_face_finds_it(oracle, media, detector, tiny, serve, tmp_path, monkeypatch):
    url = serve({"face_detection_retina.pkl": detector.read_bytes()})
    cache = tmp_path / "cache"
    monkeypatch.setenv("MARLIN_CACHE_DIR", str(cache))
    monkeypatch.setenv("MARLIN_DETECTOR_URL", f"{url}/face_detection_retina.pkl")
    with pytest.raises(FileNotFoundError, match="marlin models fetch retinaface"):
        tiny.extract_video(media / "marlin" / "video03.mp4", crop_face=True, max_clips=1)
    path = marlin_rs.fetch("retinaface", quiet=True)
    assert path == str(cache / "face_detection_retina.pkl")
    got = tiny.extract_video(media / "marlin" / "video03.mp4", crop_face=True, max_clips=1)
    want = np.load(oracle / "videos" / "marlin_tiny" / "video03.npy")[:1]
    assert np.abs(got - want).mean() < 1.5e-4


def test_from_online_downloads_into_the_cache_once(oracle, serve, tmp_path, monkeypatch):
    # the release in miniature: the oracle's vit_small weights under the released file name
    weights = (oracle / "models" / "marlin_vit_small_random.encoder.f16.safetensors").read_bytes()
    url = serve({"marlin_vit_small_ytf.encoder.pt": weights})
    monkeypatch.setenv("MARLIN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MARLIN_RELEASE_URL", url)
    m = marlin_rs.Marlin.from_online("marlin_vit_small_ytf")
    assert m.checkpoint == str(tmp_path / "cache" / "marlin_vit_small_ytf.encoder.pt")
    frames = np.load(oracle / "clips" / "noise.u8.npy")
    x = (frames.astype(np.float32) / 255).transpose(3, 0, 1, 2)[None]
    want = np.load(oracle / "features" / "marlin_vit_small_random" / "noise.mean.npy")
    assert np.abs(m.extract_features(x, keep_seq=False)[0] - want).max() <= 1e-4
    # cached: no download (the address now answers nothing)
    monkeypatch.setenv("MARLIN_RELEASE_URL", "http://127.0.0.1:9/nothing")
    assert marlin_rs.Marlin.from_online("vit_small_ytf").checkpoint == m.checkpoint
    with pytest.raises(ValueError, match="unknown model `vit_huge_ytf`"):
        marlin_rs.Marlin.from_online("vit_huge_ytf")
