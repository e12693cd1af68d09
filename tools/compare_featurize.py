#!/usr/bin/env python3
"""Checks that two `marlin featurize` output folders hold the same rows, whatever their order.

    tools/compare_featurize.py DIR_A DIR_B [--videos LIST] [--failed LIST]

Rows are matched by (video_id, clip_index, track_id); every clips.csv column but `row` and every
feature value must be equal (bit for bit), no key may appear twice in a folder, and both folders
must list the same failed videos. --videos LIST (one video id a line): the ids the run was given;
each must be either in clips.csv or in failures.csv of DIR_A, and nothing else. --failed LIST: the
ids that must have failed. Standard library only (CI has no numpy); exit status 1 with the first
differences on stderr when anything differs.
"""

import argparse
import ast
import csv
import struct
import sys
from pathlib import Path


def read_npy(path):
    """(shape, list of row byte strings) of a little-endian float32 .npy."""
    data = path.read_bytes()
    if data[:6] != b"\x93NUMPY":
        sys.exit(f"{path}: not a .npy file")
    major = data[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", data[8:10])
        start = 10
    else:
        (hlen,) = struct.unpack("<I", data[8:12])
        start = 12
    header = ast.literal_eval(data[start : start + hlen].decode("latin1"))
    if header["descr"] != "<f4" or header["fortran_order"]:
        sys.exit(f"{path}: expected C-ordered <f4, found {header}")
    shape = tuple(header["shape"])
    body = data[start + hlen :]
    row_bytes = 4
    for d in shape[1:]:
        row_bytes *= d
    rows = shape[0] if shape else 0
    if len(body) != rows * row_bytes:
        sys.exit(f"{path}: {len(body)} bytes of data for shape {shape}")
    return shape, [body[i * row_bytes : (i + 1) * row_bytes] for i in range(rows)]


def read_run(folder):
    """{key: (columns without `row`, feature bytes)}, failures {video_id: path}, problems."""
    folder = Path(folder)
    shape, rows = read_npy(folder / "features.npy")
    problems = []
    with open(folder / "clips.csv", newline="") as f:
        clips = list(csv.DictReader(f))
    if len(clips) != len(rows):
        problems.append(f"{folder}: clips.csv has {len(clips)} rows, features.npy {len(rows)}")
    table = {}
    for i, clip in enumerate(clips):
        if clip["row"] != str(i):
            problems.append(f"{folder}: clips.csv line {i + 2} says row {clip['row']}")
        key = (clip["video_id"], int(clip["clip_index"]), clip["track_id"])
        if key in table:
            problems.append(f"{folder}: duplicate row for {key}")
        columns = {k: v for k, v in clip.items() if k != "row"}
        table[key] = (columns, rows[i] if i < len(rows) else b"")
    failures = {}
    with open(folder / "failures.csv", newline="") as f:
        for fail in csv.DictReader(f):
            if fail["video_id"] in failures:
                problems.append(f"{folder}: {fail['video_id']} fails twice in failures.csv")
            failures[fail["video_id"]] = fail["path"]
    return shape, table, failures, problems


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--videos", help="file: the video ids given to the run, one a line")
    p.add_argument("--failed", help="file: the video ids that must have failed, one a line")
    args = p.parse_args()

    shape_a, a, fail_a, problems = read_run(args.a)
    shape_b, b, fail_b, problems_b = read_run(args.b)
    problems += problems_b
    if shape_a[1:] != shape_b[1:]:
        problems.append(f"row shapes differ: {shape_a} against {shape_b}")
    for key in sorted(a.keys() - b.keys()):
        problems.append(f"only in {args.a}: {key}")
    for key in sorted(b.keys() - a.keys()):
        problems.append(f"only in {args.b}: {key}")
    for key in sorted(a.keys() & b.keys()):
        (cols_a, feat_a), (cols_b, feat_b) = a[key], b[key]
        if cols_a != cols_b:
            diff = {k: (cols_a.get(k), cols_b.get(k)) for k in cols_a.keys() | cols_b.keys() if cols_a.get(k) != cols_b.get(k)}
            problems.append(f"clips.csv differs for {key}: {diff}")
        if feat_a != feat_b:
            problems.append(f"features differ for {key}")
    if fail_a != fail_b:
        problems.append(f"failures differ: {sorted(fail_a.items())} against {sorted(fail_b.items())}")

    done = {k[0] for k in a}
    if args.videos:
        given = set(Path(args.videos).read_text().split())
        for v in sorted(given - done - fail_a.keys()):
            problems.append(f"missing: {v} is neither in clips.csv nor in failures.csv")
        for v in sorted((done | fail_a.keys()) - given):
            problems.append(f"unknown video {v} in the output")
        for v in sorted(done & fail_a.keys()):
            problems.append(f"{v} has rows and a failure")
    if args.failed:
        expected = set(Path(args.failed).read_text().split())
        if set(fail_a) != expected:
            problems.append(f"failed videos {sorted(fail_a)}, expected {sorted(expected)}")

    if problems:
        for line in problems[:20]:
            print(f"compare_featurize: {line}", file=sys.stderr)
        if len(problems) > 20:
            print(f"compare_featurize: … and {len(problems) - 20} more", file=sys.stderr)
        sys.exit(1)
    print(f"identical: {len(a)} rows of {len(done)} videos, {len(fail_a)} failed")


if __name__ == "__main__":
    main()
