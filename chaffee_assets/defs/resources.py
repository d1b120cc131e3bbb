from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from chaffee_assets.settings import Settings, get_settings
from chaffee_assets.speech.speakers.voice import Profile, find_profile, load_profiles
from chaffee_assets.store import db
from chaffee_assets.store.files import Files


class Platform(dg.ConfigurableResource):
    """Settings, database and files of this deployment, all read from the environment."""

    @property
    def settings(self) -> Settings:
        return get_settings()

    @property
    def files(self) -> Files:
        return Files(self.settings)

    @contextmanager
    def db(self) -> Iterator[db.Database]:
        """The data database; operations run through it survive a Postgres restart (bounded retries)."""
        with db.database(self.settings) as database:
            yield database

    def profiles(self, log) -> tuple[dict[str, Profile], Profile | None]:
        """Voice profiles and the host's; unusable profiles are logged, never silently used."""
        profiles, problems = load_profiles(self.settings.voices_dir)
        for problem in problems:
            log.warning(problem)
        host = find_profile(profiles, self.settings.host_name)
        if host is None:
            log.warning(f"no voice profile for host {self.settings.host_name!r} in {self.settings.voices_dir}: "
                        "every video will be fully diarized")
        return profiles, host
