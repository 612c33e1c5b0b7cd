"""The loopback topology's PostgreSQL helpers: DATABASE_URL read, the pooler's
URL, the database behind the pooler created and dropped."""

from urllib.parse import quote, unquote, urlsplit

from deploy.processes import TopologyError


def parse_database_url(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise TopologyError("DATABASE_URL must be a PostgreSQL URL (postgres://...)")
    name = parts.path.lstrip("/")
    if not name:
        raise TopologyError("DATABASE_URL must name a database (postgres://.../name)")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5432),
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "name": name,
        "query": parts.query,
    }


def pooled_url(direct: dict[str, str], port: int) -> str:
    auth = quote(direct["user"], safe="")
    if direct["password"]:
        auth += ":" + quote(direct["password"], safe="")
    url = f"postgres://{auth}@127.0.0.1:{port}/{direct['name']}"
    return url + (f"?{direct['query']}" if direct["query"] else "")


def database_create_if_missing(url: str) -> bool:
    """Create the database behind the pooler; True if it did not exist."""
    import psycopg2  # the project's driver: run this script with its venv

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    server = parts._replace(path="/postgres").geturl()
    connection = psycopg2.connect(server, connect_timeout=5)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone():
                return False
            cursor.execute(f'CREATE DATABASE "{name}"')
            return True
    finally:
        connection.close()


def database_drop(url: str) -> None:
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    connection = psycopg2.connect(parts._replace(path="/postgres").geturl())
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        connection.close()
