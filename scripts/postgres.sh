#!/usr/bin/env bash
# Install (Debian package) and start a local PostgreSQL server for the storage tests,
# with a role and database `transfertune`; prints the SQLAlchemy URL on stdout.
# Listens on 127.0.0.1 only.
set -euo pipefail
SUDO=""; AS_PG=(runuser -u postgres --)
[ "$(id -u)" -eq 0 ] || { SUDO="sudo"; AS_PG=(sudo -u postgres); }
if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  $SUDO pg_createcluster "$version" main >&2
fi
# On a loaded machine pg_ctl may give up waiting while the server still comes up: wait for it here.
pg_lsclusters -h | grep "^$version main" | grep -q online || $SUDO pg_ctlcluster "$version" main start >&2 || true
ready=""
for _ in $(seq 180); do
  "${AS_PG[@]}" psql -qtAc "select 1" >/dev/null 2>&1 && { ready=1; break; }
  sleep 1
done
[ -n "$ready" ] || { echo "postgres.sh: PostgreSQL $version did not accept connections within 3 minutes" >&2; exit 1; }
"${AS_PG[@]}" psql -qtAc "select 1 from pg_roles where rolname='transfertune'" | grep -q 1 \
  || "${AS_PG[@]}" psql -qc "create role transfertune login password 'transfertune' createdb" >&2
"${AS_PG[@]}" psql -qtAc "select 1 from pg_database where datname='transfertune'" | grep -q 1 \
  || "${AS_PG[@]}" psql -qc "create database transfertune owner transfertune" >&2
port=$("${AS_PG[@]}" psql -qtAc "show port")
echo "postgresql+psycopg://transfertune:transfertune@127.0.0.1:${port}/transfertune"
