"""The regional URIs of the images the project runs, from ``build/image-uris.json``.

The renderer writes the file from the SageMaker SDK's image tables (``{"xgboost": {region: uri},
"model-monitor": {region: uri}}``) and the Makefile ships it in the packages that need it, so no function carries
the SDK or a copy of its tables: the upsert function fills the definition's image tokens with it, the deploy steps
give the Model Monitor analyzer's URI to the data-quality job definitions.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlops_shared.settings import ConfigurationError

IMAGE_URIS_FILE = "image-uris.json"


def image_uri(build_dir: Path, image: str, region: str) -> str:
    """The URI of ``image`` ("xgboost", "model-monitor") in ``region``; a ConfigurationError names what is missing."""
    path = build_dir / IMAGE_URIS_FILE
    if not path.exists():
        raise ConfigurationError(f"{path} is missing: the package was built without `make definition`")
    uris: dict[str, dict[str, str]] = json.loads(path.read_text())
    try:
        return uris[image][region]
    except KeyError:
        raise ConfigurationError(f"{path} has no {image} image URI for region {region!r}") from None
