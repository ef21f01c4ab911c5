"""Benchmark: streaming validation of a 100k-row spreadsheet (target >= 100k rows/s, one core).

Self-contained: builds the files in memory (no temp files, no database), feeds them to
``SpreadsheetValidator`` in 64 KB chunks as the upload endpoint does, and prints rows/s as the
median of 5 runs, for an SMS file ("phone number,name,reference") and an email file. Peak
memory growth during one validation is measured with tracemalloc (separate runs, because
tracing slows everything down), for a tenth of the file and for all of it. Exits 0 whatever the result.

    .venv/bin/python bench/validate_csv.py [--rows 100000] [--runs 5] [--chunk 65536]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable

from notify.db.models import TemplateType
from notify.recipients.spreadsheet import SpreadsheetValidator, ValidatedFile

TARGET_ROWS_PER_SECOND = 100_000
SMS_TEMPLATE = "Hello ((name)), your reference is ((reference)). Reply STOP to stop these messages."
EMAIL_SUBJECT = "Your reference ((reference))"
EMAIL_TEMPLATE = "Dear ((name)),\n\nYour reference is ((reference)).\n\nThank you."
FIRST_NAMES = ["Jane", "John", "Amira", "Chen", "Siobhan", "José", "Olu", "Priya", "Mark", "Zoë"]
LAST_NAMES = ["Smith", "O'Neil", "García", "Nguyen", "Okafor", "Kowalski", "Patel", "Jones"]
# Area codes valid in phonenumbers' US metadata; exchange 555 and lines 0100-0199 are the
# fiction range, which phonenumbers treats as valid.
AREA_CODES = ["202", "212", "312", "415", "617", "713", "206", "305", "404", "503"]
US_LAYOUTS = [
    "({a}) {e}-{l}",
    "{a}-{e}-{l}",
    "{a}.{e}.{l}",
    "{a}{e}{l}",
    "1{a}{e}{l}",
    "+1 {a} {e} {l}",
    "+1{a}{e}{l}",
    "1-{a}-{e}-{l}",
    "+1 ({a}) {e}-{l}",
]


def _name(rng: random.Random) -> str:
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    return f'"{name}"' if "," in name or '"' in name else name


def sms_file(rows: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    out = ["phone number,name,reference"]
    for n in range(rows):
        layout = rng.choice(US_LAYOUTS)
        phone = layout.format(a=rng.choice(AREA_CODES), e="555", l=f"01{rng.randrange(100):02d}")
        out.append(f"{phone},{_name(rng)},REF-{n:07d}")
    return ("\r\n".join(out) + "\r\n").encode("utf-8")


def email_file(rows: int, seed: int = 2) -> bytes:
    rng = random.Random(seed)
    domains = ["example.com", "agency.gov", "mail.example.org", "Example.CO.UK", "dept.state.gov"]
    out = ["email address,name,reference"]
    for n in range(rows):
        local = f"{rng.choice(FIRST_NAMES).lower().replace('é', 'e').replace('ë', 'e')}.{n}"
        out.append(f"{local}@{rng.choice(domains)},{_name(rng)},REF-{n:07d}")
    return ("\n".join(out) + "\n").encode("utf-8")


def validator_for(kind: TemplateType, rows: int) -> SpreadsheetValidator:
    if kind == TemplateType.sms:
        content, subject = SMS_TEMPLATE, None
    else:
        content, subject = EMAIL_TEMPLATE, EMAIL_SUBJECT
    return SpreadsheetValidator(
        template_type=kind,
        template_content=content,
        template_subject=subject,
        max_rows=max(rows, 100_000),
    )


def validate(data: bytes, kind: TemplateType, rows: int, chunk: int) -> ValidatedFile:
    validator = validator_for(kind, rows)
    view = memoryview(data)
    for start in range(0, len(data), chunk):
        validator.feed(bytes(view[start : start + chunk]))
    return validator.finish()


def measure(label: str, make: Callable[[int], bytes], kind: TemplateType, args: argparse.Namespace) -> None:
    data = make(args.rows)
    rates = []
    cpu_rates = []
    result = None
    for _ in range(args.runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = validate(data, kind, args.rows, args.chunk)
        rates.append(args.rows / (time.perf_counter() - started))
        cpu_rates.append(args.rows / max(time.process_time() - cpu_started, 1e-9))
    assert result is not None and result.row_count == args.rows
    median = statistics.median(rates)
    # Rows per CPU-second too: on a shared 2-core box other work steals wall time.
    cpu_median = statistics.median(cpu_rates)

    # Peak memory allocated during validation (the input bytes already exist), for a file a
    # tenth the size and for the full one: flat means memory does not grow with the file.
    small = make(max(args.rows // 10, 1))
    small_peak = _peak_during(lambda: validate(small, kind, args.rows, args.chunk))
    peak = _peak_during(lambda: validate(data, kind, args.rows, args.chunk))

    verdict = "MEETS" if median >= TARGET_ROWS_PER_SECOND else "BELOW"
    runs = ", ".join(f"{rate:,.0f}" for rate in rates)
    print(
        f"{label:5} {args.rows:,} rows, {len(data) / 1e6:.1f} MB: median {median:,.0f} rows/s "
        f"[{runs}] ({cpu_median:,.0f} rows per CPU-second)  billable_units={result.billable_units:,}  index entries={len(result.row_offsets)}  "
        f"peak memory growth {small_peak / 1024:,.0f} KiB at {args.rows // 10:,} rows, "
        f"{peak / 1024:,.0f} KiB at {args.rows:,}  -> {verdict} "
        f"(target {TARGET_ROWS_PER_SECOND:,} rows/s)"
    )


def _peak_during(work: Callable[[], object]) -> int:
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    work()
    peak = tracemalloc.get_traced_memory()[1] - baseline
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=64 * 1024)
    args = parser.parse_args()
    measure("sms", sms_file, TemplateType.sms, args)
    measure("email", email_file, TemplateType.email, args)


if __name__ == "__main__":
    main()
