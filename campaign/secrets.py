"""Credentials: referenced by environment variable (or secret file), resolved only when a request is built.

A campaign file names where a secret lives, never the secret itself::

    credentials:
      token: CAMPAIGN_MASTODON_TOKEN     # variable CAMPAIGN_MASTODON_TOKEN (or the file named by ..._FILE)
      app_password: {file: /run/secrets/bsky}   # a secret file (relative paths: from the campaign file)

Values are held only in :class:`Credentials` and handed to adapters on request. :func:`redact` replaces every
known secret value in a string, in every form it takes in transit, and every place that prints or stores
requests or errors goes through it.

**Which secrets a campaign may use is the operator's decision** (:class:`SecretPolicy`), read from the
environment of the process (CLI, daemon, CI job); nothing in a campaign file can widen it:

* ``CAMPAIGN_SECRET_ENV``: comma-separated environment variable names or shell-style patterns a credential
  may name (``CAMPAIGN_*,HKSTP_X_TOKEN``). Default ``CAMPAIGN_*``: an operator exposes a variable to
  campaign files by giving it that prefix, as front-end build tools expose only ``VITE_*``/``NEXT_PUBLIC_*``
  variables, so ``OTHER_TEAM_DB_PASSWORD`` is out of reach. Set it to an empty value to allow no variable.
  ``campaign``'s own settings (:data:`RESERVED_ENV`: the database URL, these settings, test fixtures) are
  never credentials, even under ``*``.
* ``CAMPAIGN_SECRETS_DIR``: the folders (``os.pathsep``-separated) secret files may come from; a
  ``{file: PATH}`` must resolve, symlinks followed, to a regular file inside one. Default: systemd's
  ``$CREDENTIALS_DIRECTORY`` when set, ``/run/secrets`` (Docker, Kubernetes) and
  ``~/.config/campaign/secrets``. A ``NAME_FILE`` variable is the operator's own and is not restricted.
  A secrets folder inside a project root is also closed to the project's templates, releases and media.

A reference outside the list is a :class:`~campaign.errors.ConfigError` naming the campaign file, line and
credential (:meth:`SecretPolicy.check`).
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import json
import os
import re
import stat
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote, urlsplit

import ahocorasick_rs

from campaign.errors import ConfigError, CredentialsError, CredentialsInFileError

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
REDACTED = "[REDACTED]"
ENV_ALLOW = "CAMPAIGN_SECRET_ENV"
ENV_DIRS = "CAMPAIGN_SECRETS_DIR"
DEFAULT_ENV_PATTERNS: tuple[str, ...] = ("CAMPAIGN_*",)
#: ``campaign``'s own settings: never usable as credentials (the database URL may hold a password).
RESERVED_ENV = (
    "CAMPAIGN_DB*",
    "CAMPAIGN_SECRET_ENV",
    "CAMPAIGN_SECRETS_DIR",
    "CAMPAIGN_RENDER_*",
    "CAMPAIGN_DEBUG",
    "CAMPAIGN_LOG*",
    "CAMPAIGN_TEST_*",
    "CAMPAIGN_PDS_*",
)
_PATTERN = re.compile(r"^[A-Z0-9_*?]+$")
#: Shortest secret replaced by redaction (shorter ones would mangle ordinary text), and the shortest
#: derived form (a URL's path, a base64 fragment) replaced on its own.
MIN_SECRET = 4
MIN_DERIVED = 8
MIN_SECRET_PATH = 12

_MAX_SECRET_BYTES = 65536
#: Values a platform issued at run time (a rotated X token, a Bluesky session) that newer ones replaced,
#: kept redacted per credential: the answer to a request sent just before a renewal, or an error about it,
#: may still carry one. Older ones are forgotten, so a daemon renewing tokens for months stays the same size.
SUPERSEDED_KEPT = 2
# Every secret value this process holds, with how many holders keep it; log records and error messages are
# scrubbed of them (:func:`redact_resolved`). A secret resolved from the environment or a file is held for
# good; a value issued at run time only while its credentials hold it (the current one and the last
# SUPERSEDED_KEPT it replaced). Changed under _GROWING only (:func:`_resolved`, :func:`_forget`).
_RESOLVED: dict[str, int] = {}
# The secrets that entered _RESOLVED since the redactors last took them (an ordered set), and how many times
# a secret entered or left it.
_fresh: dict[str, None] = {}
_added = 0
_retired = 0


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
        # Non-blocking and regular files only: a FIFO or device named as a secret must not hang the daemon.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise CredentialsError(f"{what} {path} is not a regular file")
            data = handle.read(_MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise CredentialsError(f"{what} {path} cannot be read: {exc.strerror}") from None
    if len(data) > _MAX_SECRET_BYTES:
        raise CredentialsError(f"{what} {path} is larger than {_MAX_SECRET_BYTES} bytes")
    try:
        value = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CredentialsError(f"{what} {path} is not UTF-8 text") from None
    if not value:
        raise CredentialsError(f"{what} {path} is empty")
    return value


def parse_ref(
    name: str,
    raw: object,
    *,
    base_dir: Path,
    file: str,
    line: int | None,
    policy: SecretPolicy | None = None,
    account: str | None = None,
) -> SecretRef:
    """Turn a campaign file's credential entry into a SecretRef, refusing anything that looks like a value.

    Accepted: ``NAME`` (an environment variable name), ``{env: NAME}``, ``{file: PATH}``. With ``policy``
    the reference must also be on the operator's allow-list (:meth:`SecretPolicy.check`).
    """
    ref = _ref_of(raw, base_dir)
    if ref is not None:
        if policy is not None:
            policy.check(ref, credential=name, account=account, file=file, line=line)
        return ref
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


def _ref_of(raw: object, base_dir: Path) -> SecretRef | None:
    if isinstance(raw, str) and ENV_NAME.match(raw):
        return SecretRef(env=raw)
    if isinstance(raw, Mapping) and len(raw) == 1:
        if isinstance(raw.get("env"), str) and ENV_NAME.match(raw["env"]):
            return SecretRef(env=raw["env"])
        if isinstance(raw.get("file"), str):
            return SecretRef(file=(base_dir / raw["file"]))
    return None


def secret_dirs(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The operator's secrets folders: ``CAMPAIGN_SECRETS_DIR`` (``os.pathsep``-separated), else the defaults
    (``$CREDENTIALS_DIRECTORY``, ``/run/secrets``, ``~/.config/campaign/secrets``)."""
    env = os.environ if environ is None else environ
    if env.get(ENV_DIRS) is not None:
        return tuple(Path(d).expanduser() for d in env[ENV_DIRS].split(os.pathsep) if d.strip())
    dirs = [Path(env["CREDENTIALS_DIRECTORY"])] if env.get("CREDENTIALS_DIRECTORY") else []
    home = env.get("HOME")
    return (*dirs, Path("/run/secrets"), *([Path(home) / ".config" / "campaign" / "secrets"] if home else []))


@dataclass(frozen=True)
class SecretPolicy:
    """The operator's allow-list of credential references (rules and defaults in the module docstring)."""

    env_patterns: tuple[str, ...] = DEFAULT_ENV_PATTERNS
    dirs: tuple[Path, ...] = ()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SecretPolicy:
        """The policy of this process: ``CAMPAIGN_SECRET_ENV`` and ``CAMPAIGN_SECRETS_DIR``, else defaults.

        Raises :class:`~campaign.errors.ConfigError` naming the variable for a malformed pattern.
        """
        env = os.environ if environ is None else environ
        patterns = DEFAULT_ENV_PATTERNS
        if ENV_ALLOW in env:
            patterns = tuple(p.strip() for p in env[ENV_ALLOW].split(",") if p.strip())
            for pattern in patterns:
                if not _PATTERN.match(pattern):
                    raise ConfigError(
                        f"{ENV_ALLOW}: {pattern!r} is not a variable name or pattern (A-Z, 0-9, _, *, ?)"
                    )
        return cls(env_patterns=patterns, dirs=secret_dirs(env))

    def allows_env(self, name: str) -> bool:
        """Whether a credential may name environment variable ``name``."""
        if any(fnmatch.fnmatchcase(name, reserved) for reserved in RESERVED_ENV):
            return False
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.env_patterns)

    def file_problem(self, path: Path) -> str | None:
        """Why secret file ``path`` is refused, or None. Symlinks are resolved before the check."""
        try:
            real = Path(os.path.realpath(path, strict=True))
        except OSError:
            real = Path(os.path.realpath(path))
            inside = any(real.is_relative_to(os.path.realpath(d)) for d in self.dirs)
            return None if inside else self._outside(real)  # missing: reported when it is read
        if not any(real.is_relative_to(os.path.realpath(d)) for d in self.dirs):
            return self._outside(real)
        if not stat.S_ISREG(os.stat(real).st_mode):
            return f"secret file {path} is not a regular file"
        return None

    def _outside(self, real: Path) -> str:
        where = ", ".join(str(d) for d in self.dirs) or "none allowed"
        return f"secret file {real} is outside the secrets folders ({ENV_DIRS}: {where})"

    def check(
        self,
        ref: SecretRef,
        *,
        credential: str,
        account: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        """Raise ConfigError (naming file, line, account and credential, never a value) unless allowed."""
        whose = f"credential {credential!r}" + (f" of account {account!r}" if account else "")
        if ref.env is not None:
            if not self.allows_env(ref.env):
                allowed = ", ".join(self.env_patterns) or "none"
                reserved = (
                    " (reserved for campaign's own settings)"
                    if any(fnmatch.fnmatchcase(ref.env, r) for r in RESERVED_ENV)
                    else ""
                )
                raise ConfigError(
                    f"{whose}: environment variable {ref.env} is not on the operator's allow-list"
                    f"{reserved} ({ENV_ALLOW}: {allowed})",
                    file=file,
                    line=line,
                )
            return
        assert ref.file is not None
        problem = self.file_problem(ref.file)
        if problem is not None:
            raise ConfigError(f"{whose}: {problem}", file=file, line=line)


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
        self._superseded: dict[str, list[str]] = {}
        # Values issued at run time that this object holds (current and superseded), forgotten with it.
        self._issued: list[str] = []
        weakref.finalize(self, _forget, self._issued)

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
            if len(value) < MIN_SECRET:  # redaction leaves shorter texts alone: it could not be kept secret
                raise CredentialsError(
                    f"account {self._account!r}: credential {name!r} has fewer than {MIN_SECRET} characters,"
                    " too short for a real credential and to be kept out of logs"
                )
        self._cache[name] = value
        if not self._placeholder:
            _resolved(value)
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
        self._take(name, value)
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
        """Register a secret obtained at run time (a refreshed token) so it is redacted like the others.

        Idempotent: adapters register a derived secret (a webhook URL's path) on every request, and a daemon
        makes requests for months."""
        if value and not self._placeholder and value not in self._cache.values():
            self._cache[f"runtime:{len(self._cache)}"] = value
            _resolved(value)

    def issued(self, name: str, value: str) -> None:
        """Hold ``value``, which the platform issued at run time for ``name`` (a session token), in place of
        the one before; both are redacted like the others (see :data:`SUPERSEDED_KEPT`). Not persisted."""
        if value and not self._placeholder:
            self._take(f"issued:{name}", value)

    def _take(self, key: str, value: str) -> None:
        """``value`` becomes the one held under ``key``; the value it replaces is kept redacted for the next
        :data:`SUPERSEDED_KEPT` replacements, then forgotten."""
        old = self._cache.get(key)
        if old == value:
            return
        self._cache[key] = value
        self._issued.append(value)
        _resolved(value)
        if old:
            history = self._superseded.setdefault(key, [])
            history.append(old)
            if len(history) > SUPERSEDED_KEPT:
                gone = history.pop(0)
                if gone in self._issued:  # a value resolved from the environment or a file is held for good
                    self._issued.remove(gone)
                    _forget([gone])

    def known_values(self) -> list[str]:
        """Every secret value this account holds (for redaction): resolved, issued, and recently replaced."""
        held = [v for v in self._cache.values() if v]
        for history in self._superseded.values():
            held.extend(history)
        return held

    def __repr__(self) -> str:  # never show values
        return f"Credentials(account={self._account!r}, names={self.names!r})"


def _resolved(value: str) -> None:
    """Hold a secret this process resolved: from now on it is scrubbed from every log line and error."""
    global _added
    with _GROWING:
        held = _RESOLVED.get(value, 0)
        _RESOLVED[value] = held + 1
        if not held:
            _fresh[value] = None
            _added += 1


def _forget(values: list[str]) -> None:
    """Let go of each of ``values`` once (each was held by :func:`_resolved`). A secret nobody holds any
    more leaves :data:`_RESOLVED`; the redactors drop it when they are next rebuilt (:func:`_grow`)."""
    global _retired
    with _GROWING:
        for value in values:
            held = _RESOLVED.get(value, 0) - 1
            if held > 0:
                _RESOLVED[value] = held
            elif held == 0:
                del _RESOLVED[value]
                _fresh.pop(value, None)
                _retired += 1


def redact_resolved(text: str) -> str:
    """``text`` scrubbed of every secret this process holds (for logs and error messages)."""
    layers = _layers
    if layers.added != _added or _retired - layers.retired > layers.built // 2:
        layers = _grow()
    elif len(layers.levels) > 1:
        global _quiet
        _quiet += 1
        if _quiet >= COMPACT_AFTER:
            layers = _grow(compact=True)
    return layers.scrub(text)


#: Scrubs without a new secret after which the levels of :data:`_layers` are merged into one.
COMPACT_AFTER = 1000


@dataclass(frozen=True)
class _Layers:
    """The redactors of :data:`_RESOLVED`, in levels (oldest and largest first, each under half the size of
    the one before) whose matches are combined.

    Secrets arrive one by one (a daemon resolves an account's token when its first post goes out). One
    redactor rebuilt for each new secret cost the whole set every time, quadratic in the accounts: with a
    line logged after each new token, 500 tokens took 0.76 s of the event loop's time in all, and 2,000
    took 29 s (0.03 s and 0.14 s here). Here the new secrets form a level of their own, merged into the level
    before it while they are at least half its size (in forms), so each form is rebuilt O(log n) times and
    a line is searched by O(log n) levels; :data:`COMPACT_AFTER` scrubs without a new secret merge them all
    into one. Secrets that leave are dropped the same lazy way: the levels keep redacting them (harmless)
    until more left than half the secrets built in, then are rebuilt from those held (about 80 ms for 2,000
    secrets: once per renewal it would stall the loop every few seconds on a daemon with many X accounts).
    Immutable: a thread that scrubs keeps its snapshot while another grows the set (under :data:`_GROWING`).
    """

    levels: tuple[_Redactor, ...] = ()
    #: :data:`_added` and :data:`_retired` when built, and how many secrets the levels were built from.
    added: int = 0
    retired: int = 0
    built: int = 0

    def scrub(self, text: str) -> str:
        if len(self.levels) == 1:
            return self.levels[0].scrub(text)
        if not self.levels or len(text) < MIN_SECRET:
            return text
        spans = [span for level in self.levels for span in level.spans(text)]
        return _replace(text, sorted(spans)) if spans else text


def _grow(*, compact: bool = False) -> _Layers:
    """Bring :data:`_layers` up to every held secret (``compact``: also merge its levels into one)."""
    global _layers, _quiet
    with _GROWING:
        layers, _quiet = _layers, 0
        if _retired - layers.retired > layers.built // 2:  # mostly forgotten secrets: rebuild from those held
            layers, compact, fresh = _Layers(retired=_retired), True, list(_RESOLVED)
        else:
            fresh = list(_fresh)
        _fresh.clear()
        forms: set[str] = set()
        for secret in fresh:
            if len(secret) >= MIN_SECRET:
                forms.update(secret_forms(secret))
        levels = list(layers.levels)
        while levels and (compact or 2 * len(forms) >= len(levels[-1].forms)):
            forms.update(levels.pop().forms)
        if forms:
            levels.append(_Redactor(frozenset(forms)))
        _layers = _Layers(tuple(levels), _added, layers.retired, layers.built + len(fresh))
        return _layers


# Reentrant: a collection inside _grow may run a Credentials finalizer (_forget) in the same thread.
_GROWING = threading.RLock()
_layers = _Layers()
_quiet = 0


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret, in every form it takes in transit, replaced by ``[REDACTED]``.

    Forms (:func:`secret_forms`): as is; JSON-escaped (as inside a JSON string, ASCII-escaped or not);
    URL-encoded (``quote`` with and without ``/`` safe, ``quote_plus``); base64 and URL-safe base64 at every
    byte alignment, so the secret is found inside ``base64("user:" + secret)`` of HTTP Basic auth; and for a
    secret that is a URL, the URL without its query, its path alone (servers echo ``POST /path``) and its
    long path segments and query values (:func:`_url_forms`). Percent-escapes in upper and lower case.
    Every character inside an occurrence of any form is replaced (overlapping occurrences become one
    ``[REDACTED]``). Secrets shorter than 4 characters are ignored (replacing them would mangle ordinary text;
    they are not real credentials, and :meth:`Credentials.get` refuses them), as are derived forms shorter
    than 8 (base64 fragments) or 12 (URL paths) characters.
    """
    return _redactor(frozenset(s for s in secrets if len(s) >= MIN_SECRET)).scrub(text)


class _Redactor:
    """Finds every occurrence of every form of a set of secrets. With few forms, each is searched for with
    ``str.find`` (C speed per form). With many (a daemon holding hundreds of accounts' tokens, about four
    forms per secret) a search per form costs a scan of the text per form, so all forms are searched at once
    by an Aho-Corasick automaton (ahocorasick-rs, a maintained Rust implementation:
    https://github.com/G-Research/ahocorasick_rs): ~2.5 us for a daemon's log line at 500 accounts, where a
    walk of the line in Python took ~43 us, on every line the daemon writes."""

    #: Above this many forms the text is searched once for all of them instead of once per form.
    INDEX_ABOVE = 64

    def __init__(self, forms: frozenset[str]) -> None:
        self.forms = tuple(sorted(forms, key=len, reverse=True))
        self._automaton: ahocorasick_rs.AhoCorasick | None = None
        if len(self.forms) > self.INDEX_ABOVE:
            # Standard match kind with overlapping matches: every occurrence of every form.
            kind = ahocorasick_rs.MATCHKIND_STANDARD
            self._automaton = ahocorasick_rs.AhoCorasick(self.forms, matchkind=kind)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Every occurrence of every form in ``text``, as sorted (start, end) pairs."""
        if self._automaton is not None:
            found = self._automaton.find_matches_as_indexes(text, overlapping=True)
            return sorted((start, end) for _, start, end in found)
        spans: list[tuple[int, int]] = []
        for form in self.forms:
            at = text.find(form)
            while at >= 0:
                spans.append((at, at + len(form)))
                at = text.find(form, at + 1)
        return sorted(spans)

    def scrub(self, text: str) -> str:
        """``text`` with every character inside an occurrence of a form replaced; overlapping occurrences
        become one ``[REDACTED]``."""
        if not self.forms or len(text) < MIN_SECRET:
            return text
        spans = self.spans(text)
        return _replace(text, spans) if spans else text


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with every character inside the sorted ``spans`` replaced; overlapping ones become one
    ``[REDACTED]``."""
    pieces: list[str] = []
    last = 0  # the end of what is already emitted or redacted
    for start, end in spans:
        if start < last:  # overlaps the occurrence just redacted: extend it
            last = max(last, end)
            continue
        pieces.append(text[last:start])
        pieces.append(REDACTED)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


@functools.lru_cache(maxsize=256)
def _redactor(secrets: frozenset[str]) -> _Redactor:
    """The redactor of a set of secrets (cached: callers redact many texts with the same set)."""
    forms: set[str] = set()
    for secret in secrets:
        forms.update(secret_forms(secret))
    return _Redactor(frozenset(forms))


@functools.lru_cache(maxsize=1024)
def secret_forms(secret: str) -> frozenset[str]:
    """Every form of ``secret`` that :func:`redact` replaces (see there). Cached: computed once per secret."""
    forms: set[str] = set()
    for base in {secret} | _url_forms(secret):
        forms.add(base)
        forms.add(json.dumps(base)[1:-1])
        forms.add(json.dumps(base, ensure_ascii=False)[1:-1])
        escaped = {quote(base), quote(base, safe=""), quote_plus(base), quote_plus(base, safe="/")}
        forms.update(escaped)
        forms.update(_ESCAPE.sub(lambda m: m[0].lower(), e) for e in escaped)  # %2b as well as %2B
    forms.update(_base64_forms(secret.encode("utf-8")))
    return frozenset(f for f in forms if len(f) >= MIN_SECRET)


_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def _base64_forms(data: bytes) -> set[str]:
    """The base64 characters determined by ``data`` alone, at each of the three byte alignments.

    Base64 maps 3 bytes to 4 characters, so inside a longer encoded string the secret's bytes start at
    offset 0, 1 or 2 of a group; the groups made only of the secret's bytes encode identically whatever
    surrounds them.
    """
    forms = set()
    for offset in range(3):
        padded = b"\0" * offset + data
        whole = (
            len(padded) // 3 * 4
        )  # characters of complete groups (the last partial one depends on what follows)
        start = 4 if offset else 0  # the first group mixes in what precedes the secret
        for encoded in (base64.b64encode(padded), base64.urlsafe_b64encode(padded)):
            chunk = encoded[start:whole].decode("ascii")
            if len(chunk) >= MIN_DERIVED:
                forms.add(chunk)
    return forms


def _url_forms(secret: str) -> set[str]:
    """For a secret that is a URL: the URL without its query; its path (with and without the query); and
    each path segment and query value of :data:`MIN_SECRET_PATH` characters or more, since the token of a
    webhook URL is one of those (Slack's and Discord's last segment, a Teams or Logic Apps ``sig``) and a
    server may quote it alone. Each also as percent-decoded, the way a client library may name a path."""
    try:
        parts = urlsplit(secret)
    except ValueError:
        return set()
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return set()
    pieces = {parts.path, f"{parts.path}?{parts.query}" if parts.query else parts.path}
    pieces.update(parts.path.split("/"))
    pieces.update(value for _, _, value in (pair.partition("=") for pair in parts.query.split("&")))
    pieces |= {unquote(piece) for piece in pieces}
    origin = f"{parts.scheme}://{parts.netloc}"
    forms = {origin + parts.path, origin + unquote(parts.path)}
    return forms | {piece for piece in pieces if len(piece) >= MIN_SECRET_PATH}
