"""Settings from ``COMMONPURSE_*`` environment variables (and an optional ``.env`` file)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ledger.rules import DAYS_AHEAD, EARLIEST_DAY, DateWindow

PREFIX = "COMMONPURSE_"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/commonpurse.db"
DEFAULT_CHECKPOINT_INTERVAL = 1.0
DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


class SettingsError(Exception):
    """The configuration cannot work; the message says what to set."""


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _day(text: str | None, default: date, name: str) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a date written YYYY-MM-DD.") from None


def _days(text: str | None, default: int, name: str) -> int:
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or int(text) > 3660:
        raise SettingsError(f"{PREFIX}{name} must be a whole number of days, 0 to 3660.")
    return int(text)


def _seconds(text: str | None, default: float, name: str) -> float:
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise SettingsError(f"{PREFIX}{name} must be a number of seconds, 0 to 3600.")
    return value


def _bytes(text: str | None, default: int, name: str) -> int:
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 1 << 30:
        raise SettingsError(f"{PREFIX}{name} must be a whole number of bytes, 1 to 1073741824.")
    return int(text)


def parse_trusted_proxies(value: str) -> tuple[str, ...]:
    """``COMMONPURSE_TRUSTED_PROXIES``: comma-separated addresses or networks (CIDR)."""
    entries = tuple(part.strip() for part in value.split(",") if part.strip())
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise SettingsError(
                f"COMMONPURSE_TRUSTED_PROXIES: {entry!r} is not an address or a network "
                "(write them comma-separated, such as 127.0.0.1,10.0.0.0/8)."
            ) from None
    return entries


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str = ""
    signing_key_file: Path = Path("var/signing-key.pem")
    base_url: str = "http://127.0.0.1:8000"
    # "development" creates a secret under var/ when none is set; "production" refuses to.
    environment: str = "development"
    secret_key_file: Path = Path("var/secret-key")
    # The days an entry may have occurred on: from this day to so many days after today.
    earliest_date: date = EARLIEST_DAY
    max_days_ahead: int = DAYS_AHEAD
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks); none by
    # default, so a client cannot choose the address its rate limits count against.
    trusted_proxies: tuple[str, ...] = ()
    # This instance as a witness of other logs: its own key (never the log's), next to the
    # signing key unless set, and the name its cosignatures carry (default <host>/witness).
    witness_key_file: Path | None = None
    witness_name: str = ""
    # Seconds between the batches in which the logs' new heads are signed as checkpoints,
    # off the appends' path; 0 signs in each append's own transaction. A server reads
    # DEFAULT_CHECKPOINT_INTERVAL from the environment; settings built in code (tests,
    # tools) sign with each append unless they say otherwise.
    checkpoint_interval: float = 0.0
    # Files attached to entries (receipts): where they are kept, by their SHA-256, and the
    # largest file accepted (larger uploads are refused with 413 before they are read).
    attachments_dir: Path = Path("var/attachments")
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        values = _read_dotenv(Path(".env"))
        values.update(environ if environ is not None else os.environ)
        get = values.get
        return cls(
            database_url=get(PREFIX + "DATABASE_URL") or DEFAULT_DATABASE_URL,
            secret_key=get(PREFIX + "SECRET_KEY", ""),
            signing_key_file=Path(get(PREFIX + "SIGNING_KEY_FILE") or "var/signing-key.pem"),
            base_url=(get(PREFIX + "BASE_URL") or "http://127.0.0.1:8000").rstrip("/"),
            environment=get(PREFIX + "ENVIRONMENT") or "development",
            earliest_date=_day(get(PREFIX + "EARLIEST_DATE"), EARLIEST_DAY, "EARLIEST_DATE"),
            max_days_ahead=_days(get(PREFIX + "MAX_DAYS_AHEAD"), DAYS_AHEAD, "MAX_DAYS_AHEAD"),
            trusted_proxies=parse_trusted_proxies(get(PREFIX + "TRUSTED_PROXIES", "")),
            witness_key_file=Path(v) if (v := get(PREFIX + "WITNESS_KEY_FILE")) else None,
            witness_name=get(PREFIX + "WITNESS_NAME", ""),
            checkpoint_interval=_seconds(
                get(PREFIX + "CHECKPOINT_INTERVAL"),
                DEFAULT_CHECKPOINT_INTERVAL,
                "CHECKPOINT_INTERVAL",
            ),
            attachments_dir=Path(get(PREFIX + "ATTACHMENTS_DIR") or "var/attachments"),
            max_attachment_bytes=_bytes(
                get(PREFIX + "MAX_ATTACHMENT_BYTES"),
                DEFAULT_MAX_ATTACHMENT_BYTES,
                "MAX_ATTACHMENT_BYTES",
            ),
            extra={k[len(PREFIX) :]: v for k, v in values.items() if k.startswith(PREFIX)},
        )

    @property
    def date_window(self) -> DateWindow:
        return DateWindow(self.earliest_date, self.max_days_ahead)

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def host(self) -> str:
        """The instance's host name as it appears in log origins (``host/g/group``)."""
        return self.base_url.split("://", 1)[-1].split("/", 1)[0]

    @property
    def witness_key_path(self) -> Path:
        return self.witness_key_file or self.signing_key_file.with_name("witness-key")

    @property
    def witness_key_name(self) -> str:
        return self.witness_name or f"{self.host}/witness"

    def resolved_secret_key(self) -> str:
        """The secret for sessions and CSRF. Development makes one under var/ and says so;
        production without ``COMMONPURSE_SECRET_KEY`` refuses to start."""
        if self.secret_key:
            if len(self.secret_key) < 32:
                raise SettingsError("COMMONPURSE_SECRET_KEY must be at least 32 characters.")
            return self.secret_key
        if self.environment == "production":
            raise SettingsError(
                "COMMONPURSE_SECRET_KEY is not set; a production instance needs a secret of at "
                "least 32 random characters (for example: python -c "
                "'import secrets; print(secrets.token_urlsafe(48))')."
            )
        path = self.secret_key_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
            path.chmod(0o600)
            print(f"No COMMONPURSE_SECRET_KEY set: created a development secret in {path}.")
        return path.read_text(encoding="utf-8").strip()
