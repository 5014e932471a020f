"""Model names: Optexity's LiteLLM spellings (`gemini/gemini-2.5-flash`) to pydantic-ai's (`google:...`)."""

from __future__ import annotations

from pydantic_ai.exceptions import UserError
from pydantic_ai.models import parse_model_id
from pydantic_ai.providers import infer_provider_class

from rebrowse.errors import ConfigurationError

# LiteLLM's provider prefixes, as Optexity automations carry them, to pydantic-ai's providers.
LITELLM_PROVIDERS: dict[str, str] = {
    "gemini": "google",
    "google": "google",
    "vertex_ai": "google-vertex",
    "openai": "openai",
    "azure": "azure",
    "anthropic": "anthropic",
    "groq": "groq",
    "mistral": "mistral",
    "deepseek": "deepseek",
    "openrouter": "openrouter",
    "ollama": "ollama",
    "ollama_chat": "ollama",
    "bedrock": "bedrock",
    "cohere": "cohere",
    "xai": "xai",
}
# Bare model names (no provider) by their family's prefix.
FAMILIES: tuple[tuple[str, str], ...] = (
    ("gemini", "google"),
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("chatgpt", "openai"),
    ("claude", "anthropic"),
)


def pydantic_ai_name(name: str) -> str:
    """`provider:model` for any spelling an automation or a setting uses; unknown spellings are returned as given."""
    name = name.strip()
    if ":" in name.split("/", 1)[0]:
        return name
    prefix, slash, rest = name.partition("/")
    if slash and prefix.lower() in LITELLM_PROVIDERS:
        return f"{LITELLM_PROVIDERS[prefix.lower()]}:{rest}"
    for family, provider in FAMILIES:
        if name.lower().startswith(family):
            return f"{provider}:{name}"
    return name


def check_model_name(name: str, where: str) -> None:
    """ConfigurationError naming `where` unless `name` is a model pydantic-ai can build (its provider is known)."""
    provider, _ = parse_model_id(pydantic_ai_name(name))
    try:
        if provider is None:
            raise ValueError
        infer_provider_class(provider)
    except (ValueError, UserError):
        raise ConfigurationError(
            f"{where}: {name!r} is not a model name rebrowse knows; use provider:model, for example "
            "openai:gpt-4.1-mini, anthropic:claude-sonnet-4-5 or google:gemini-2.5-flash"
        ) from None
