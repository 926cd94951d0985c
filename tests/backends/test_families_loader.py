"""The loader's map of diffusers folder classes: every entry resolves to a backend that declares that class,
and folders Kinema does not run (modular pipelines such as MiniMax-H3) are named as such, torch-free."""

from __future__ import annotations

import importlib
import json

import pytest

from kinema.backends.loader import DIFFUSERS_BACKENDS, backend_class
from kinema.errors import ModelNotFoundError


@pytest.mark.parametrize("class_name", sorted(DIFFUSERS_BACKENDS))
def test_every_folder_class_resolves_to_a_backend_that_reads_it(class_name):
    module, _, attr = DIFFUSERS_BACKENDS[class_name].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    assert class_name in cls.folder_classes
    assert set(cls.modes) <= set(cls.pipelines)  # each mode names the pipeline that runs it


def test_modular_pipeline_folder_is_named_as_such(tmp_path):
    index = {"_class_name": "MiniMaxH3ModularPipeline", "_blocks_class_name": "MiniMaxH3Blocks"}
    (tmp_path / "modular_model_index.json").write_text(json.dumps(index))
    with pytest.raises(ModelNotFoundError, match="modular pipeline folder.*MiniMax-H3"):
        backend_class(tmp_path)
