"""The Hopsworks fakes cannot drift from the installed client: each faked call is checked
against hopsworks 5.2's real signature with `inspect.signature`.

Rule per pair: every parameter the fake accepts exists in the real call with the same kind and
default, and every parameter the real call requires, the fake requires too. So a call the
backends make with the fake's parameters is a valid call of the real client. Faked properties
must be properties of the real class. Nothing is mocked here; this reads the installed package.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

warnings.filterwarnings("ignore")  # hopsworks warns about optional extras on import
hopsworks = pytest.importorskip("hopsworks")
hopsworks_project = pytest.importorskip("hopsworks_common.project")
hsml_model = pytest.importorskip("hsml.model")
hsml_model_registry = pytest.importorskip("hsml.model_registry")
hsml_signature = pytest.importorskip("hsml.python.signature")
hsfs_feature_store = pytest.importorskip("hsfs.feature_store")
hsfs_feature_view = pytest.importorskip("hsfs.feature_view")
hsfs_feature_group = pytest.importorskip("hsfs.feature_group")
hsfs_query = pytest.importorskip("hsfs.constructor.query")


def _load(name: str) -> ModuleType:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fake_hsfs = _load("fake_hsfs")
fake_hsml = _load("fake_hsml")

# (what the fake stands in for, the real callable, the fake callable)
PAIRS: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("hopsworks.login", hopsworks.login, fake_hsml.FakeProject.login),
    ("Project.get_model_registry", hopsworks_project.Project.get_model_registry,
     fake_hsml.FakeProject.get_model_registry),
    ("Project.get_feature_store", hopsworks_project.Project.get_feature_store, fake_hsml.FakeProject.get_feature_store),
    ("ModelRegistry.get_model", hsml_model_registry.ModelRegistry.get_model, fake_hsml.FakeModelRegistry.get_model),
    ("ModelRegistry.get_models", hsml_model_registry.ModelRegistry.get_models, fake_hsml.FakeModelRegistry.get_models),
    ("mr.python.create_model", hsml_signature.create_model, fake_hsml.FakePythonModels.create_model),
    ("Model.save", hsml_model.Model.save, fake_hsml.FakeModel.save),
    ("Model.download", hsml_model.Model.download, fake_hsml.FakeModel.download),
    ("Model.add_tag", hsml_model.Model.add_tag, fake_hsml.FakeModel.add_tag),
    ("Model.get_tags", hsml_model.Model.get_tags, fake_hsml.FakeModel.get_tags),
    ("Model.delete_tag", hsml_model.Model.delete_tag, fake_hsml.FakeModel.delete_tag),
    ("FeatureStore.get_feature_view", hsfs_feature_store.FeatureStore.get_feature_view,
     fake_hsfs.FakeHopsworksFeatureStore.get_feature_view),
    ("FeatureStore.get_or_create_feature_view", hsfs_feature_store.FeatureStore.get_or_create_feature_view,
     fake_hsfs.FakeHopsworksFeatureStore.get_or_create_feature_view),
    ("FeatureStore.get_feature_group", hsfs_feature_store.FeatureStore.get_feature_group,
     fake_hsfs.FakeHopsworksFeatureStore.get_feature_group),
    ("FeatureView.create_training_data", hsfs_feature_view.FeatureView.create_training_data,
     fake_hsfs.FakeFeatureView.create_training_data),
    ("FeatureGroup.select_all", hsfs_feature_group.FeatureGroup.select_all, fake_hsfs.FakeFeatureGroup.select_all),
    ("FeatureGroup.select", hsfs_feature_group.FeatureGroup.select, fake_hsfs.FakeFeatureGroup.select),
    ("FeatureGroup.insert", hsfs_feature_group.FeatureGroup.insert, fake_hsfs.FakeFeatureGroup.insert),
    ("FeatureGroup.commit_details", hsfs_feature_group.FeatureGroup.commit_details,
     fake_hsfs.FakeFeatureGroup.commit_details),
    ("Query.join", hsfs_query.Query.join, fake_hsfs.FakeQuery.join),
    ("Query.as_of", hsfs_query.Query.as_of, fake_hsfs.FakeQuery.as_of),
    ("Query.read", hsfs_query.Query.read, fake_hsfs.FakeQuery.read),
]
MODEL_PROPERTIES = ("name", "version", "created", "description", "training_metrics", "training_dataset_version")


def _parameters(fn: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    unwrapped = inspect.unwrap(fn)
    return {
        name: p
        for name, p in inspect.signature(unwrapped).parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


def signature_mismatches(real: Callable[..., Any], fake: Callable[..., Any]) -> list[str]:
    """What makes a call valid for the fake but not for the real client (empty when none)."""
    real_params, fake_params = _parameters(real), _parameters(fake)
    problems = []
    for name, p in fake_params.items():
        if name not in real_params:
            problems.append(f"the fake accepts {name!r}, the real call has no such parameter")
            continue
        r = real_params[name]
        if p.kind != r.kind and not (p.kind is p.POSITIONAL_OR_KEYWORD and r.kind is r.KEYWORD_ONLY):
            problems.append(f"{name!r} is {p.kind.description} in the fake, {r.kind.description} in the real call")
        if p.default is not p.empty and r.default is not r.empty and p.default != r.default:
            problems.append(f"{name!r} defaults to {p.default!r} in the fake, {r.default!r} in the real call")
        if p.default is not p.empty and r.default is r.empty:
            problems.append(f"{name!r} is optional in the fake but required in the real call")
    for name, r in real_params.items():
        if r.default is r.empty and name not in fake_params:
            problems.append(f"the real call requires {name!r}, the fake does not accept it")
    return problems


@pytest.mark.parametrize(("what", "real", "fake"), PAIRS, ids=[p[0] for p in PAIRS])
def test_the_fake_accepts_only_calls_the_real_client_accepts(
    what: str, real: Callable[..., Any], fake: Callable[..., Any]
) -> None:
    assert signature_mismatches(real, fake) == [], what


@pytest.mark.parametrize("name", MODEL_PROPERTIES)
def test_model_properties_read_by_the_registry_are_real_properties(name: str) -> None:
    assert isinstance(inspect.getattr_static(hsml_model.Model, name), property)
    assert isinstance(inspect.getattr_static(fake_hsml.FakeModel, name), property)


def test_the_signature_check_catches_a_renamed_or_newly_required_parameter() -> None:
    """The checker itself: a drifted fake must be reported, or the tests above prove nothing."""

    def real(self: object, name: str, version: int | None = None, *, tags: object = None) -> None: ...
    def renamed(self: object, name: str, model_version: int | None = None) -> None: ...
    def optional_name(self: object, name: str = "m") -> None: ...
    def other_default(self: object, name: str, version: int | None = 1) -> None: ...

    assert signature_mismatches(real, renamed) == [
        "the fake accepts 'model_version', the real call has no such parameter"
    ]
    assert signature_mismatches(real, optional_name) == ["'name' is optional in the fake but required in the real call"]
    assert signature_mismatches(real, other_default) == ["'version' defaults to 1 in the fake, None in the real call"]
