"""Generates tests/data/churn.csv: 600 synthetic subscribers with a churn label (fixed seed).
The data is made up for tests and demos; no real person is in it."""
import csv
import math
import random

rng = random.Random(42)
plans = ["free", "basic", "pro", "enterprise"]
with open("churn.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["customer_id", "signup_date", "plan", "tenure_months", "monthly_charges",
                "support_calls", "region", "churned"])
    for i in range(600):
        plan = rng.choices(plans, weights=[4, 3, 2, 1])[0]
        tenure = rng.randint(1, 72)
        charges = round({"free": 0, "basic": 19, "pro": 49, "enterprise": 199}[plan] + rng.gauss(0, 5), 2)
        calls = max(0, int(rng.gauss(2 + (plan == "free"), 1.5)))
        logit = -1.5 - 0.04 * tenure + 0.5 * calls + (0.8 if plan == "free" else 0)
        churned = rng.random() < 1 / (1 + math.exp(-logit))
        month = 1 + i % 12
        region = "" if rng.random() < 0.05 else rng.choice(["north", "south", "east", "west"])
        w.writerow([f"C{i:05d}", f"2024-{month:02d}-{1 + i % 28:02d}", plan, tenure, charges, calls, region,
                    "true" if churned else "false"])
