#!/usr/bin/env bash
# Time Barter against backtesting.py and vectorbt (bench/anchors/anchors.py has the details).
#
#   bench/anchors/run.sh                     # everything: W1, W2, W3, W6 x Barter, vectorbt, backtesting.py (n/a on W6)
#   bench/anchors/run.sh --workloads w6 --engines barter,vectorbt   # the 500-instrument portfolio alone
#   bench/anchors/run.sh --quick             # one to three runs each: a smoke test
#   bench/anchors/run.sh --engines vectorbt,backtesting --workloads w1,w3
#
# Makes (or remakes, when requirements.txt changed) the venv bench/.venv-anchors with the pinned
# requirements, writes the benchmark data under bench/.data/ if missing (W2's million bars and
# W6's 500 x 2,500 take ~5 s each), then runs anchors.py with the arguments given. Takes ~15-20 minutes in full here, most of
# it backtesting.py (W2 ~12 s and W3 ~1 min a run) and vectorbt's numba compilation. PYTHON picks
# the interpreter (default python3.11).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/bench/.venv-anchors"
requirements="$root/bench/anchors/requirements.txt"
python="${PYTHON:-python3.11}"

"$python" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
  || { echo "run.sh: $python is not Python >= 3.11 (set PYTHON)" >&2; exit 1; }

# The copy of requirements.txt inside the venv records what it was made from.
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$requirements" "$venv/requirements.txt"; then
  echo "run.sh: making $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  "$venv/bin/python" -m pip check
  cp "$requirements" "$venv/requirements.txt"
fi

"$venv/bin/python" "$root/bench/anchors/data.py" >&2
exec "$venv/bin/python" "$root/bench/anchors/anchors.py" "$@"
