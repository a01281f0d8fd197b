"""Differential check: linkrisk's worst-case trace risk against scikit-mobility's
``LocationTimeAttack`` on the same synthetic tracks (issue 21).

    python benchmarks/traces_skmob.py --people 200 --points 2
    python benchmarks/traces_skmob.py --people 50 --points 2 --decimals 2
    python benchmarks/traces_skmob.py --people 200 --skmob-python /path/to/venv/bin/python

scikit-mobility 1.3.1 pins pandas < 2 (linkrisk needs 2.x), so it usually lives in a
virtual environment of its own: ``--skmob-python`` names that interpreter, which is run
on a CSV of the tracks (uid, lat, lng, datetime) and writes each user's risk back. Both
sides see the same points: a sighting's camera position (rounded to ``--decimals``) and
its day (``time_precision = "Day"``; linkrisk: a cell per position, 1,440-minute bins).
scikit-mobility 1.3.1's ``"Hour"`` precision keys a time by year, month, day and month
again (``skmob.utils.utils.date_time_precision``): it is a day, not an hour, so with
``--precision Hour`` the two differ by design of that bug.

scikit-mobility's risk of a user is the largest 1 / (users matching) over every
combination of ``knowledge_length`` of the user's points (Pellungrini et al. 2017);
linkrisk's :func:`linkrisk.unicity.worst_case_risk` computes the same. The script prints
how many users' risks agree, the largest difference, and both times with their ratio.
Figures go to the issue's report; they are measured, not asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from linkrisk.synth_traces import make_traces
from linkrisk.trajectory import mix
from linkrisk.unicity import worst_case_risk

SKMOB = r"""
import sys, time
import pandas as pd
import skmob
from skmob.privacy import attacks
points, out, k, precision = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
df = pd.read_csv(points, parse_dates=["datetime"])
tdf = skmob.TrajDataFrame(df, latitude="lat", longitude="lng", datetime="datetime", user_id="uid")
t0 = time.perf_counter()
risk = attacks.LocationTimeAttack(knowledge_length=k, time_precision=precision).assess_risk(tdf)
seconds = time.perf_counter() - t0
risk.to_csv(out, index=False)
print(f"skmob {skmob.__version__}: {seconds:.3f}")
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=200)
    p.add_argument("--points", type=int, default=2, help="knowledge_length: points the attacker knows")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sighting-rate", type=float, default=0.5,
                   help="probability of a sighting in each hour (1.0: 24 points per person)")
    p.add_argument("--decimals", type=int, default=6,
                   help="round positions to this many decimals on both sides (2: about 1 km, so people share points)")
    p.add_argument("--precision", choices=["Hour", "Day"], default="Day",
                   help="scikit-mobility's time_precision; linkrisk bins of 60 or 1,440 minutes. scikit-mobility "
                        "1.3.1's 'Hour' keys a time by year, month, day and month again (utils.date_time_precision), "
                        "so it is in fact 'Day': compare with Day")
    p.add_argument("--skmob-python", default=sys.executable)
    a = p.parse_args()
    _, _, tr = make_traces(a.people, a.seed, sighting_rate=a.sighting_rate, text=False)
    sur = tr["surveillance"]
    # the camera lattice makes positions repeat exactly; both sides see the same rounding
    lat, lon = np.round(sur.lat, a.decimals), np.round(sur.lon, a.decimals)
    frame = pd.DataFrame({"uid": sur.owner, "lat": lat, "lng": lon,
                          "datetime": pd.to_datetime(sur.t, unit="s")})
    print(f"{a.people} people, {len(frame):,} points, knowledge_length {a.points}, {a.decimals} decimals, {a.precision}; "
          f"load {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    t0 = time.perf_counter()
    keys = mix(lat.view(np.int64), lon.view(np.int64), sur.t // (3600 if a.precision == "Hour" else 86400))
    ours = worst_case_risk(sur.owner, keys, sur.n_records, p=a.points)
    t_ours = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        points, out = Path(tmp) / "points.csv", Path(tmp) / "risk.csv"
        frame.to_csv(points, index=False)
        run = subprocess.run([a.skmob_python, "-c", SKMOB, str(points), str(out), str(a.points), a.precision],
                             capture_output=True, text=True)
        if run.returncode:
            print("scikit-mobility did not run:", run.stderr.strip().splitlines()[-1] if run.stderr else run.returncode)
            return
        t_skmob = float(run.stdout.strip().split(":")[-1])
        theirs = pd.read_csv(out).set_index("uid")["risk"].reindex(np.arange(a.people)).to_numpy()
    with_points = sur.points_per_record() > 0
    diff = np.abs(ours - theirs)[with_points]
    print(run.stdout.strip().splitlines()[-1].split(":")[0])
    print(f"users compared {int(with_points.sum())}; risks equal (to 1e-9) for {int((diff < 1e-9).sum())}; "
          f"largest difference {diff.max():.3g}")
    print(f"mean risk: linkrisk {ours[with_points].mean():.4f}, scikit-mobility {theirs[with_points].mean():.4f}")
    print(f"time: linkrisk {t_ours:.3f} s, scikit-mobility {t_skmob:.1f} s; scikit-mobility / linkrisk = "
          f"{t_skmob / max(t_ours, 1e-9):,.0f}")


if __name__ == "__main__":
    main()
