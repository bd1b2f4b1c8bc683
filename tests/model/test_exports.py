"""`fcsbe.model.__all__` lists exactly the public names its modules define, sorted."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import fcsbe.model

MODULES = sorted(
    name for _, name, _ in pkgutil.iter_modules(fcsbe.model.__path__) if not name.startswith("_")
)


def _defined_public_names(module_name: str) -> set[str]:
    """Top-level classes, functions and assignments of a module whose name is public."""
    module = importlib.import_module(f"fcsbe.model.{module_name}")
    tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_") and n not in {"T"}}


def _isort_key(name: str) -> tuple[int, str]:
    """ruff RUF022 order: SCREAMING_CASE, then CamelCase, then the rest."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[0].isupper() else (2, name)


def test_every_module_all_lists_what_it_defines() -> None:
    for module_name in MODULES:
        module = importlib.import_module(f"fcsbe.model.{module_name}")
        defined = _defined_public_names(module_name)
        exported = set(module.__all__)
        assert defined <= exported, f"{module_name}: missing from __all__: {defined - exported}"
        assert all(hasattr(module, name) for name in exported), module_name


def test_package_all_is_the_union_of_the_modules() -> None:
    defined = set().union(*(_defined_public_names(name) for name in MODULES))
    exported = set(fcsbe.model.__all__)
    assert exported - defined == set(), f"exported but not defined: {exported - defined}"
    assert defined - exported == set(), f"defined but not exported: {defined - exported}"
    assert len(fcsbe.model.__all__) == len(exported), "duplicates in __all__"
    assert all(hasattr(fcsbe.model, name) for name in exported)


def test_package_all_is_sorted() -> None:
    assert fcsbe.model.__all__ == sorted(fcsbe.model.__all__, key=_isort_key)


def test_package_exports_are_the_module_objects() -> None:
    for module_name in MODULES:
        module = importlib.import_module(f"fcsbe.model.{module_name}")
        for name in module.__all__:
            assert getattr(fcsbe.model, name) is getattr(module, name), f"{module_name}.{name}"


def test_entities_of_the_information_model_exist() -> None:
    """Every entity named in design/information-model.md is a public model."""
    entities = [
        "Party",
        "Enrolment",
        "CredentialCheckRequest",
        "CredentialCheckResult",
        "ConformityEvidence",
        "FlexibilityServiceContract",
        "Site",
        "ChargingStation",
        "Evse",
        "Connector",
        "Capability",
        "AvailabilityForecast",
        "EvSession",
        "Consent",
        "FlexibilityServiceRequest",
        "SetpointSchedule",
        "DemandResponseSignal",
        "DroopSettings",
        "FfrSettings",
        "ReserveOffer",
        "ReserveActivation",
        "DynamicPriceSignal",
        "CongestionLimits",
        "FlexibilityServiceResponse",
        "FsState",
        "FsTransition",
        "Notification",
        "MeasurementSeries",
        "EventLogEntry",
        "SignedTreeHead",
        "InclusionProof",
        "ConsistencyProof",
        "DetailedServiceRecord",
        "ProofOfWork",
        "Problem",
        "Page",
    ]
    missing = [name for name in entities if name not in fcsbe.model.__all__]
    assert not missing
