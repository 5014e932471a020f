"""The LLM settings and model names: what an operator writes, and what an automation carries."""

from __future__ import annotations

import pytest

from rebrowse.llm.config import LlmConfig
from rebrowse.llm.names import pydantic_ai_name
from rebrowse.settings import EngineSettings


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gemini/gemini-2.5-flash", "google:gemini-2.5-flash"),
        ("openai/gpt-4.1-mini", "openai:gpt-4.1-mini"),
        ("anthropic/claude-sonnet-4-5", "anthropic:claude-sonnet-4-5"),
        ("vertex_ai/gemini-2.5-pro", "google-vertex:gemini-2.5-pro"),
        ("ollama_chat/llama3.1", "ollama:llama3.1"),
        ("gemini-2.5-flash", "google:gemini-2.5-flash"),
        ("gpt-4o", "openai:gpt-4o"),
        ("claude-3-5-haiku", "anthropic:claude-3-5-haiku"),
        ("openai:gpt-4o", "openai:gpt-4o"),
        ("groq:openai/gpt-oss-20b", "groq:openai/gpt-oss-20b"),
    ],
)
def test_litellm_names_become_pydantic_ai_names(name: str, expected: str) -> None:
    assert pydantic_ai_name(name) == expected


def test_no_model_is_not_configured() -> None:
    config = EngineSettings.from_env({}).llm
    assert not config.configured
    assert config.base_url is None


def test_the_settings_name_the_model_its_server_and_fallback() -> None:
    config = LlmConfig.from_env(
        {
            "REBROWSE_LLM_MODEL": "gemini/gemini-2.5-flash",
            "REBROWSE_LLM_FALLBACK_MODEL": "openai:gpt-4.1-mini",
            "REBROWSE_LLM_RETRIES": "5",
        }
    )
    assert (config.model, config.fallback_model, config.retries) == (
        "gemini/gemini-2.5-flash",
        "openai:gpt-4.1-mini",
        5,
    )
    local = LlmConfig.from_env({"REBROWSE_LLM_MODEL": "llama3.1", "REBROWSE_LLM_BASE_URL": "http://127.0.0.1:11434/v1"})
    assert (local.model, local.base_url) == ("llama3.1", "http://127.0.0.1:11434/v1")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"REBROWSE_LLM_MODEL": "nonsense-model"}, "REBROWSE_LLM_MODEL"),
        ({"REBROWSE_LLM_MODEL": "nowhere:model"}, "REBROWSE_LLM_MODEL"),
        ({"REBROWSE_LLM_MODEL": "openai:gpt-4o", "REBROWSE_LLM_FALLBACK_MODEL": "what"}, "REBROWSE_LLM_FALLBACK_MODEL"),
        ({"REBROWSE_LLM_BASE_URL": "http://127.0.0.1:1/v1"}, "REBROWSE_LLM_MODEL"),
        ({"REBROWSE_LLM_MODEL": "m", "REBROWSE_LLM_BASE_URL": "127.0.0.1:1"}, "REBROWSE_LLM_BASE_URL"),
        ({"REBROWSE_LLM_MODEL": "openai:gpt-4o", "REBROWSE_LLM_RETRIES": "-1"}, "REBROWSE_LLM_RETRIES"),
    ],
)
def test_a_bad_setting_is_refused_naming_its_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        EngineSettings.from_env(env)
