"""The peer for the ingest benchmark: pandas.read_csv followed by DataFrame.describe(),
plus the Pearson correlation matrix (DataFrame.corr) that Kade's profile also computes.
Prints seconds for each step and the peak resident memory."""
import resource
import sys
import time

import pandas as pd

path = sys.argv[1]
t0 = time.perf_counter()
df = pd.read_csv(path)
t1 = time.perf_counter()
desc = df.describe()
t2 = time.perf_counter()
corr = df.corr(numeric_only=True)
t3 = time.perf_counter()
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"read_csv {t1 - t0:.2f} describe {t2 - t1:.2f} corr {t3 - t2:.2f} total {t3 - t0:.2f} peak_mib {peak_kib / 1024:.0f}")
