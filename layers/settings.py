"""Settings from ``GISGRID_*`` environment variables, read once at start-up (never at import)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from gisgrid.incidents.intake import IntakeOptions
    from gisgrid.patrol import PatrolRules

DEV_SECRET = "dev-only-secret-change-me-it-is-public"  # refused in production; 32+ bytes for HS256

#: The one PostgreSQL driver gisgrid is installed with (bootstrap, COPY and the ORM all use it).
DRIVER = "postgresql+psycopg2"


def normalise_database_url(value: str, env: str = "GISGRID_DATABASE_URL") -> str:
    """``value`` as the SQLAlchemy URL of the installed driver, or a :class:`ValueError` in one line.

    ``postgresql://…`` and ``postgres://…`` (what ``psql``, ``pg_ctl`` and hosting providers print) become
    ``postgresql+psycopg2://…``: SQLAlchemy would pick the ``psycopg`` (3) driver for them, which gisgrid
    does not install. Another explicit driver, another database or a libpq ``key=value`` string is refused.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    example = "postgresql://USER[:PASSWORD]@HOST:PORT/DBNAME"
    try:
        url = make_url(value.strip())
    except ArgumentError:
        raise ValueError(f"{env} is not a database URL; write it as {example}") from None
    scheme, _, driver = url.drivername.partition("+")
    if scheme not in ("postgresql", "postgres"):
        raise ValueError(f"{env} must point at PostgreSQL (with PostGIS), not {scheme}; write it as {example}")
    if driver not in ("", "psycopg2"):
        raise ValueError(
            f"{env} names the driver {driver!r}, which gisgrid does not use; drop it ({example}) or write "
            f"{DRIVER}://…"
        )
    return url.set(drivername=DRIVER).render_as_string(hide_password=False)


class IncidentSettings(BaseSettings):
    """``GISGRID_INCIDENTS_*`` — the numbers of intake and the scheduled job (local practice)."""

    model_config = SettingsConfigDict(env_prefix="GISGRID_INCIDENTS_", extra="ignore")

    boundary_m: float = Field(5.0, ge=0, le=100, description="flag reports this close to a grid boundary")
    duplicate_m: float = Field(100.0, gt=0, le=5000, description="radius for possible duplicates")
    duplicate_hours: float = Field(72.0, gt=0, le=24 * 90, description="time window for possible duplicates")
    tick_seconds: float = Field(60.0, ge=0, description="API background tick interval; 0 disables it")
    intake_batch: int = Field(32, ge=1, le=500, description="most reports the API writes in one statement")
    intake_streams: int = Field(2, ge=1, le=64, description="intake statements the API runs at once (≤ pool size)")

    def options(self) -> IntakeOptions:
        """The core's intake options from these settings."""
        # imported here: the intake core pulls in geopandas (through gisgrid.crs), and every command
        # of the CLI reads the settings
        from gisgrid.incidents.intake import IntakeOptions

        return IntakeOptions(self.boundary_m, self.duplicate_m, self.duplicate_hours)


class PatrolSettings(BaseSettings):
    """``GISGRID_PATROL_*`` — weekly patrol plans and check-ins (:class:`gisgrid.patrol.PatrolRules`)."""

    model_config = SettingsConfigDict(env_prefix="GISGRID_PATROL_", extra="ignore")

    days: int = Field(3, ge=1, le=7, description="patrol days a week")
    walk_kmh: float = Field(4.5, gt=0, le=10)
    shift_minutes: float = Field(180.0, gt=0, le=24 * 60)
    minutes_per_household: float = Field(0.25, ge=0, le=60)
    balance: float = Field(1.10, ge=1.0, description="longest day ≤ balance × shortest")
    margin_m: float = Field(150.0, ge=0, le=5000, description="streets this far outside a grid may be walked")
    route_work: int = Field(60_000, ge=1, le=100_000_000, description="route search budget, node-iterations")
    seed: int = 0
    match_m: float = Field(30.0, gt=0, le=500, description="a check-in this close to a building visits it")
    max_accuracy_m: float = Field(100.0, gt=0)
    max_speed_kmh: float = Field(30.0, gt=0)
    future_s: float = Field(300.0, ge=0)
    outside_m: float = Field(500.0, ge=0)

    def rules(self) -> PatrolRules:
        """These settings as the core's :class:`gisgrid.patrol.PatrolRules`."""
        from gisgrid.patrol import PatrolRules

        return PatrolRules(**self.model_dump())


class CoverageSettings(BaseSettings):
    """``GISGRID_COVERAGE_*``: walking metres per station kind within which a household is covered
    (defaults and their reasons in ``gisgrid/coverage/thresholds.py``), how far past the threshold a
    distance is still searched for, and the months the rollout pace is fitted on."""

    model_config = SettingsConfigDict(env_prefix="GISGRID_COVERAGE_", extra="ignore")

    red_heart_station_m: float = Field(100.0, gt=0, le=10_000)
    service_post_m: float = Field(300.0, gt=0, le=10_000)
    service_station_m: float = Field(500.0, gt=0, le=10_000)
    police_room_m: float = Field(500.0, gt=0, le=10_000)
    service_centre_m: float = Field(1000.0, gt=0, le=10_000)
    cap_factor: float = Field(2.0, ge=1, le=10)
    pace_months: int = Field(6, ge=2, le=60)

    def thresholds_m(self) -> dict[str, float]:
        return {kind: float(getattr(self, f"{kind}_m")) for kind in
                ("red_heart_station", "service_post", "service_station", "police_room", "service_centre")}


class Settings(BaseSettings):
    """All configuration of the service.

    ``GISGRID_DATABASE_URL`` wins when set; otherwise ``gisgrid db up`` finds or starts a local
    PostgreSQL and records the URL it used under ``.gisgrid/database_url``.
    """

    model_config = SettingsConfigDict(env_prefix="GISGRID_", extra="ignore")

    environment: Literal["local", "test", "production"] = "local"
    database_url: str | None = None
    test_database_url: str | None = None
    state_dir: str = ".gisgrid"
    db_pool_size: int = Field(8, ge=1, le=200)

    secret_key: str = DEV_SECRET
    token_minutes: int = Field(12 * 60, ge=1, le=60 * 24 * 30)

    basemap: Literal["osm", "tianditu", "amap", "none"] = "none"
    tianditu_key: str | None = None
    language: Literal["zh-CN", "en"] = "zh-CN"

    open311_keys: str = Field(
        "", description="Open311 api_key → account: 'key1:username1,key2:username2' (no keys: no Open311 access)"
    )

    patrol: PatrolSettings = Field(default_factory=PatrolSettings)
    coverage: CoverageSettings = Field(default_factory=CoverageSettings)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    # GISGRID_INCIDENTS_*, read from the environment when these settings are
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)

    @field_validator("database_url", "test_database_url", mode="after")
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        return normalise_database_url(value, f"GISGRID_{str(info.field_name).upper()}")

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEV_SECRET:
            raise ValueError(
                "GISGRID_SECRET_KEY must be set to a private value when GISGRID_ENVIRONMENT=production"
            )
        if self.basemap == "tianditu" and not self.tianditu_key:
            raise ValueError("GISGRID_BASEMAP=tianditu needs GISGRID_TIANDITU_KEY (the Tianditu 'tk' key)")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first call."""
    return Settings()
