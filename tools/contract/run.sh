#!/usr/bin/env bash
# The API contract test: Schemathesis (an independent contract tester, PyPI) generates requests
# from the published OpenAPI document and checks every answer of the real `barter serve` against
# it, with all its checks and its stateful phase (which follows the document's links).
#
#   tools/contract/run.sh                          # CI's run: fixed seed, 40 examples per operation
#   tools/contract/run.sh --seed 7 --max-examples 1000   # the longer run before a release
#
# Any other arguments are passed to `schemathesis run` after the defaults. What it does:
# - makes (or remakes, when requirements.txt changed) the venv tools/contract/.venv with the
#   pinned Schemathesis;
# - builds the `barter` binary (debug, sharing the test suite's build) unless BARTER_BIN names one;
# - seeds a SQLite database in a temporary directory with `barter quickstart` (the sample
#   instruments, a year of the daily job: runs, positions, orders and history to read);
# - starts `barter serve` on 127.0.0.1 at a free port with a random token, its data sources
#   pointed at a closed local port, and points Schemathesis at that address only (it follows no
#   redirect), so neither can reach anything else;
# - exits with Schemathesis' status: non-zero on any failure. The server's log is kept next to
#   Schemathesis' report in the temporary directory, whose path is printed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/tools/contract"
venv="$here/.venv"
requirements="$here/requirements.txt"
python="${PYTHON:-python3}"

seed=20261208
examples=40
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seed) seed="$2"; shift 2 ;;
    --max-examples) examples="$2"; shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done

# The copy of requirements.txt inside the venv records what it was made from.
if [[ ! -x "$venv/bin/schemathesis" ]] || ! cmp -s "$requirements" "$venv/requirements.txt"; then
  echo "contract: making $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi

if [[ -z "${BARTER_BIN:-}" ]]; then
  (cd "$root" && cargo build --quiet -p barter-cli --bin barter)
  target="${CARGO_TARGET_DIR:-$root/target}"
  BARTER_BIN="$target/debug/barter"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/barter-contract.XXXXXX")"
echo "contract: working in $work" >&2
cd "$work"
"$BARTER_BIN" quickstart > quickstart.log 2>&1 \
  || { tail -20 quickstart.log >&2; echo "contract: quickstart failed" >&2; exit 1; }

port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
token="$("$python" -c 'import secrets; print(secrets.token_hex(32))')"
base="http://127.0.0.1:$port"

# Jobs answer 202 after 3 s instead of waiting (the tester gives a request 10 s), and the data
# sources point at a closed port on this machine: an instrument the tester registers from
# CoinGecko, Binance or Alpaca fails its sync at once, and nothing leaves the machine.
nowhere="http://127.0.0.1:9"
BARTER_API_TOKEN="$token" \
BARTER_SERVER__JOB_WAIT_SECS=3 \
BARTER_SOURCES__COINGECKO__BASE_URL="$nowhere" \
BARTER_SOURCES__BINANCE__BASE_URL="$nowhere" \
BARTER_SOURCES__ALPACA__BASE_URL="$nowhere" \
  "$BARTER_BIN" serve --bind "127.0.0.1:$port" > serve.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if "$python" -c "import urllib.request; urllib.request.urlopen('$base/healthz', timeout=1)" 2>/dev/null; then
    break
  fi
  kill -0 "$server" 2>/dev/null || { tail -20 serve.log >&2; echo "contract: the server stopped" >&2; exit 1; }
  sleep 0.1
done

echo "contract: schemathesis against $base, seed $seed, $examples examples per operation" >&2
set +e
"$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$base/api/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --seed "$seed" \
  --max-examples "$examples" \
  --max-redirects 0 \
  --workers 1 \
  --no-color \
  --report junit --report-dir "$work/report" \
  "${extra[@]}"
status=$?
set -e
if [[ $status -ne 0 ]]; then
  echo "contract: Schemathesis found failures (exit $status); the server's log is $work/serve.log" >&2
fi
exit $status
