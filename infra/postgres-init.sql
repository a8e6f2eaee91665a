-- Runs once, when the Postgres container of infra/compose.yaml initialises an empty data volume
-- (the postgres image runs /docker-entrypoint-initdb.d/*.sql as the superuser).
--
-- ragstream: its own role and database; ragstream applies its migrations (schemas/sql/) itself
-- at start.
-- temporal: the role temporalio/auto-setup connects as, and its two databases. auto-setup creates
-- the schemas in them (and tries to create the databases, hence CREATEDB).
--
-- The passwords are those of infra/compose.yaml: a stack on one machine, with Postgres not
-- published outside its network. Change both files together for anything shared.

CREATE ROLE ragstream LOGIN PASSWORD 'ragstream';
CREATE DATABASE ragstream OWNER ragstream;

CREATE ROLE temporal LOGIN CREATEDB PASSWORD 'temporal';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
