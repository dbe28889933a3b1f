"""docs/API.md, the reference in the repository, is what scripts/api_doc.py makes of the
OpenAPI document: a route or rule changed in server/openapi.py must be regenerated."""

import importlib.util

from tests.live import ROOT


def load_generator():
    spec = importlib.util.spec_from_file_location("api_doc", ROOT / "scripts" / "api_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_is_generated_from_the_openapi_document():
    generator = load_generator()
    written = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    assert written == generator.render(), "docs/API.md is stale: run scripts/api_doc.py"
    assert generator.render() == generator.render()


def test_api_reference_names_every_operation():
    generator = load_generator()
    written = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    for path, methods in generator.document()["paths"].items():
        for method in methods:
            assert f"\n### {method.upper()} {path}\n" in written
