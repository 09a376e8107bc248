# ruff: noqa: E501  (the data tables read best one entry per line)
"""Generate the repo's labelled retrieval set: a synthetic company knowledge base with known answers.

    python -m intelligence.rag.eval.synthetic intelligence/rag/eval/acme-kb

Deterministic (seeded). BEIR layout: corpus.jsonl (`_id`, `title`, `text`, and `metadata`
with `published_at`, `tags`, `authority`), queries.jsonl (`_id`, `text`, and `metadata.kind`),
qrels/test.tsv. The set is built to make the naive retrievers fail in known ways:

- **identifiers**: product sheets named by codes like `QX-4471-B`; near-duplicate sheets of the
  same family differ only in code and figures. Dense vectors barely tell codes apart.
- **paraphrases**: how-to guides asked about in other words ("get my money back" for a
  refund guide). BM25 has no term to match.
- **superseded policies**: two or three versions of each policy; only the current one is
  relevant (measures stale answers). The versions share almost every word.
- **company facts, competitor briefs, news**: the other intents the router knows.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

SEED = 20251201

FAMILIES = [
    ("torque sensor", "measures rotational force on drive shafts", "Nm"),
    ("pressure valve", "regulates hydraulic line pressure", "bar"),
    ("flow meter", "counts liquid throughput in pipes", "L/min"),
    ("thermal camera", "maps surface temperatures of machinery", "°C"),
    ("load cell", "weighs pallets on conveyor scales", "kg"),
    ("vibration probe", "detects bearing wear in motors", "mm/s"),
    ("humidity logger", "records moisture in storage rooms", "%RH"),
    ("gas detector", "warns of carbon monoxide leaks", "ppm"),
    ("servo drive", "positions robotic arms precisely", "rpm"),
    ("level switch", "stops tanks from overfilling", "mm"),
    ("encoder module", "reports shaft angle to controllers", "ppr"),
    ("power meter", "tracks electricity use per machine", "kW"),
]
COLOURS = ["graphite", "signal red", "arctic white", "ocean blue", "olive", "sand"]
CERTS = ["ATEX zone 2", "IP67", "IP68", "UL 61010", "CE and UKCA", "IECEx"]

# (title, guide text, paraphrased question sharing almost no words with the guide)
HOWTOS = [
    (
        "Requesting a refund",
        "Customers who are unhappy with a purchase can file a refund request within 30 days. Finance reimburses the original card within five working days.",
        "how do I get my money back",
    ),
    (
        "Resetting your password",
        "Open the sign-in screen and choose 'Forgot password'. A reset link arrives by email and expires after one hour.",
        "I cannot remember my login secret, what now",
    ),
    (
        "Booking business travel",
        "Flights and hotels are reserved through the travel portal. Economy class is standard and bookings need approval by your manager.",
        "arranging a work trip with plane tickets",
    ),
    (
        "Submitting expense claims",
        "Scan every receipt and attach it to a claim in the expenses app. Claims are reimbursed with the next salary payment.",
        "getting paid back for things I bought for the job",
    ),
    (
        "Reporting a security incident",
        "If you suspect a phishing email or a compromised laptop, call the security hotline at once and do not delete anything.",
        "I think a hacker got into my computer",
    ),
    (
        "Requesting parental leave",
        "Employees expecting a child notify HR twelve weeks ahead. Leave lasts up to sixteen weeks at full salary.",
        "time off when a baby is coming",
    ),
    (
        "Running a discovery call",
        "Open with the prospect's goals, ask about their current tooling and budget, and agree on a concrete next step before hanging up.",
        "tips for a first conversation with a potential buyer",
    ),
    (
        "Writing a cold outreach email",
        "Keep the message under 120 words, mention one specific trigger event and end with a single clear question.",
        "how to contact a stranger who might purchase from us",
    ),
    (
        "Handling price objections",
        "Restate the value in the customer's own numbers, offer a smaller starting package instead of a discount, and never negotiate against yourself.",
        "what to say when a client thinks we are too expensive",
    ),
    (
        "Onboarding a new hire",
        "Managers prepare a laptop, accounts and a buddy before day one, and schedule check-ins at week one, month one and month three.",
        "welcoming someone who just joined the team",
    ),
    (
        "Preparing a quarterly business review",
        "Summarise adoption metrics, support tickets and ROI achieved, then propose goals for the next ninety days with the account's sponsor.",
        "getting ready for the periodic meeting with a big customer",
    ),
    (
        "Escalating a support ticket",
        "Tickets blocking production move to tier two within one hour; tier two pages the on-call engineer for outages.",
        "a customer's problem is urgent and the first line cannot solve it",
    ),
    (
        "Qualifying inbound leads",
        "Score each lead on company size, role seniority and stated timeline; route scores above seventy to an account executive.",
        "deciding which interested prospects deserve a salesperson",
    ),
    (
        "Shipping spare parts abroad",
        "Parts leaving the EU need a commercial invoice, an HS code and an export declaration filed by logistics.",
        "sending components to another country",
    ),
    (
        "Returning defective hardware",
        "Open an RMA in the portal, pack the unit in its original foam and attach the prepaid label; replacements ship within two days.",
        "the device we received is broken",
    ),
    (
        "Setting up two-factor authentication",
        "Install an authenticator app, scan the QR code on your profile page and store the backup codes offline.",
        "adding an extra login step with my phone",
    ),
    (
        "Requesting a new laptop",
        "Hardware requests go through the IT service desk; standard machines are replaced every four years or when repair costs exceed half the price.",
        "my computer is old and slow, can I get another",
    ),
    (
        "Planning a customer webinar",
        "Pick a narrow topic, invite through two emails a week apart, rehearse the demo and send the recording within a day.",
        "organising an online presentation for clients",
    ),
    (
        "Negotiating a renewal",
        "Start ninety days before the end date, review usage with the champion and bundle multi-year terms with a price lock.",
        "keeping a customer signed for another year",
    ),
    (
        "Archiving old projects",
        "Closed projects move to cold storage after twelve months; the owner exports deliverables and deletes personal data first.",
        "what happens to finished work from long ago",
    ),
    (
        "Reserving a meeting room",
        "Rooms are booked in the calendar by adding the room as a guest; bookings longer than four hours need facilities approval.",
        "I need a place to meet with colleagues",
    ),
    (
        "Working from abroad",
        "Remote work outside your country of employment is allowed for up to thirty days per year after HR checks tax and insurance.",
        "can I do my job from a holiday destination",
    ),
    (
        "Reporting sick leave",
        "Tell your manager before your shift starts and upload a doctor's note if the absence lasts more than three days.",
        "I feel ill and cannot come in today",
    ),
    (
        "Giving peer feedback",
        "Describe the situation, the behaviour you observed and its impact, and deliver it privately within a week.",
        "telling a colleague how their work affected me",
    ),
    (
        "Writing release notes",
        "List user-visible changes first, link each to its ticket, and flag anything that needs customers to act.",
        "telling users what changed in the new version",
    ),
    (
        "Calibrating field sensors",
        "Compare readings against the reference kit every six months and record offsets in the maintenance log.",
        "making sure our measuring devices stay accurate",
    ),
    (
        "Ordering office supplies",
        "Stationery is ordered every Monday through the procurement form; items above 200 EUR need a cost centre.",
        "we are out of pens and paper",
    ),
    (
        "Presenting to executives",
        "Lead with the decision you need, keep to three slides of evidence and leave half the slot for questions.",
        "pitching an idea to the leadership team",
    ),
    (
        "Closing the books at month end",
        "Finance locks the ledger on the third working day after reconciling bank accounts and accruing open invoices.",
        "how accounting finishes each period",
    ),
    (
        "Requesting access to a system",
        "Ask the system owner through the access portal; access expires after a year unless renewed.",
        "I need permission to use an internal tool",
    ),
]

POLICIES = [
    ("Travel policy", "Meal allowance per day abroad", "EUR", [45, 55, 60]),
    ("Remote work policy", "Home office equipment budget", "EUR", [300, 450, 500]),
    ("Expense policy", "Receipts must be submitted within this many days", "days", [60, 45, 30]),
    ("Parental leave policy", "Paid leave for a new parent", "weeks", [10, 14, 16]),
    ("Training policy", "Learning budget per employee per year", "EUR", [800, 1000, 1500]),
    ("Password policy", "Minimum password length", "characters", [8, 12, 14]),
    ("Data retention policy", "Customer logs are kept for", "months", [24, 18, 12]),
    ("Overtime policy", "Maximum overtime per month", "hours", [30, 25, 20]),
    ("Mobile phone policy", "Monthly phone allowance", "EUR", [25, 35, 40]),
    ("Bonus policy", "Target bonus share of salary", "percent", [5, 8, 10]),
    ("Vacation policy", "Annual paid vacation", "days", [24, 25, 28]),
    ("Car policy", "Mileage reimbursement per km", "cents", [19, 25, 30]),
    ("Gift policy", "Largest gift an employee may accept", "EUR", [100, 75, 50]),
    ("Referral policy", "Reward for a hired referral", "EUR", [1000, 1500, 2000]),
    ("Sick leave policy", "Days of absence before a doctor's note is needed", "days", [2, 3, 3]),
    ("Procurement policy", "Purchases needing three quotes start at", "EUR", [5000, 10000, 15000]),
    ("Security policy", "Laptops lock after this many idle minutes", "minutes", [15, 10, 5]),
    ("Relocation policy", "Relocation lump sum", "EUR", [3000, 4000, 5000]),
]
YEARS = [2021, 2023, 2025]

OFFICES = ["Lisbon", "Rotterdam", "Krakow", "Austin", "Singapore", "Nairobi", "Montreal", "Osaka", "Dublin", "Santiago"]
COMPETITORS = ["Globex", "Initech", "Umbrella Systems", "Hooli", "Vandelay Industries", "Soylent Labs", "Stark Metrics", "Wayne Sensors"]
CUSTOMERS = ["Northwind Foods", "Contoso Mining", "Fabrikam Steel", "Tailspin Aero", "Wide World Importers", "Litware Pharma", "Proseware Energy",
             "Adventure Works", "Alpine Ski House", "Coho Winery", "Lucerne Publishing", "Margie's Travel"]  # fmt: skip


def _code(rng: random.Random, used: set[str]) -> str:
    while True:
        code = f"{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}-{rng.randint(1000, 9999)}-{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}"
        if code not in used:
            used.add(code)
            return code


def build(seed: int = SEED) -> tuple[list[dict], list[dict], list[tuple[str, str, int]]]:
    rng = random.Random(seed)
    corpus: list[dict] = []
    queries: list[dict] = []
    qrels: list[tuple[str, str, int]] = []

    def doc(_id: str, title: str, text: str, *, published: str, tags: list[str], authority: float) -> None:
        corpus.append({"_id": _id, "title": title, "text": text, "metadata": {"published_at": published, "tags": tags, "authority": authority}})

    def ask(text: str, kind: str, relevant: str) -> None:
        qid = f"q{len(queries) + 1:04d}"
        queries.append({"_id": qid, "text": text, "metadata": {"kind": kind}})
        qrels.append((qid, relevant, 1))

    # Product sheets: near-duplicates within a family, told apart by code and figures.
    used: set[str] = set()
    for family, purpose, unit in FAMILIES:
        for variant in range(6):
            code = _code(rng, used)
            rng_max = rng.choice([50, 100, 250, 400, 600, 1000, 2500])
            weight = rng.randint(180, 2400)
            price = rng.randint(90, 4200)
            cert, colour = rng.choice(CERTS), rng.choice(COLOURS)
            _id = f"prod-{code.lower()}"
            doc(
                _id,
                f"Product sheet {code}",
                f"The {code} is a {family} that {purpose}. Measuring range 0 to {rng_max} {unit}; housing in {colour}; weight {weight} g. "
                f"Certified {cert}. List price {price} EUR per unit, with volume pricing from 50 units. "
                f"Spare parts for the {code} are stocked for ten years after the last sale.",
                published="2024-03-01",
                tags=["product", family.replace(" ", "-")],
                authority=0.8,
            )
            style = variant % 3
            if style == 0:
                ask(f"{code} measuring range", "identifier", _id)
            elif style == 1:
                ask(f"list price of {code}", "identifier", _id)
            else:
                ask(f"what certification does {code} have", "identifier", _id)

    # How-to guides, asked about in other words; a related but different guide is a distractor.
    for i, (title, text, question) in enumerate(HOWTOS):
        _id = f"howto-{i:02d}"
        doc(
            _id,
            f"How to: {title}",
            f"{text} Questions about this process go to the owning team's channel.",
            published="2024-06-01",
            tags=["how-to", "best-practice"],
            authority=0.7,
        )
        ask(question, "paraphrase", _id)

    # Policies in versions; only the newest is in force. Queries ask for the current rule.
    for i, (policy, rule, unit, values) in enumerate(POLICIES):
        versions = 3 if i % 2 == 0 else 2
        for v in range(versions):
            year = YEARS[v + (3 - versions)]
            value = values[v + (3 - versions)]
            _id = f"policy-{i:02d}-{year}"
            current = v == versions - 1
            # Versions read alike on purpose: only the date (and authority) says which one is in force.
            doc(
                _id,
                f"{policy} ({year} edition)",
                f"{policy}, edition of {year}. {rule}: {value} {unit}. Managers apply the {policy.lower()} to every employee in every office.",
                published=f"{year}-01-15",
                tags=["policy"],
                authority=0.9 if current else 0.6,
            )
            if current:
                ask(f"current {policy.lower()}: {rule.lower()}", "stale", _id)

    # Company facts: one document per office, built from the same template.
    for i, office in enumerate(OFFICES):
        opened = rng.randint(2005, 2022)
        staff = rng.randint(20, 400)
        lead = rng.choice(["Maria Santos", "Jan de Vries", "Aiko Tanaka", "Sam Okoye", "Liam Murphy", "Ana Rojas", "Piotr Nowak", "Chloe Martin"])
        focus = rng.choice(["field service", "hardware design", "customer support", "sales for the region", "firmware", "logistics"])
        _id = f"office-{office.lower()}"
        doc(_id, f"Acme office in {office}", f"Acme opened its {office} office in {opened}. It employs {staff} people and is led by {lead}. The team focuses on {focus}.",
            published="2024-01-10", tags=["company"], authority=0.9)  # fmt: skip
        ask(f"when did Acme open the {office} office", "company", _id)
        if i % 2 == 0:
            ask(f"who leads Acme in {office}", "company", _id)

    # Competitor briefs.
    for i, rival in enumerate(COMPETITORS):
        price = rng.randint(20, 90)
        weakness = rng.choice(["slow support", "no on-premise option", "weak reporting", "short warranty", "few integrations", "high churn"])
        _id = f"rival-{i:02d}"
        doc(_id, f"Competitor brief: {rival}", f"{rival} sells sensor monitoring at {price} EUR per device per month. Their main weakness is {weakness}. Win against {rival} by leading with our ten-year spare parts promise.",
            published="2025-02-01", tags=["competitor"], authority=0.7)  # fmt: skip
        ask(f"how does {rival} price its product", "competitor", _id)

    # News items, one per customer win, plus an older note on the same customer.
    for i, customer in enumerate(CUSTOMERS):
        month = 1 + i % 12
        units = rng.randint(50, 3000)
        _id = f"news-{i:02d}"
        doc(_id, f"News: {customer} signs with Acme", f"{customer} ordered {units} sensors for its plants in a contract signed in month {month} of 2025. Deliveries start next quarter.",
            published=f"2025-{month:02d}-05", tags=["news"], authority=0.6)  # fmt: skip
        doc(f"news-{i:02d}-old", f"Visit report: {customer}", f"Our team visited {customer} in 2022 to discuss a pilot. No contract was signed then.",
            published="2022-05-01", tags=["news"], authority=0.4)  # fmt: skip
        ask(f"latest news about the {customer} contract", "news", _id)

    # Filler: meeting notes that mention products, offices and policies in passing.
    for i in range(120):
        office, family = rng.choice(OFFICES), rng.choice(FAMILIES)[0]
        topic = rng.choice(["budget review", "hiring plan", "customer escalation", "roadmap sync", "safety walk", "supplier audit"])
        doc(f"note-{i:03d}", f"Meeting notes: {topic} in {office}", f"The {office} team held a {topic}. They discussed demand for the {family}, travel plans and open hiring. Action items were assigned to the team leads.",
            published=f"2024-{1 + i % 12:02d}-20", tags=["notes"], authority=0.3)  # fmt: skip
    return corpus, queries, qrels


def write(directory: Path, seed: int = SEED) -> None:
    corpus, queries, qrels = build(seed)
    (directory / "qrels").mkdir(parents=True, exist_ok=True)
    with (directory / "corpus.jsonl").open("w") as out:
        out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in corpus)
    with (directory / "queries.jsonl").open("w") as out:
        out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in queries)
    with (directory / "qrels" / "test.tsv").open("w") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        out.writelines(f"{q}\t{d}\t{s}\n" for q, d, s in qrels)
    print(f"{directory}: {len(corpus)} documents, {len(queries)} queries")


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "acme-kb"))
