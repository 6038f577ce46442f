"""The contract between the deployed code and the infrastructure (functions/contract.py) holds both sides."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from functions import contract, errors
from functions.handlers.api import ApiHandler

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_given_each_error_name_step_functions_matches_then_the_functions_raise_a_class_of_that_name():
    classes = {cls.__name__: cls for cls in vars(errors).values() if isinstance(cls, type)}
    for name in contract.PIPELINE_ERRORS:
        assert name in classes, f"functions/errors.py has no exception named {name}"
        assert issubclass(classes[name], errors.WikiRoamError)
    assert set(contract.TRANSIENT_ERRORS) <= set(contract.PIPELINE_ERRORS)


def test_given_the_route_table_then_the_api_function_serves_exactly_the_deployed_routes():
    routes = ApiHandler(pages=None)._routes  # type: ignore[arg-type]
    assert set(routes) == set(contract.API_ROUTES.values())


def test_given_the_pulumi_program_imports_its_components_then_no_function_dependency_comes_with_them():
    # A fresh interpreter: the components need the contract and settings, not the functions' libraries.
    script = (
        "import importlib, pkgutil, sys, components\n"
        "for module in pkgutil.iter_modules(components.__path__):\n"
        "    if module.name != 'monitoring':  # pulumi_datadog, imported only when Datadog is on\n"
        "        importlib.import_module(f'components.{module.name}')\n"
        "print(sorted(name for name in sys.modules if name.startswith('functions')))\n"
        "print('requests' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    imported, requests_imported = result.stdout.splitlines()
    assert imported == "['functions', 'functions.contract', 'functions.errors', 'functions.settings']"
    assert requests_imported == "False"
