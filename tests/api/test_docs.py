"""/docs and /redoc work on a machine without internet: every asset they load is served by
the API itself, and nothing they reference points elsewhere."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Api

_REFERENCE = re.compile(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_load_only_from_the_api(api: Api, page: str) -> None:
    html = await api.anonymous.get(page)
    assert html.status_code == 200
    references = _REFERENCE.findall(html.text)
    assert references, html.text
    outside = [r for r in references if re.match(r"(?:[a-z]+:)?//", r)]
    assert outside == [], outside
    for reference in references:
        asset = await api.anonymous.get(reference)
        assert asset.status_code == 200, reference
    # Swagger UI's validator badge would send the schema to validator.swagger.io.
    assert "validator" not in html.text or '"validatorUrl": null' in html.text
