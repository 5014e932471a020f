"""Which model answers a task's LLM steps, read from the deployment's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic_ai.models import Model

from rebrowse.errors import ConfigurationError
from rebrowse.llm.names import check_model_name

MODEL_SETTING = "REBROWSE_LLM_MODEL"
BASE_URL_SETTING = "REBROWSE_LLM_BASE_URL"
FALLBACK_SETTING = "REBROWSE_LLM_FALLBACK_MODEL"
RETRIES_SETTING = "REBROWSE_LLM_RETRIES"
HOW_TO_CONFIGURE = (
    f"set {MODEL_SETTING} (for example openai:gpt-4.1-mini, "
    f"anthropic:claude-sonnet-4-5 or google:gemini-2.5-flash, with that provider's API key in its usual variable), "
    f"or {BASE_URL_SETTING} and {MODEL_SETTING} for an OpenAI-compatible server such as Ollama or vLLM"
)
NOT_CONFIGURED = f"this step needs an LLM and none is configured: {HOW_TO_CONFIGURE}"


@dataclass(frozen=True)
class LlmConfig:
    """The deployment's model, an optional fallback, and how hard to retry a provider that fails.

    `model` and `fallback_model` are pydantic-ai `provider:model` names (Optexity's LiteLLM names are mapped), or
    model objects (pydantic-ai's FunctionModel and TestModel in tests). With `base_url`, every call goes to that
    OpenAI-compatible server, whatever model an automation names.
    """

    model: str | Model | None = None
    base_url: str | None = None
    fallback_model: str | Model | None = None
    api_key: str | None = None  # for the base_url server (OPENAI_API_KEY); a local server usually needs none
    retries: int = 3  # extra attempts after a rate limit, an overloaded provider or a lost connection
    retry_backoff_s: float = 1.0  # doubled after every failed attempt
    retry_backoff_cap_s: float = 30.0

    @property
    def configured(self) -> bool:
        return self.model is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LlmConfig:
        """The LLM settings of the environment; an invalid value raises ConfigurationError naming the variable."""
        model = env.get(MODEL_SETTING, "").strip() or None
        base_url = env.get(BASE_URL_SETTING, "").strip() or None
        fallback = env.get(FALLBACK_SETTING, "").strip() or None
        if base_url is not None and model is None:
            raise ConfigurationError(
                f"{BASE_URL_SETTING} needs {MODEL_SETTING}: the name of a model that server serves"
            )
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"{BASE_URL_SETTING} must be an http:// or https:// URL")
        for setting, name in ((MODEL_SETTING, model), (FALLBACK_SETTING, fallback)):
            if name is not None and base_url is None:
                check_model_name(name, setting)
        retries = env.get(RETRIES_SETTING, "3").strip()
        if not retries.isdigit():
            raise ConfigurationError(f"{RETRIES_SETTING} must be a whole number of retries (0 or more)")
        return cls(
            model=model,
            base_url=base_url,
            fallback_model=fallback,
            api_key=env.get("OPENAI_API_KEY") or None,
            retries=int(retries),
        )
