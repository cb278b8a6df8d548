"""The local directory store with SageMaker's S3Prefix download rule; the image table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from local_twin.images import ImageError, local_image, parse_image_uri
from local_twin.storage import LocalDirectoryStore, StoreError, download_prefix, upload_directory

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"


def test_put_get_list(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path)
    store.put_bytes("s3://b/a/one.csv", b"1")
    store.put_bytes("s3://b/a/sub/two.csv", b"2")
    store.put_bytes("s3://b/ab/three.csv", b"3")

    assert store.get_bytes("s3://b/a/one.csv") == b"1"
    assert store.list_keys("s3://b/a") == ["a/one.csv", "a/sub/two.csv", "ab/three.csv"]
    assert (tmp_path / "b" / "a" / "sub" / "two.csv").read_bytes() == b"2"
    with pytest.raises(StoreError, match=r"s3://b/missing does not exist"):
        store.get_bytes("s3://b/missing")
    with pytest.raises(StoreError, match=r"outside the store"):
        store.put_bytes("s3://b/../../escape", b"x")


def test_download_prefix_as_a_folder_or_a_single_object(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path / "store")
    store.put_bytes("s3://b/a/one.csv", b"1")
    store.put_bytes("s3://b/a/sub/two.csv", b"2")
    store.put_bytes("s3://b/ab/three.csv", b"3")

    folder = download_prefix(store, "s3://b/a", tmp_path / "folder")
    single = download_prefix(store, "s3://b/a/one.csv", tmp_path / "single")

    assert sorted(p.relative_to(tmp_path / "folder").as_posix() for p in folder) == ["one.csv", "sub/two.csv"]
    assert [p.relative_to(tmp_path / "single").as_posix() for p in single] == ["one.csv"]
    with pytest.raises(StoreError, match=r"no objects at s3://b/nothing"):
        download_prefix(store, "s3://b/nothing", tmp_path / "none")


def test_upload_directory_keeps_relative_paths(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path / "store")
    (tmp_path / "out" / "deep").mkdir(parents=True)
    (tmp_path / "out" / "deep" / "x.json").write_text("{}")

    assert upload_directory(store, tmp_path / "out", "s3://b/prefix/") == ["s3://b/prefix/deep/x.json"]


def test_malformed_uris_are_rejected(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path)
    with pytest.raises(StoreError, match=r"'/tmp/x' is not an s3:// URI"):
        store.get_bytes("/tmp/x")


def test_xgboost_image_maps_to_this_environment() -> None:
    image = local_image(XGBOOST, "Train")

    assert parse_image_uri(XGBOOST) == ("sagemaker-xgboost", "3.0-5")
    assert image.python == Path(sys.executable)
    assert image.command(["python3", "/x.py"], "Prep") == [sys.executable, "/x.py"]


def test_unmapped_image_and_entrypoint_are_errors_naming_the_step() -> None:
    with pytest.raises(ImageError, match=r"step 'Prep': image .*sagemaker-xgboost:1.7-1 has no local environment"):
        local_image(XGBOOST.replace("3.0-5", "1.7-1"), "Prep")
    with pytest.raises(ImageError, match=r"step 'Prep': 'docker.io/python:3' is not an ECR image URI"):
        local_image("docker.io/python:3", "Prep")
    with pytest.raises(ImageError, match=r"step 'Prep': entrypoint \['/bin/bash'"):
        local_image(XGBOOST, "Prep").command(["/bin/bash", "run.sh"], "Prep")
