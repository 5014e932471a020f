"""The LLM steps of the extraction family: llm and pdf extraction, llm assertions and misc llm_query."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_ai import BinaryContent

from rebrowse.automation.actions import ExtractionAction, LlmAssertion, LlmExtraction, LlmQuery, PdfExtraction
from rebrowse.engine.artifacts import DownloadRecord
from rebrowse.engine.asking import ask
from rebrowse.engine.extraction import add_output, set_variable
from rebrowse.engine.llm_answers import answer_in_format, extract, page_parts, prompt_text
from rebrowse.engine.state import Step
from rebrowse.errors import StepFailed
from rebrowse.llm.formats import requested_model

JUDGE = "Judge whether the statement holds for the web page you are given, and say briefly why."
QUERY = "Answer the request in the answer's fields; use null only for a value you cannot give."


class Verdict(BaseModel):
    """An assertion's answer: Optexity's forced format."""

    assertion_result: bool
    assertion_reason: str


async def llm(step: Step, action: LlmExtraction, wrapper: ExtractionAction) -> None:
    """Read the format's fields from the page (snapshot and/or screenshot) into the outputs and variables."""
    data = await extract(
        step,
        action.extraction_format,
        prompt_text(step, action.extraction_instructions, "extraction_instructions"),
        await page_parts(step, action.source, action.include_full_page),
        purpose="llm extraction",
        model_name=requested_model(action.llm_model_name, action.llm_provider),
    )
    add_output(step, wrapper, json_data=data)
    store_variables(step, action.output_variable_names, data, allow_none=wrapper.allow_none)


async def pdf(step: Step, action: PdfExtraction, wrapper: ExtractionAction) -> None:
    """Read the format's fields from a PDF the run downloaded; the output is labelled with the file's name."""
    record = downloaded_file(step, step.sub(action.filename))
    name = step.state.secrets.redactor.redact_text(record.filename)
    document = BinaryContent(Path(record.path).read_bytes(), media_type="application/pdf")
    data = await extract(
        step,
        action.extraction_format,
        prompt_text(step, action.extraction_instructions, "extraction_instructions"),
        [f"The document {name}:", document],
        purpose="pdf extraction",
        model_name=requested_model(action.llm_model_name, action.llm_provider),
    )
    step.state.output_data.append({"unique_identifier": record.filename, "json_data": data})
    step.record.detail = f"read {record.filename}"


def downloaded_file(step: Step, wanted: str) -> DownloadRecord:
    """The run's first download whose name contains `wanted`, else its only download."""
    downloads = step.state.downloads
    for record in downloads:
        if wanted in record.filename:
            return record
    if len(downloads) == 1:
        return downloads[0]
    names = ", ".join(record.filename for record in downloads) or "none"
    raise StepFailed(f"no downloaded file's name contains {wanted!r} (the run's downloads: {names})")


async def assertion(step: Step, action: LlmAssertion) -> None:
    """Ask the model whether the statement holds on the page (its screenshot always included); false fails."""
    sources = [*action.source, "screenshot"]
    answer = await ask(
        step,
        [
            f"Statement: {prompt_text(step, action.extraction_instructions, 'extraction_instructions')}",
            *await page_parts(step, sources, action.include_full_page),
        ],
        Verdict,
        purpose="assertion",
        instructions=JUDGE,
        model_name=requested_model(action.llm_model_name, action.llm_provider),
    )
    verdict = answer.output.model_dump()
    step.state.output_data.append({"unique_identifier": None, "json_data": verdict})
    store_variables(step, action.output_variable_names, verdict, allow_none=False)
    if not answer.output.assertion_result:
        raise StepFailed(f"assertion failed: {answer.output.assertion_reason}")
    step.record.detail = f"assertion held: {answer.output.assertion_reason}"


async def llm_query(step: Step, action: LlmQuery) -> None:
    """Ask the model a question of the automation's (no page) and keep its answer as outputs and variables."""
    data = await answer_in_format(
        step,
        action.output_format,
        [prompt_text(step, action.prompt_instructions, "prompt_instructions")],
        purpose="llm_query",
        model_name=requested_model(action.llm_model_name, action.llm_provider),
        instructions=QUERY,
    )
    step.state.output_data.append({"unique_identifier": None, "json_data": data})
    # llm_query has no allow_none: a null is a value like any other, as in Optexity.
    store_variables(step, action.output_variable_names, data, allow_none=True)


def store_variables(step: Step, names: Sequence[str] | None, data: dict[str, Any], *, allow_none: bool) -> None:
    """Named answer fields become variables (a list kept, anything else `[value]`); a null anywhere in one
    fails the step unless allow_none."""
    for name in names or []:
        value = data[name]  # every output name is a field of the format: checked when the automation loads
        set_variable(step, name, value if isinstance(value, list) else [value])
        if not allow_none and holds_none(value):
            raise StepFailed(f"the model found no value for {name!r} (set allow_none to accept that)")


def holds_none(value: object) -> bool:
    """Whether a JSON-like value is null or holds a null at any depth."""
    if value is None:
        return True
    if isinstance(value, list):
        return any(holds_none(item) for item in value)
    if isinstance(value, dict):
        return any(holds_none(item) for item in value.values())
    return False
