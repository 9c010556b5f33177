#!/bin/sh
# Run once by the postgres image, when its data volume is first initialised (docker-entrypoint-initdb.d):
# the feedback store's own user and database on the server MLflow's backend store uses. The service
# creates the table itself (Alembic migrations at start-up). The password comes from the environment.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="${FEEDBACK_DB_PASSWORD:?set FEEDBACK_DB_PASSWORD}" <<'SQL'
CREATE USER feedback WITH PASSWORD :'password';
CREATE DATABASE feedback OWNER feedback;
SQL
