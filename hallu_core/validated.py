"""The base of every config: a frozen pydantic model that refuses unknown fields and says what is wrong
in one wording, `field = value: what is allowed`, taken from each field's description (which the JSON
schema shows too). Fine-tuning, generation (modeling/config.py) and detector training build on it.
"""
import json
from pathlib import Path
from typing import Annotated, Any, ClassVar, Union

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError


class ConfigError(ValueError):
    """A config value that cannot work, said with the field's name and value."""


def check(ok: bool, name: str, value: Any, want: str) -> None:
    """Raise ConfigError in the house wording unless `ok` (for checks a field's type cannot say)."""
    if not ok:
        raise ConfigError(f"{name} = {value!r}: {want}")


def number(**bounds: Any) -> Any:
    """An int or a float kept as given, never a bool or a string (strict, as JSON has it)."""
    return Union[Annotated[int, Field(strict=True, **bounds)], Annotated[float, Field(strict=True, **bounds)]]


Text = Annotated[StrictStr, Field(pattern=r"\S", description="a non-empty string")]
PositiveInt = Annotated[StrictInt, Field(gt=0, description="a positive integer")]
Fraction = number(ge=0, lt=1)  # [0, 1)


def _error(cls: type, exc: ValidationError, data: dict) -> ConfigError:
    """Pydantic's errors in the configs' own words: `field = value: what is allowed` (the one place they are made)."""
    errors = exc.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        return ConfigError(f"{cls.__name__}: unknown field(s) {unknown}; known: {sorted(cls.model_fields)}")
    messages: list[str] = []
    for err in errors:
        raised = (err.get("ctx") or {}).get("error")
        if isinstance(raised, ConfigError):  # a validator's own check, already worded
            message = str(raised)
        else:
            name = str(err["loc"][0]) if err["loc"] else cls.__name__
            field = cls.model_fields.get(name)
            want = field.description if field and field.description else err["msg"]
            missing = err["type"] == "missing"
            message = f"{name} is required: {want}" if missing else f"{name} = {data.get(name)!r}: {want}"
        if message not in messages:  # an int-or-float field fails once per branch
            messages.append(message)
    return ConfigError("; ".join(messages))


class Config(BaseModel):
    """Frozen, no unknown fields, ConfigError on a bad value; JSON in and out."""
    model_config = ConfigDict(frozen=True, extra="forbid")
    _key_order: ClassVar[tuple[str, ...]] = ()  # to_dict's key order, where it differs from the fields'

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _error(type(self), exc, data) from None

    @classmethod
    def from_dict(cls, data: dict):
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path):
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read a JSON config: {exc}") from exc
        try:
            return cls.from_dict(data)
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc

    def to_dict(self) -> dict:
        out = self.model_dump()
        return {key: out[key] for key in self._key_order} if self._key_order else out

    def __setattr__(self, name: str, value: Any) -> None:  # pydantic's own refusal reads as a validation error
        raise AttributeError(f"{type(self).__name__} is frozen: make a changed copy with .replace({name}=...)")

    def replace(self, **changes: Any):
        """A copy with `changes`, checked again like a new config (what dataclasses.replace did)."""
        return type(self)(**{**{name: getattr(self, name) for name in type(self).model_fields}, **changes})

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls._key_order and sorted(cls._key_order) != sorted(cls.model_fields):
            raise TypeError(f"{cls.__name__}._key_order must name each field once")
