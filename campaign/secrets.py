"""Credentials: referenced by environment variable (or secret file), resolved only when a request is built.

A campaign file names where a secret lives, never the secret itself::

    credentials:
      token: MASTODON_TOKEN              # variable MASTODON_TOKEN (or the file named by MASTODON_TOKEN_FILE)
      app_password: {file: secrets/bsky} # a secret file, relative to the campaign file

Values are held only in :class:`Credentials` and handed to adapters on request. :func:`redact` replaces every
known secret value in a string, and every place that prints or stores requests or errors goes through it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from campaign.errors import CredentialsError, CredentialsInFileError

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
REDACTED = "[REDACTED]"

# Every secret value this process has resolved; log records and error messages are scrubbed of them.
_RESOLVED: set[str] = set()


@dataclass(frozen=True)
class SecretRef:
    """Where one secret lives: an environment variable or a file. Holds no value."""

    env: str | None = None
    file: Path | None = None

    def describe(self) -> str:
        return f"${self.env}" if self.env else f"file {self.file}"

    def resolve(self, environ: Mapping[str, str]) -> str:
        """The secret's value, stripped of surrounding white space. Raises CredentialsError if absent."""
        if self.env:
            value = environ.get(self.env)
            if value:
                return value.strip()
            file_var = environ.get(f"{self.env}_FILE")
            if file_var:
                return _read_secret_file(Path(file_var), f"${self.env}_FILE")
            raise CredentialsError(f"environment variable {self.env} is not set")
        assert self.file is not None
        return _read_secret_file(self.file, "secret file")


def _read_secret_file(path: Path, what: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CredentialsError(f"{what} {path} cannot be read: {exc.strerror}") from None
    if not value:
        raise CredentialsError(f"{what} {path} is empty")
    return value


def parse_ref(name: str, raw: object, *, base_dir: Path, file: str, line: int | None) -> SecretRef:
    """Turn a campaign file's credential entry into a SecretRef, refusing anything that looks like a value.

    Accepted: ``NAME`` (an environment variable name), ``{env: NAME}``, ``{file: PATH}``.
    """
    if isinstance(raw, str) and ENV_NAME.match(raw):
        return SecretRef(env=raw)
    if isinstance(raw, Mapping) and len(raw) == 1:
        if isinstance(raw.get("env"), str) and ENV_NAME.match(raw["env"]):
            return SecretRef(env=raw["env"])
        if isinstance(raw.get("file"), str):
            return SecretRef(file=(base_dir / raw["file"]))
    if isinstance(raw, str):
        # Never echo the value: it may be the secret itself.
        raise CredentialsInFileError(
            f"credential {name!r} must name an environment variable (A-Z, 0-9, _) or {{file: PATH}};"
            " secrets are never written in campaign files",
            file=file,
            line=line,
        )
    raise CredentialsInFileError(
        f"credential {name!r} must be an environment variable name, {{env: NAME}} or {{file: PATH}}",
        file=file,
        line=line,
    )


class Credentials:
    """The secrets of one account, resolved lazily from the environment (or files).

    ``placeholder=True`` (dry runs without the real environment) answers ``<NAME>`` placeholders instead of
    raising, so a preview shows where each secret goes without having it.
    """

    def __init__(
        self,
        refs: Mapping[str, SecretRef],
        *,
        account: str,
        environ: Mapping[str, str] | None = None,
        placeholder: bool = False,
    ) -> None:
        self._refs = dict(refs)
        self._account = account
        self._environ = os.environ if environ is None else environ
        self._placeholder = placeholder
        self._cache: dict[str, str] = {}

    @property
    def names(self) -> list[str]:
        return sorted(self._refs)

    def has(self, name: str) -> bool:
        return name in self._refs

    def get(self, name: str) -> str:
        """The secret called ``name``. Raises CredentialsError naming account and variable, never a value."""
        if name in self._cache:
            return self._cache[name]
        ref = self._refs.get(name)
        if ref is None:
            raise CredentialsError(f"account {self._account!r} has no credential {name!r} configured")
        if self._placeholder:
            value = f"<{ref.env or name}>"
        else:
            try:
                value = ref.resolve(self._environ)
            except CredentialsError as exc:
                raise CredentialsError(f"account {self._account!r}: {exc}") from None
        self._cache[name] = value
        if not self._placeholder:
            _RESOLVED.add(value)
        return value

    def rotate(self, name: str, value: str) -> bool:
        """Replace secret ``name`` with a value the platform just issued (X rotates refresh tokens).

        The new value is used from now on by this process and redacted like the others, and it is written
        back where the secret lives when that is a file (``{file: PATH}`` or ``$NAME_FILE``), atomically and
        readable by the owner only, so a restart keeps working. Returns False when it could not be persisted
        (an environment variable: the caller must tell the operator, without the value).
        """
        ref = self._refs.get(name)
        if ref is None or not value or self._placeholder:
            return False
        self._cache[name] = value
        _RESOLVED.add(value)
        path = ref.file
        if path is None and ref.env:
            file_var = self._environ.get(f"{ref.env}_FILE")
            path = Path(file_var) if file_var and not self._environ.get(ref.env) else None
        if path is None:
            return False
        tmp = path.with_name(f".{path.name}.new")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(value + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError:
            return False
        return True

    def remember(self, value: str) -> None:
        """Register a secret obtained at run time (a refreshed token) so it is redacted like the others."""
        if value and not self._placeholder:
            self._cache.setdefault(f"runtime:{len(self._cache)}", value)
            _RESOLVED.add(value)

    def known_values(self) -> list[str]:
        """Every secret value resolved so far (for redaction)."""
        return [v for v in self._cache.values() if v]

    def __repr__(self) -> str:  # never show values
        return f"Credentials(account={self._account!r}, names={self.names!r})"


def redact_resolved(text: str) -> str:
    """``text`` scrubbed of every secret this process has resolved (for logs and error messages)."""
    return redact(text, _RESOLVED) if _RESOLVED else text


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of every secret (longest first) replaced by ``[REDACTED]``.

    Secrets shorter than 4 characters are ignored: replacing them would mangle ordinary text and they are
    not real credentials.
    """
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
