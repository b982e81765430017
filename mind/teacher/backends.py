"""Teacher backends: an OpenAI-compatible chat-completions server, or a local transformers model.

``--teacher`` specs:

* ``openai:MODEL``: any server that speaks the OpenAI chat-completions protocol (OpenAI, vLLM, llama.cpp
  server, Ollama, ...) through the official ``openai`` client, at ``--base-url``. The client's own retries are
  off (``max_retries=0``): :mod:`mind.teacher.retry` does them, so they are counted. The API key is read from an
  environment variable and lives only in the client object; it is never written anywhere.
* ``hf:ID_OR_FOLDER``: a local causal LM (see :mod:`mind.teacher.hf_backend`); ``hf:smollm2-135m`` is the
  embedded SmolLM2-135M-Instruct.

A backend exposes ``name`` (the cache's model key), ``batch_size`` and ``generate(list_of_messages)``; the
HTTP backend also has ``complete(messages)`` for one request, which raises :class:`TransientError`,
:class:`FatalError` or :class:`ItemError`.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from urllib.parse import urlparse

from mind.errors import BackendError, ConfigError
from mind.teacher.completion import Completion
from mind.teacher.hf_backend import HFBackend
from mind.teacher.retry import FatalError, TransientError

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
LOCAL_DUMMY_KEY = "sk-local-no-key"


class ItemError(Exception):
    """A request the server refused for this item only (HTTP 400, 413, 422): not retried, counted as failed."""

    kind = "http_4xx"


@dataclass(frozen=True)
class TeacherSpec:
    kind: str  # "openai" or "hf"
    model: str  # server-side model name, or hub id / folder

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.model}"


def parse_teacher(spec: str, flag: str = "--teacher") -> TeacherSpec:
    """Parse ``openai:MODEL`` or ``hf:ID_OR_FOLDER`` (the model part may contain further colons)."""
    kind, sep, model = (spec or "").partition(":")
    if not sep or kind not in ("openai", "hf") or not model.strip():
        raise ConfigError(
            f"{flag} {spec!r}: expected openai:MODEL (an OpenAI-compatible server) or hf:ID_OR_FOLDER (a local model)"
        )
    return TeacherSpec(kind, model.strip())


def is_local_url(url: str | None) -> bool:
    """True for loopback and private-network hosts (local servers often need no key)."""
    if not url:
        return False
    host = urlparse(url if "://" in url else f"http://{url}").hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_unspecified


def resolve_api_key(env_name: str, base_url: str | None) -> str:
    """The API key from ``env_name``; a dummy key for a local server when the variable is unset."""
    key = os.environ.get(env_name, "")
    if key:
        return key
    if is_local_url(base_url):
        return LOCAL_DUMMY_KEY
    where = base_url or "api.openai.com"
    raise ConfigError(
        f"environment variable {env_name} is not set and {where} is not a local server; "
        f"export {env_name}=<your key> or pass --api-key-env NAME"
    )


def _retry_after(exc) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


class OpenAIBackend:
    """One OpenAI-compatible chat-completions endpoint; thread-safe (one shared HTTP client)."""

    batch_size = 1
    concurrent = True

    def __init__(self, model: str, base_url: str | None = None, api_key: str = LOCAL_DUMMY_KEY,
                 timeout: float = 120.0, max_tokens: int = 1024, temperature: float = 0.0,
                 key_env: str = DEFAULT_KEY_ENV):
        import openai

        if timeout <= 0:
            raise ConfigError(f"--timeout {timeout}: must be > 0 seconds")
        if max_tokens <= 0:
            raise ConfigError(f"--max-tokens {max_tokens}: must be > 0")
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = base_url
        self.key_env = key_env
        self.params = {"max_tokens": int(max_tokens), "temperature": float(temperature)}
        self._openai = openai
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)
        self._key = api_key

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "<redacted>") if self._key else text

    def complete(self, messages: list[dict]) -> Completion:
        """Send one request; map every failure to TransientError / FatalError / ItemError."""
        oa = self._openai
        try:
            resp = self._client.chat.completions.create(model=self.model, messages=messages, **self.params)
        except oa.APITimeoutError:
            raise TransientError("timeout", "request timed out") from None
        except oa.APIConnectionError as exc:
            raise TransientError("connection", self._redact(f"connection failed ({exc})")) from None
        except oa.APIStatusError as exc:
            code = exc.status_code
            if code == 429 or code >= 500 or code in (408, 409):
                raise TransientError(f"http_{code}", f"HTTP {code}", _retry_after(exc)) from None
            if code in (401, 403):
                raise FatalError(
                    f"teacher server {self.base_url or 'api.openai.com'} rejected the API key from ${self.key_env} "
                    f"(HTTP {code}); check the key or --api-key-env"
                ) from None
            if code == 404:
                raise FatalError(
                    f"teacher model {self.model!r} or endpoint not found at {self.base_url or 'api.openai.com'} "
                    "(HTTP 404); check --teacher and --base-url (it usually ends in /v1)"
                ) from None
            raise ItemError(self._redact(f"HTTP {code}: {exc.message}"[:300])) from None
        except (oa.APIResponseValidationError, ValueError) as exc:
            raise TransientError("malformed", f"malformed response ({type(exc).__name__})") from None
        return self._parse(resp)

    @staticmethod
    def _parse(resp) -> Completion:
        try:
            choice = resp.choices[0]
            text = choice.message.content
            if not isinstance(text, str):
                raise TypeError("content is not a string")
            usage = getattr(resp, "usage", None)
            pt = int(getattr(usage, "prompt_tokens", 0) or 0) if usage is not None else 0
            ct = int(getattr(usage, "completion_tokens", 0) or 0) if usage is not None else 0
            return Completion(text, pt, ct, str(getattr(choice, "finish_reason", "") or ""))
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            raise TransientError("malformed", "malformed response (no choices[0].message.content)") from None

    def generate(self, batch: list[list[dict]]) -> list[Completion]:
        return [self.complete(m) for m in batch]


def make_backend(spec: str | TeacherSpec, *, base_url: str | None = None, api_key_env: str = DEFAULT_KEY_ENV,
                 timeout: float = 120.0, max_tokens: int = 1024, temperature: float = 0.0, batch_size: int = 8,
                 device: str | None = None, flag: str = "--teacher"):
    """Build the backend for a ``--teacher`` (or judge) spec."""
    ts = parse_teacher(spec, flag) if isinstance(spec, str) else spec
    if ts.kind == "openai":
        key = resolve_api_key(api_key_env, base_url)
        return OpenAIBackend(ts.model, base_url, key, timeout, max_tokens, temperature, api_key_env)
    if ts.kind == "hf":
        return HFBackend(ts.model, max_tokens=max_tokens, temperature=temperature, batch_size=batch_size,
                         device=device)
    raise BackendError(f"{flag}: backend {ts.kind!r} is not available")  # unreachable after parse_teacher
