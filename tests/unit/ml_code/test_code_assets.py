"""Content-addressed code keys: same bytes → same key, everywhere; different bytes → different key."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest

from ml_code import SCRIPTS_DIR
from mlops_shared import code_assets
from mlops_shared.code_assets import CodeAsset


def copy_ml_code(tmp_path: Path) -> Path:
    target = tmp_path / "ml_code"
    target.mkdir()
    for name in (code_assets.PREPROCESS_SCRIPT, code_assets.EVALUATE_SCRIPT, *code_assets.TRAIN_SOURCE_FILES):
        shutil.copy(SCRIPTS_DIR / name, target / name)
    return target


def by_name(assets: list[CodeAsset]) -> dict[str, CodeAsset]:
    return {asset.file_name: asset for asset in assets}


def test_assets_are_the_two_scripts_and_the_training_archive() -> None:
    assets = by_name(code_assets.code_assets(SCRIPTS_DIR))

    assert sorted(assets) == ["evaluate.py", "preprocess.py", "sourcedir.tar.gz"]
    for name, asset in assets.items():
        prefix, digest, file_name = asset.key.split("/")
        assert (prefix, file_name) == ("pipeline-code", name)
        assert len(digest) == 16 and int(digest, 16) >= 0
    assert assets["preprocess.py"].body == (SCRIPTS_DIR / "preprocess.py").read_bytes()
    assert assets["sourcedir.tar.gz"].content_type == "application/gzip"


def test_the_archive_holds_train_py_and_the_serving_code_with_neutral_metadata() -> None:
    """train.py copies inference.py and abalone_features.py into the model: they travel in the training source."""
    archive = by_name(code_assets.code_assets(SCRIPTS_DIR))["sourcedir.tar.gz"].body

    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = tar.getmembers()
        assert [member.name for member in members] == ["abalone_features.py", "inference.py", "train.py"]
        for member in members:
            assert (member.mtime, member.uid, member.uname) == (0, 0, ""), member.name
            extracted = tar.extractfile(member)
            assert extracted is not None
            assert extracted.read() == (SCRIPTS_DIR / member.name).read_bytes()


def test_keys_are_stable_across_copies_and_time(tmp_path: Path) -> None:
    copy = copy_ml_code(tmp_path)
    for path in copy.iterdir():  # a different checkout: other mtimes
        path.touch()

    assert code_assets.code_assets(copy) == code_assets.code_assets(SCRIPTS_DIR)


def test_a_changed_script_changes_only_its_own_key(tmp_path: Path) -> None:
    copy = copy_ml_code(tmp_path)
    original = by_name(code_assets.code_assets(copy))
    (copy / "train.py").write_bytes((copy / "train.py").read_bytes() + b"\n# changed\n")
    changed = by_name(code_assets.code_assets(copy))

    assert changed["sourcedir.tar.gz"].key != original["sourcedir.tar.gz"].key
    assert changed["preprocess.py"].key == original["preprocess.py"].key
    assert changed["evaluate.py"].key == original["evaluate.py"].key


def test_a_missing_script_is_named(tmp_path: Path) -> None:
    copy = copy_ml_code(tmp_path)
    (copy / "evaluate.py").unlink()
    with pytest.raises(FileNotFoundError, match="evaluate.py is missing"):
        code_assets.code_assets(copy)


def test_asset_for_names_what_exists() -> None:
    with pytest.raises(KeyError, match="no code asset named 'nope.py'; have: preprocess.py, evaluate.py"):
        code_assets.asset_for("nope.py", code_assets.code_assets(SCRIPTS_DIR))


def test_the_rendered_definition_references_the_current_keys(definition: dict[str, object]) -> None:
    # If this fails, build/pipeline-definition.json is older than the scripts: `make definition` re-renders it.
    text = str(definition)
    for asset in code_assets.code_assets(SCRIPTS_DIR):
        assert f"s3://{{{{ArtifactsBucket}}}}/{asset.key}" in text


def test_publish_uploads_every_asset_of_a_current_definition() -> None:
    assets = code_assets.code_assets(SCRIPTS_DIR)
    definition = " ".join(f'"s3://bucket/{asset.key}"' for asset in assets)
    uploaded: list[str] = []
    published = code_assets.publish_code_assets(definition, lambda asset: uploaded.append(asset.key), SCRIPTS_DIR)
    assert uploaded == [asset.key for asset in published] == [asset.key for asset in assets]


def test_a_stale_definition_is_refused_naming_both_keys_and_nothing_is_uploaded() -> None:
    current = code_assets.code_assets(SCRIPTS_DIR)[0].key
    stale = "pipeline-code/0123456789abcdef/preprocess.py"
    definition = f'{{"Code": "s3://bucket/{current}", "Other": "s3://bucket/{stale}"}}'
    uploaded: list[CodeAsset] = []
    expected = f"names {stale}, the packaged code gives {current}.*make build"
    with pytest.raises(code_assets.StaleCodeError, match=expected):
        code_assets.publish_code_assets(definition, uploaded.append, SCRIPTS_DIR)
    assert uploaded == []


def test_the_stale_message_says_which_member_of_the_archive_differs(tmp_path: Path) -> None:
    # GIVEN a definition rendered from one train.py (with its manifest), and a package holding another
    rendered_assets = code_assets.code_assets(SCRIPTS_DIR)
    rendered = code_assets.manifest(rendered_assets)
    archive_key = code_assets.asset_for("sourcedir.tar.gz", rendered_assets).key
    copy = copy_ml_code(tmp_path)
    (copy / "train.py").write_bytes((copy / "train.py").read_bytes() + b"\n# changed\n")
    # WHEN the package checks the definition
    with pytest.raises(code_assets.StaleCodeError) as raised:
        code_assets.publish_code_assets(f'"s3://b/{archive_key}"', lambda asset: None, copy, rendered)
    # THEN the message names the member
    assert f"names {archive_key}" in str(raised.value) and "(train.py differs)" in str(raised.value)


def test_the_key_is_a_hash_of_the_members_not_of_the_compressed_bytes() -> None:
    # Python 3.11 and 3.13 write different gzip headers for the same data (FACTS.md); the key must not see that.
    files = {"train.py": b"print('hi')\n"}
    key = code_assets.content_key("sourcedir.tar.gz", files)
    assert key == code_assets.content_key("sourcedir.tar.gz", dict(files))
    assert key != code_assets.content_key("sourcedir.tar.gz", {"train.py": b"print('bye')\n"})
    assert key != code_assets.content_key("sourcedir.tar.gz", {"other.py": files["train.py"]})


def test_the_archive_has_a_fixed_gzip_header_whatever_the_interpreter() -> None:
    archive = code_assets.deterministic_targz({"train.py": b"x = 1\n"})
    assert archive[:4] == b"\x1f\x8b\x08\x00"  # gzip, deflate, no flags
    assert archive[4:8] == b"\0\0\0\0"  # mtime 0
    assert archive[8:10] == code_assets.GZIP_XFL_OS  # XFL 2, OS 255 (unknown) from 3.11 and 3.13 alike


def test_the_manifest_lists_every_key_with_its_members() -> None:
    assets = code_assets.code_assets(SCRIPTS_DIR)
    listed = code_assets.manifest(assets)["assets"]
    assert set(listed) == {asset.key for asset in assets}
    assert set(listed[code_assets.asset_for("sourcedir.tar.gz", assets).key]) == set(code_assets.TRAIN_SOURCE_FILES)
