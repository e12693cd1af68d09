"""Where researchers call it: in data-loader worker processes made by `fork` (after the parent
used the module) and by `spawn`, two workers each; and Ctrl-C, which stops a long call within
a second with KeyboardInterrupt and leaves nothing half-written."""

import multiprocessing
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import marlin_rs


def features_of(args):
    model, video, crop, detector = args
    return video, model.extract_video(video, crop_face=crop, detector=detector)


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_two_workers_extract_as_the_parent(start, media, detector, tiny):
    jobs = [(str(media / "marlin" / "cropped01.mp4"), False), (str(media / "marlin" / "video03.mp4"), True)]
    # the parent uses the module first: its thread pools and GStreamer are started
    parent = {video: tiny.extract_video(video, crop_face=crop, detector=detector) for video, crop in jobs}
    with multiprocessing.get_context(start).Pool(2) as pool:
        got = dict(pool.map(features_of, [(tiny, video, crop, str(detector)) for video, crop in jobs * 2]))
    assert set(got) == set(parent)
    for video, features in got.items():
        assert np.array_equal(features, parent[video]), f"{start}: {video}"


def run_and_interrupt(setup, call, tmp_path, started=None):
    """Runs `setup` then `call` in a child Python, sends SIGINT 1.5 s into the call (after the
    file `started` appeared, when given); returns the seconds until the child caught
    KeyboardInterrupt (on `time.monotonic()`, a clock shared by processes) and its output."""
    script = f"""
import marlin_rs, time
{setup}
print("ready", flush=True)
try:
    {call}
    print("finished")
except KeyboardInterrupt:
    print("interrupted", time.monotonic())
"""
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path
    )
    assert child.stdout.readline().strip() == "ready"
    while started is not None and not started.exists() and child.poll() is None:
        time.sleep(0.05)
    time.sleep(1.5)  # inside the long call
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=30)
    caught = [float(line.split()[1]) for line in out.splitlines() if line.startswith("interrupted ")]
    assert caught, out
    return caught[0] - sent, out


def test_ctrl_c_stops_extract_video_within_a_second(oracle, media, detector, tmp_path):
    model = oracle / "models" / "marlin_vit_small_random.encoder.f16.safetensors"
    seconds, out = run_and_interrupt(
        f"m = marlin_rs.Marlin.load({str(model)!r})",
        f"m.extract_video({str(media / 'marlin' / 'video02.mp4')!r}, crop_face=True, detector={str(detector)!r})",
        tmp_path,
    )
    print(f"extract_video stopped {seconds:.2f} s after SIGINT")
    # detection stops at the next frame; an encoder batch in flight (two vit_small clips, about
    # a second on two busy cores) is finished first
    assert seconds < 2.0, f"{seconds:.2f} s after SIGINT"


def test_ctrl_c_stops_featurize_leaving_a_resumable_folder(oracle, media, detector, tmp_path):
    # featurize stops at the detector's next frame; an encoder batch in flight (one vit_small
    # clip here) is finished first, its rows dropped; finished videos are kept
    out_dir = tmp_path / "out"
    model = str(oracle / "models" / "marlin_vit_small_random.encoder.f16.safetensors")
    videos = [str(media / "marlin" / f"{v}.mp4") for v in ["video01", "video02", "video03"]]
    seconds, out = run_and_interrupt(
        "",
        f"marlin_rs.featurize({videos!r}, {str(out_dir)!r}, model={model!r}, crop_face=True, "
        f"detector={str(detector)!r}, batch_size=1, quiet=True)",
        tmp_path,
        started=out_dir / "features.npy.part",  # the engines are open, the run has begun
    )
    print(f"featurize stopped {seconds:.2f} s after SIGINT")
    assert seconds < 3.0, f"{seconds:.2f} s after SIGINT"
    assert not [p for p in os.listdir(out_dir) if p.endswith(".tmp")]
    # what was written is whole, and a resumed run finishes it
    done = marlin_rs.featurize(videos, out_dir, model=model, crop_face=True, detector=detector, resume=True, quiet=True)
    assert (done["done"], done["failed"], done["rows"]) == (3, 0, 22)
    features, rows = marlin_rs.read_features(out_dir)
    assert features.shape == (22, 384) and len(rows) == 22
