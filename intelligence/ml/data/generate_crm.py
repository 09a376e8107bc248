"""Generate crm_leads.csv: a CRM-like labelled table with a known structure (seed fixed).

    python intelligence/ml/data/generate_crm.py [--rows 4000] [--out intelligence/ml/data/crm_leads.csv]

Each lead's chance to convert is a logistic function of:
- linear effects: seniority of the title (VP/Head/Director/Manager/other), lead source
  (referral and partner up, ads and cold calls down), log of company size, e-mails opened,
  a free-mail address (down);
- interaction effects a linear model cannot express: a requested demo helps a senior title far
  more than a junior one; software companies convert with size, retail ones against it; website
  visits help with a saturating, then falling curve;
- noise: 15 % of revenues and 10 % of titles missing, a revenue loosely tied to size.
About a quarter convert. The generator uses only the standard library, so the table is the same everywhere.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from datetime import date, timedelta
from pathlib import Path

INDUSTRIES = ["software", "retail", "manufacturing", "finance", "healthcare", "education"]
SOURCES = {"referral": 0.9, "partner": 0.6, "event": 0.2, "web": 0.0, "ads": -0.5, "cold_call": -0.8}
TITLES = [("VP of Sales", 3), ("VP Engineering", 3), ("Head of Operations", 3), ("Director of IT", 2), ("Marketing Director", 2),
          ("Sales Manager", 1), ("Product Manager", 1), ("Engineer", 0), ("Analyst", 0), ("Assistant", 0)]  # fmt: skip
COMPANY_DOMAINS = ["acme.io", "globex.com", "initech.net", "umbrella.org", "hooli.com", "stark.co", "wayne.biz", "wonka.eu"]
FREE_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com"]
COUNTRIES = ["DE", "FR", "US", "GB", "NL", "ES"]


def row(rng: random.Random, start: date) -> dict:
    industry = rng.choice(INDUSTRIES)
    employees = int(math.exp(rng.gauss(4.0, 1.5))) + 1
    revenue = int(round(employees * rng.lognormvariate(11.5, 0.6), -3)) if rng.random() > 0.15 else ""
    title, seniority = rng.choice(TITLES) if rng.random() > 0.1 else ("", 0)
    source = rng.choices(list(SOURCES), weights=[1, 1, 2, 4, 3, 2])[0]
    free_mail = rng.random() < 0.25
    email = f"lead{rng.randrange(10**6)}@{rng.choice(FREE_DOMAINS if free_mail else COMPANY_DOMAINS)}"
    opened = min(30, int(rng.expovariate(1 / 4)))
    visits = min(60, int(rng.expovariate(1 / 8)))
    demo = rng.random() < 0.3
    size = math.log(employees)
    z = -2.5 + 0.35 * seniority + SOURCES[source] + 0.15 * (size - 4) + 0.06 * opened - 0.6 * free_mail
    z += (0.9 if seniority >= 2 else 0.1) * demo + (0.5 if seniority >= 2 and demo else 0.0)  # demo × seniority
    z += {"software": 0.35, "retail": -0.35}.get(industry, 0.0) * (size - 4)  # industry × size
    z += 1.2 * math.tanh(visits / 6) - 0.03 * max(0, visits - 25)  # saturating, then falling
    converted = rng.random() < 1 / (1 + math.exp(-1.6 * z))  # 1.6: a signal a good model can find
    created = start + timedelta(days=rng.randrange(365))
    return {
        "industry": industry, "employees": employees, "annual_revenue": revenue, "title": title, "source": source,
        "email": email, "country": rng.choice(COUNTRIES), "emails_opened": opened, "website_visits": visits,
        "demo_requested": "yes" if demo else "no", "first_contact": created.isoformat(), "converted": "yes" if converted else "no",
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("crm_leads.csv"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows = [row(rng, date(2025, 1, 1)) for _ in range(args.rows)]
    with args.out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} rows, {sum(r['converted'] == 'yes' for r in rows)} converted → {args.out}")


if __name__ == "__main__":
    main()
