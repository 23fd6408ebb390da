#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for plugboard's tests and benchmarks.
#
#   eval "$(scripts/start-test-postgres.sh)"     # exports PLUGBOARD_TEST_PG_URL in this shell
#
# Needs the server binaries (Debian/Ubuntu: `apt-get install -y postgresql`). The data
# directory lives under $TMPDIR (/tmp as root) and is thrown away: fsync is off unless PG_FSYNC=on.
# Stdout carries only `export ...` lines (for eval); progress goes to stderr.
# Stop it with the `pg_ctl ... stop` command printed on stderr.
set -euo pipefail

bindir="${PG_BINDIR:-}"
if [[ -z "$bindir" ]]; then
  if command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]]; then
    bindir="$(pg_config --bindir)"
  else
    bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  fi
fi
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
  echo "start-test-postgres: initdb not found; install PostgreSQL (apt-get install -y postgresql) or set PG_BINDIR" >&2
  exit 1
fi

# initdb refuses to run as root: run the server as the `postgres` user then.
run_as=()
if [[ "$(id -u)" == "0" ]]; then
  if ! id postgres >/dev/null 2>&1; then
    echo "start-test-postgres: running as root but there is no 'postgres' user" >&2
    exit 1
  fi
  run_as=(runuser -u postgres --)
fi

# A free TCP port on 127.0.0.1, unless PG_PORT is given.
port="${PG_PORT:-}"
if [[ -z "$port" ]]; then
  port="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
fi

# As root the server runs as `postgres`, which must reach the data directory: use /tmp
# then, not a TMPDIR that may sit under /root. PG_DATA_PARENT overrides both.
if [[ ${#run_as[@]} -gt 0 ]]; then parent="${PG_DATA_PARENT:-/tmp}"; else parent="${PG_DATA_PARENT:-${TMPDIR:-/tmp}}"; fi
datadir="$(mktemp -d "$parent/plugboard-pg.XXXXXX")"
# The server user may not be allowed into the caller's working directory.
cd /
chmod 700 "$datadir"
if [[ ${#run_as[@]} -gt 0 ]]; then chown postgres: "$datadir"; fi

"${run_as[@]}" "$bindir/initdb" -D "$datadir" -U postgres --auth=trust --encoding=UTF8 \
  --locale=C.UTF-8 >"$datadir.initdb.log" 2>&1 || {
  cat "$datadir.initdb.log" >&2
  exit 1
}

fsync="${PG_FSYNC:-off}"
"${run_as[@]}" "$bindir/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 start \
  -o "-h 127.0.0.1 -p $port -k $datadir -c max_connections=200 -c fsync=$fsync -c synchronous_commit=$fsync -c full_page_writes=$fsync" \
  >&2

"${run_as[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres plugboard_test >&2

url="postgres://postgres@127.0.0.1:$port/plugboard_test"
echo "start-test-postgres: server on 127.0.0.1:$port, data in $datadir (fsync=$fsync)" >&2
echo "start-test-postgres: stop it with: ${run_as[*]} $bindir/pg_ctl -D $datadir stop" >&2
echo "export PLUGBOARD_TEST_PG_URL=$url"
echo "export PLUGBOARD_TEST_PG_DATADIR=$datadir"
