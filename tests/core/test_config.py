"""Settings parse the environment's forms and keep secrets out of reprs."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from core.config import owner_of
from tests.conftest import make_settings

K1, K2, K3 = "key-one-0123456789", "key-two-0123456789", "key-three-0123456789"


def test_api_keys_parse_from_one_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """`owner=key,owner2=key2`, whitespace tolerated, read from AIJOBS_API_KEYS."""
    monkeypatch.setenv("AIJOBS_API_KEYS", f" alice={K1} , bob={K2},")
    keys = make_settings().api_keys
    assert {
        owner: [k.plain.get_secret_value() for k in owned if k.plain]
        for owner, owned in keys.items()
    } == {
        "alice": [K1],
        "bob": [K2],
    }


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("alice", "owner=key"),
        (f"={K1}", "owner=key"),
        ("alice=", "owner=key"),
        (f"alice={K1},alice={K1}", "twice"),
        (f"alice={K1},bob={K1}", "twice"),
        ("a=sha256:12", "64 hex digits"),
        ("alice=k1", "at least 16 characters"),
        ("alice=clé-non-ascii-0123456789", "printable ASCII"),
        ("alice=with space 0123456789", "printable ASCII"),
    ],
)
def test_malformed_api_keys_are_refused(
    monkeypatch: pytest.MonkeyPatch, raw: str, why: str
) -> None:
    """A malformed, duplicated, short or non-ASCII key stops start-up with a message naming
    the variable and why: a key an HTTP header cannot carry would never authenticate."""
    monkeypatch.setenv("AIJOBS_API_KEYS", raw)
    with pytest.raises(ValidationError, match=f"AIJOBS_API_KEYS.*{why}"):
        make_settings()


def test_secrets_stay_out_of_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys never show in a settings repr, so they cannot slip into logs."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("AIJOBS_API_KEYS", "alice=also-secret-0123456789")
    text = repr(make_settings())
    assert "sk-very-secret" not in text
    assert "also-secret" not in text


def test_empty_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """`OPENAI_API_KEY=` (as compose passes it) selects the offline model, not an empty key."""
    monkeypatch.setenv("OPENAI_API_KEY", "")
    monkeypatch.setenv("OPENAI_BASE_URL", "")
    assert make_settings().uses_offline_model
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1")
    assert not make_settings().uses_offline_model


def test_page_token_secret_depends_on_keys() -> None:
    """Replicas with the same keys agree on the secret; different keys give a different one."""
    one = make_settings(api_keys=f"a={K1}").page_token_secret
    assert one == make_settings(api_keys=f"a={K1}").page_token_secret
    assert one != make_settings(api_keys=f"a={K2}").page_token_secret


def test_an_owner_may_hold_several_keys_and_hashes() -> None:
    """Rotation: two keys for one owner; a key given as its SHA-256 digest matches the key."""
    digest = hashlib.sha256(K3.encode()).hexdigest()
    keys = make_settings(api_keys=f"alice={K1},alice={K2},bob=sha256:{digest}").api_keys
    assert [owner_of(k, keys) for k in (K1, K2, K3, "k4")] == ["alice", "alice", "bob", None]
    assert keys["bob"][0].plain is None
    assert digest not in repr(keys)


@pytest.mark.parametrize(
    ("raw", "message"),
    [("k1=short", "not 32 bytes"), ("k1=!!!", "not 32 bytes"), ("novalue", "id=base64key")],
)
def test_malformed_encryption_keys_are_refused(raw: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(encryption_keys=raw)
