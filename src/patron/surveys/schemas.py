"""Survey definitions (what a manager writes in YAML/JSON or sends to the API) and response shapes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from patron.core.schemas import ReadModel
from patron.surveys import texts

Text = Annotated[texts.LocalizedText, BeforeValidator(texts.complete)]
Key = Annotated[
    str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="lower-case letters, digits, underscores")
]


class Touchpoint(StrEnum):
    POST_PURCHASE = "post_purchase"
    DELIVERY = "delivery"
    SUPPORT_CLOSED = "support_closed"
    STORE_VISIT = "store_visit"
    ONBOARDING = "onboarding"
    RELATIONSHIP = "relationship"


class SurveyChannel(StrEnum):
    EMAIL = "email"
    WEB = "web"
    APP = "app"
    SMS = "sms"
    STORE = "store"
    LINK = "link"


class SurveyKind(StrEnum):
    NPS = "nps"
    CSAT = "csat"
    CES = "ces"
    CUSTOM = "custom"


class ServqualDimension(StrEnum):
    RELIABILITY = "reliability"
    RESPONSIVENESS = "responsiveness"
    ASSURANCE = "assurance"
    EMPATHY = "empathy"
    TANGIBLES = "tangibles"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShowIf(Strict):
    """Show a question only when an earlier one was answered in a range or with one of some choices."""

    question: Key
    between: tuple[int, int] | None = None
    any_of: list[str] | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> ShowIf:
        if (self.between is None) == (self.any_of is None):
            raise PydanticCustomError(
                "survey.show_if_one_rule", "show_if needs exactly one of 'between' or 'any_of'"
            )
        if self.between is not None and self.between[0] > self.between[1]:
            raise PydanticCustomError("survey.show_if_between_order", "show_if.between must be [low, high]")
        return self


class QuestionBase(Strict):
    key: Key
    label: Text
    help: Text | None = None
    required: StrictBool = True
    show_if: ShowIf | None = None


class ScaleQuestion(QuestionBase):
    """A score on a fixed scale; ``low_label``/``high_label`` name the ends for respondents."""

    type: str
    low_label: Text | None = None
    high_label: Text | None = None

    def bounds(self) -> tuple[int, int]:
        raise NotImplementedError


class NpsQuestion(ScaleQuestion):
    type: Literal["nps"]

    def bounds(self) -> tuple[int, int]:
        return 0, 10


class CsatQuestion(ScaleQuestion):
    """5-point Likert (非常不滿意 … 非常滿意) or 1–10; satisfied is the top box (4–5, or ``top_box`` on 1–10)."""

    type: Literal["csat"]
    scale: Literal[5, 10] = 5

    def bounds(self) -> tuple[int, int]:
        return 1, self.scale


class CesQuestion(ScaleQuestion):
    """Customer effort on 1–7 agreement with "the company made it easy to handle my issue": higher is easier."""

    type: Literal["ces"]

    def bounds(self) -> tuple[int, int]:
        return 1, 7


class RatingQuestion(ScaleQuestion):
    type: Literal["rating"]
    min: int = Field(1, ge=0, le=10)
    max: int = Field(5, ge=1, le=10)

    def bounds(self) -> tuple[int, int]:
        return self.min, self.max

    @model_validator(mode="after")
    def _ordered(self) -> RatingQuestion:
        if self.min >= self.max:
            raise PydanticCustomError("survey.rating_order", "rating needs min < max")
        return self


class Option(Strict):
    key: Key
    label: Text


class ChoiceQuestion(QuestionBase):
    type: Literal["single_choice", "multiple_choice"]
    options: list[Option] = Field(min_length=2, max_length=50)
    max_selected: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _unique_options(self) -> ChoiceQuestion:
        keys = [o.key for o in self.options]
        if len(set(keys)) != len(keys):
            raise PydanticCustomError("survey.option_keys_twice", "option keys must be unique")
        return self


class TextQuestion(QuestionBase):
    type: Literal["text"]
    max_length: int = Field(2000, ge=1, le=10_000)
    #: Promoters may let the brand quote them: a consent checkbox shown with the text.
    consent_to_publish: StrictBool = False


class ServqualItem(Strict):
    key: Key
    dimension: ServqualDimension
    label: Text


class ServqualQuestion(QuestionBase):
    """Paired items: what the customer expected and what they perceived, each on 1–7 (gap = P − E)."""

    type: Literal["servqual"]
    items: list[ServqualItem] = Field(min_length=1, max_length=40)

    def bounds(self) -> tuple[int, int]:
        return 1, 7


Question = Annotated[
    NpsQuestion
    | CsatQuestion
    | CesQuestion
    | RatingQuestion
    | ChoiceQuestion
    | TextQuestion
    | ServqualQuestion,
    Field(discriminator="type"),
]


class Trigger(Strict):
    """Invite ``delay_hours`` after an order (``event: order``) or an interaction of that type
    (``order_delivered``, ``support_contact``, ``store_visit``…), looking back ``lookback_days``."""

    event: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    delay_hours: int = Field(48, ge=0, le=24 * 60)
    lookback_days: int = Field(14, ge=1, le=365)


class SurveySettings(Strict):
    trigger: Trigger | None = None
    #: Allow the anonymous public link /p/{workspace}/{survey} and its embeddable snippet.
    public: StrictBool = False
    one_question_per_page: StrictBool = False
    expires_after_days: int = Field(14, ge=1, le=365)
    reminder_after_days: int | None = Field(3, ge=1, le=60)
    sampling_rate: float = Field(1.0, gt=0, le=1)


class SurveyDefinition(Strict):
    key: Key
    name: Text
    kind: SurveyKind
    touchpoint: Touchpoint
    channel: SurveyChannel = SurveyChannel.EMAIL
    intro: Text | None = None
    thanks: Text | None = None
    settings: SurveySettings = SurveySettings()
    questions: list[Question] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _consistent(self) -> SurveyDefinition:
        seen: dict[str, Any] = {}
        for question in self.questions:
            if question.key in seen:
                raise PydanticCustomError(
                    "survey.question_key_twice", "question key '{key}' is used twice", {"key": question.key}
                )
            rule = question.show_if
            if rule is not None:
                target = seen.get(rule.question)
                if target is None:
                    raise PydanticCustomError(
                        "survey.show_if_not_earlier",
                        "{question}: show_if refers to '{target}', which is not an earlier question",
                        {"question": question.key, "target": rule.question},
                    )
                if rule.between is not None and not isinstance(target, ScaleQuestion):
                    raise PydanticCustomError(
                        "survey.show_if_needs_score",
                        "{question}: show_if.between needs a scored question, '{target}' is not",
                        {"question": question.key, "target": rule.question},
                    )
                if rule.any_of is not None:
                    if not isinstance(target, ChoiceQuestion):
                        raise PydanticCustomError(
                            "survey.show_if_needs_choice",
                            "{question}: show_if.any_of needs a choice question, '{target}' is not",
                            {"question": question.key, "target": rule.question},
                        )
                    unknown = set(rule.any_of) - {o.key for o in target.options}
                    if unknown:
                        raise PydanticCustomError(
                            "survey.show_if_unknown_options",
                            "{question}: show_if.any_of names unknown options {options}",
                            {"question": question.key, "options": sorted(unknown)},
                        )
            seen[question.key] = question
        kinds = {SurveyKind.NPS: NpsQuestion, SurveyKind.CSAT: CsatQuestion, SurveyKind.CES: CesQuestion}
        wanted = kinds.get(self.kind)
        if wanted is not None and not any(isinstance(q, wanted) for q in self.questions):
            raise PydanticCustomError(
                "survey.kind_needs_question",
                "a {kind} survey needs a question of type {kind}",
                {"kind": self.kind.value},
            )
        return self

    def missing_languages(self) -> list[str]:
        """Where a text lacks a language (answers then fall back), as 'question q2: en'."""
        problems: list[str] = []

        def check(where: str, value: texts.LocalizedText | None) -> None:
            if value:
                problems.extend(f"{where}: {locale}" for locale in texts.missing_languages(value))

        check("name", self.name)
        check("intro", self.intro)
        check("thanks", self.thanks)
        for q in self.questions:
            check(f"question {q.key}", q.label)
            for option in getattr(q, "options", []):
                check(f"question {q.key} option {option.key}", option.label)
            for item in getattr(q, "items", []):
                check(f"question {q.key} item {item.key}", item.label)
        return problems


class EmbedSnippet(BaseModel):
    url: str
    html: str = Field(
        description="Paste into a checkout thank-you page; add &order=<id> per order if you like"
    )


class SurveyRead(ReadModel):
    key: str
    version: int
    status: str
    kind: str
    touchpoint: str
    channel: str
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class SurveyCreated(BaseModel):
    survey: SurveyRead
    warnings: list[str]


# ------------------------------------------------------------------ responses
# Strict: a score of 7.0 or "7" is refused rather than silently turned into 7.
AnswerValue = StrictInt | StrictStr | list[StrictStr] | dict[StrictStr, dict[StrictStr, StrictInt]] | None


class ResponseSubmit(Strict):
    """A response sent by an integrator that runs its own form. ``client_key`` makes retries safe."""

    survey: Key
    customer_id: str | None = Field(
        None, max_length=128, pattern=r"^[^\x00]+$", description="the customer's external id"
    )
    client_key: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[^\x00]+$")
    locale: str = Field("zh-Hant", max_length=35)
    touchpoint: Touchpoint | None = None
    channel: SurveyChannel | None = None
    order_id: str | None = Field(None, max_length=128, pattern=r"^[^\x00]+$")
    answers: dict[str, AnswerValue] = Field(max_length=200)
    #: Strict, like every flag a caller sends: 0, 1, "yes" or "true" are refused rather than read as a yes or no.
    publish_consent: StrictBool = False
    #: How a testimonial may name the respondent when they consented: their full name, initials, or not at all.
    publish_as: Literal["full", "initials", "anonymous"] = "anonymous"


class ResponseBatch(Strict):
    responses: list[ResponseSubmit] = Field(min_length=1, max_length=1000)


class ResponseRead(BaseModel):
    id: int
    survey: str
    survey_version: int
    customer_id: str | None
    client_key: str | None
    status: str
    locale: str
    touchpoint: str
    channel: str
    completed_at: datetime | None
    answers: dict[str, AnswerValue]
    duplicate: bool = Field(
        False, description="true when this client_key was already stored: nothing new was written"
    )


class BatchItemResult(BaseModel):
    index: int
    response: ResponseRead | None = None
    error: dict[str, Any] | None = None


class BatchResult(BaseModel):
    stored: int
    duplicates: int
    rejected: int
    results: list[BatchItemResult]
