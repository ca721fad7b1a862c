#!/usr/bin/env python3
"""Independent reference implementation of eight Beacon output tables (METRICS.md).

Tables: campaign_cohorts_weekly, funnel_cohorts_monthly, funnel_stage_metrics, retention_cohorts,
unit_economics_monthly, capacity_plan, capacity_balance, scaling_readiness.

Plain Python 3.11 standard library only. Reads one folder of contract CSV files (DATASETS.md names,
`usage_events.csv` optional), a run date and the pipeline vars, and writes one CSV per table in the
format of tests/fixtures/golden/expected/ (floats `%.6f`, NULL = empty field, booleans true/false,
rows sorted by grain keys). Every reading of the spec it relies on is written down in
tests/fixtures/golden/INTERPRETATIONS.md; the item ids (G2, C3, U4, ...) are quoted in comments.

Usage:
    python3 tests/reference/metrics_reference.py --input DIR --run-date YYYY-MM-DD --out DIR \
        [--vars vars.json]

vars.json: a flat JSON object overriding any default of DEFAULT_VARS (names as in the pipeline YAML).
"""

from __future__ import annotations

import argparse
import bisect
import csv
import gzip
import json
import math
import os
import statistics
import sys
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

DEFAULT_VARS = {
    "cohort_months": 12,
    "retention_months": 24,
    "stages": ["Qualification", "Needs Analysis", "Solution", "Implementation"],
    "won_stage": "Closed Won",
    "lost_stage": "Closed Lost",
    "stage_metrics_by_channel": False,
    "gross_margin": 0.75,
    "max_lifetime_years": 5,
    "ltv_to_cac_target": 3,
    "payback_months_target": 12,
    "magic_number_target": 1.0,
    "renewal_rate_target": 0.90,
    "renewal_grace_days": 31,
    "lir_event": "pipeline_run",
    "lir_min_events": 4,
    "lir_window_days": 7,
    "lir_target": 0.7,
    "capacity_weeks": 4,
    "trailing_weeks": 4,
    "weeks_per_month": 4.33,
}

SOURCES = [
    "lead_qualification", "accounts", "contacts", "leads", "opportunities", "opportunity_history",
    "campaigns", "campaign_members", "marketing_spend", "capacity_roles", "capacity_activities",
    "usage_events",
]

UNKNOWN_CHANNEL = "Unknown"  # G4


# --------------------------------------------------------------------------------------------
# parsing


def parse_ts(s):
    """Timestamp -> naive datetime in UTC (G1). Bare date = midnight UTC."""
    if s is None:
        return None
    s = s.strip()
    if not s:
        return None
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def parse_date(s):
    if s is None:
        return None
    s = s.strip()
    if not s:
        return None
    if len(s) == 10:
        return date.fromisoformat(s)
    return parse_ts(s).date()


def parse_bool(s):
    if s is None:
        return None
    s = s.strip().lower()
    if s in ("true", "1", "t", "yes"):
        return True
    if s in ("false", "0", "f", "no"):
        return False
    if s == "":
        return None
    raise ValueError(f"not a boolean: {s!r}")


def parse_float(s):
    if s is None:
        return None
    s = s.strip()
    return float(s) if s else None


def parse_str(s):
    if s is None:
        return None
    return s if s != "" else None


def read_csv(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="utf-8-sig") as f:
        return [{k: parse_str(v) for k, v in row.items()} for row in csv.DictReader(f)]


def load(input_dir):
    data = {}
    for name in SOURCES:
        path = os.path.join(input_dir, name + ".csv")
        if not os.path.exists(path) and os.path.exists(path + ".gz"):
            path += ".gz"
        if os.path.exists(path):
            data[name] = read_csv(path)
        elif name == "usage_events":
            data[name] = []
        else:
            raise SystemExit(f"missing required file: {path}")
    conv = {
        "leads": {"CreatedDate": parse_ts, "MQL_Date__c": parse_ts, "SQL_Date__c": parse_ts,
                  "IsConverted": parse_bool, "ConvertedDate": parse_date},
        "opportunities": {"CreatedDate": parse_ts, "CloseDate": parse_date, "Amount": parse_float,
                          "IsClosed": parse_bool, "IsWon": parse_bool, "Seats__c": parse_float,
                          "Contract_Start__c": parse_date, "Contract_End__c": parse_date},
        "opportunity_history": {"CreatedDate": parse_ts, "Amount": parse_float,
                                "CloseDate": parse_date},
        "campaigns": {"StartDate": parse_date, "EndDate": parse_date, "ActualCost": parse_float},
        "campaign_members": {"CreatedDate": parse_ts, "HasResponded": parse_bool,
                             "FirstRespondedDate": parse_date},
        "marketing_spend": {"Month": parse_date, "ProgramSpend": parse_float,
                            "Salaries": parse_float, "Tools": parse_float, "Other": parse_float},
        "capacity_roles": {"Headcount": parse_float, "HoursPerWeek": parse_float,
                           "Utilization": parse_float},
        "capacity_activities": {"Hours": parse_float},
        "usage_events": {"OccurredAt": parse_ts},
    }
    for table, cols in conv.items():
        for row in data[table]:
            for col, fn in cols.items():
                row[col] = fn(row.get(col))
    return data


# --------------------------------------------------------------------------------------------
# calendar helpers


def month_index(d):
    return d.year * 12 + d.month - 1


def month_from_index(i):
    return date(i // 12, i % 12 + 1, 1)


def last_day(i):
    return month_from_index(i + 1) - timedelta(days=1)


def week_start(d):
    return d - timedelta(days=d.weekday())


def div(a, b):
    """Ratio, NULL when either side is NULL or the denominator is 0 (G3)."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def ge(a, b):
    return None if a is None else a >= b


def le(a, b):
    return None if a is None else a <= b


# --------------------------------------------------------------------------------------------
# context: derived facts shared by several tables


class Ctx:
    def __init__(self, data, run_date, v):
        self.d = data
        self.R = run_date
        self.v = v
        self.limit = datetime.combine(run_date + timedelta(days=1), datetime.min.time())  # G2
        self.run_mi = month_index(run_date)
        self.opps = {o["Id"]: o for o in data["opportunities"] if o.get("Id")}
        self.leads = {l["Id"]: l for l in data["leads"] if l.get("Id")}

    # G2
    def asof(self, ts):
        return ts is not None and ts < self.limit

    def is_mql(self, lead):
        return lead is not None and self.asof(lead.get("MQL_Date__c"))

    def is_sql(self, lead):
        return lead is not None and self.asof(lead.get("SQL_Date__c"))

    def lead_opp(self, lead):
        """The lead's opportunity (exists in opportunities), created as of run_date, or None."""
        if lead is None:
            return None
        o = self.opps.get(lead.get("ConvertedOpportunityId"))
        if o is None or not self.asof(o.get("CreatedDate")):
            return None
        return o

    def won(self, o):
        return bool(o.get("IsWon")) and o.get("CloseDate") is not None and o["CloseDate"] <= self.R

    def closed(self, o):
        return bool(o.get("IsClosed")) and o.get("CloseDate") is not None \
            and o["CloseDate"] <= self.R

    def channel(self, o):
        return o.get("LeadSource") or UNKNOWN_CHANNEL

    # R1
    def contracts(self):
        if not hasattr(self, "_contracts"):
            by_acct = defaultdict(list)
            for o in self.d["opportunities"]:
                if self.won(o) and o.get("Contract_Start__c") and o.get("Contract_End__c") \
                        and o.get("AccountId"):
                    by_acct[o["AccountId"]].append(o)
            self._contracts = by_acct
        return self._contracts

    # R2
    def customers(self):
        """account -> acquisition date (CloseDate of its first won New Business opportunity)."""
        if not hasattr(self, "_customers"):
            acq = {}
            for o in self.d["opportunities"]:
                if o.get("Type") == "New Business" and self.won(o) and o.get("AccountId"):
                    a = o["AccountId"]
                    if a not in acq or o["CloseDate"] < acq[a]:
                        acq[a] = o["CloseDate"]
            self._customers = acq
        return self._customers

    # R3
    def eval_day(self, mi):
        return min(last_day(mi), self.R)

    def active_contracts(self, acct, day):
        return [c for c in self.contracts().get(acct, [])
                if c["Contract_Start__c"] <= day <= c["Contract_End__c"]]

    # R6
    def usage_present(self):
        return len(self.d["usage_events"]) > 0

    def usage_from(self):
        """The first day the usage data covers: the day of the earliest usage event (any Event) as of
        run_date; None without usage data."""
        days = [e["OccurredAt"].date() for e in self.d["usage_events"]
                if e.get("OccurredAt") is not None and self.asof(e["OccurredAt"])]
        return min(days) if days else None

    def usage_by_acct(self):
        if not hasattr(self, "_usage"):
            ev = self.v.get("lir_event")
            u = defaultdict(list)
            for e in self.d["usage_events"]:
                if e.get("Event") == ev and e.get("OccurredAt") is not None \
                        and self.asof(e["OccurredAt"]) and e.get("AccountId"):
                    u[e["AccountId"]].append(e["OccurredAt"].date())
            for days in u.values():
                days.sort()
            self._usage = u
        return self._usage

    def lir_windows(self, mi, eval_day):
        T = int(self.v["lir_window_days"])
        first = month_from_index(mi)
        out = []
        i = 0
        while True:
            ws = first + timedelta(days=i * T)
            we = ws + timedelta(days=T - 1)
            if we > eval_day:
                break
            out.append((ws, we))
            i += 1
        return out

    def meets_lir(self, acct, windows):
        days = self.usage_by_acct().get(acct, [])
        n = int(self.v["lir_min_events"])
        for ws, we in windows:
            if bisect.bisect_right(days, we) - bisect.bisect_left(days, ws) < n:
                return False
        return True


# --------------------------------------------------------------------------------------------
# campaign_cohorts_weekly


def campaign_cohorts_weekly(ctx):
    campaigns = {c["Id"]: c for c in ctx.d["campaigns"] if c.get("Id")}
    groups = defaultdict(dict)  # (campaign, week) -> lead -> responded
    for m in ctx.d["campaign_members"]:
        lead_id = m.get("LeadId")
        if not lead_id or not ctx.asof(m.get("CreatedDate")) or not m.get("CampaignId"):
            continue  # C1
        key = (m["CampaignId"], week_start(m["CreatedDate"].date()))  # C2
        g = groups[key]
        g[lead_id] = g.get(lead_id, False) or bool(m.get("HasResponded"))
    totals = defaultdict(int)
    for (cid, _), g in groups.items():
        totals[cid] += len(g)
    rows = []
    for (cid, wk) in sorted(groups):
        g = groups[(cid, wk)]
        camp = campaigns.get(cid)
        leads = [ctx.leads.get(lid) for lid in g]
        members = len(g)
        responders = sum(1 for r in g.values() if r)
        mqls = sum(1 for l in leads if ctx.is_mql(l))  # C3
        sqls = sum(1 for l in leads if ctx.is_sql(l))
        opps = {}
        for l in leads:
            o = ctx.lead_opp(l)
            if o is not None:
                opps[o["Id"]] = o  # C4
        won = [o for o in opps.values() if ctx.won(o)]
        won_acv = sum(o.get("Amount") or 0.0 for o in won)
        cost = None
        if camp is not None and camp.get("ActualCost") is not None:
            cost = camp["ActualCost"] * members / totals[cid]  # C6
        rows.append({
            "campaign_id": cid,
            "campaign_name": camp.get("Name") if camp else None,
            "channel": camp.get("Type") if camp else None,
            "cohort_week": wk,
            "members": members,
            "responders": responders,
            "mqls": mqls,
            "sqls": sqls,
            "opportunities": len(opps),
            "won": len(won),
            "won_acv": float(won_acv),
            "mql_rate": div(mqls, members),
            "mql_to_sql_rate": div(sqls, mqls),
            "sql_to_opportunity_rate": div(len(opps), sqls),
            "opportunity_win_rate": div(len(won), len(opps)),
            "cost": cost,
            "cost_per_mql": div(cost, mqls),
        })
    return rows


# --------------------------------------------------------------------------------------------
# funnel_cohorts_monthly


def funnel_cohorts_monthly(ctx):
    cohorts = defaultdict(list)
    for l in ctx.leads.values():
        if ctx.is_mql(l):
            cohorts[month_index(l["MQL_Date__c"].date())].append(l)  # F1
    rows = []
    for cm in sorted(cohorts):
        leads = cohorts[cm]
        sql_off = [month_index(l["SQL_Date__c"].date()) - cm for l in leads if ctx.is_sql(l)]
        opps = {}
        for l in leads:
            o = ctx.lead_opp(l)
            if o is not None:
                opps[o["Id"]] = o
        opp_off = [month_index(o["CreatedDate"].date()) - cm for o in opps.values()]
        won_off = [month_index(o["CloseDate"]) - cm for o in opps.values() if ctx.won(o)]
        n = len(leads)
        kmax = min(int(ctx.v["cohort_months"]), ctx.run_mi - cm)
        for k in range(0, kmax + 1):
            s = sum(1 for x in sql_off if x <= k)  # F2
            o = sum(1 for x in opp_off if x <= k)
            w = sum(1 for x in won_off if x <= k)
            rows.append({
                "mql_cohort_month": month_from_index(cm),
                "months_since_mql": k,
                "cohort_mqls": n,
                "cumulative_sqls": s,
                "cumulative_opportunities": o,
                "cumulative_won": w,
                "sql_rate": div(s, n),
                "opportunity_rate": div(o, n),
                "win_rate": div(w, n),
            })
    return rows


# --------------------------------------------------------------------------------------------
# funnel_stage_metrics


def funnel_stage_metrics(ctx, warnings):
    order = list(ctx.v["stages"]) + [ctx.v["won_stage"]]
    pos = {s: i for i, s in enumerate(order)}
    lost = ctx.v["lost_stage"]
    firsts = defaultdict(dict)  # opp -> stage -> first entry
    lost_at = {}  # opp -> first entry of the lost stage (ends a stay, S4)
    unknown = set()
    for h in ctx.d["opportunity_history"]:
        if not ctx.asof(h.get("CreatedDate")) or not h.get("OpportunityId"):
            continue  # S1
        st = h.get("StageName")
        oid = h["OpportunityId"]
        if st == lost:
            if oid not in lost_at or h["CreatedDate"] < lost_at[oid]:
                lost_at[oid] = h["CreatedDate"]
            continue
        if st not in pos:
            unknown.add(st)  # S2
            continue
        f = firsts[oid]
        if st not in f or h["CreatedDate"] < f[st]:
            f[st] = h["CreatedDate"]
    for st in sorted(unknown, key=str):
        warnings.append(f"funnel_stage_metrics: stage {st!r} is not in the stage list; left out")

    def opp_channel(oid):
        o = ctx.opps.get(oid)
        return ctx.channel(o) if o else UNKNOWN_CHANNEL

    def stage_rows(opp_ids, channel):
        out = []
        for i, st in enumerate(order):
            entered = advanced = 0
            durs = []
            for oid in opp_ids:
                f = firsts[oid]
                if st not in f:
                    continue
                entered += 1
                if any(pos[s2] > i for s2 in f):  # S3
                    advanced += 1
                t = f[st]
                later = [t2 for s2, t2 in f.items() if s2 != st and t2 > t]  # S4
                if oid in lost_at and lost_at[oid] > t:
                    later.append(lost_at[oid])
                if later:
                    durs.append((min(later) - t).total_seconds() / 86400.0)
            out.append({
                "stage": st, "channel": channel, "entered": entered, "advanced": advanced,
                "conversion_rate": div(advanced, entered),
                "avg_days_in_stage": statistics.fmean(durs) if durs else None,
                "median_days_in_stage": statistics.median(durs) if durs else None,
                "closed": None, "won": None, "win_rate": None,
                "avg_sales_cycle_days": None, "median_sales_cycle_days": None,
            })
        return out

    all_ids = sorted(firsts)
    rows = stage_rows(all_ids, None)
    if ctx.v.get("stage_metrics_by_channel"):
        by_ch = defaultdict(list)
        for oid in all_ids:
            by_ch[opp_channel(oid)].append(oid)
        for ch in sorted(by_ch):
            rows.extend(stage_rows(by_ch[ch], ch))
    closed = [o for o in ctx.d["opportunities"] if ctx.closed(o)]  # S6
    won = [o for o in ctx.d["opportunities"] if ctx.won(o)]
    cycles = [(o["CloseDate"] - o["CreatedDate"].date()).days for o in won
              if o.get("CreatedDate") is not None]
    all_row = {
        "stage": "ALL", "channel": None, "entered": None, "advanced": None,
        "conversion_rate": None, "avg_days_in_stage": None, "median_days_in_stage": None,
        "closed": len(closed), "won": len(won), "win_rate": div(len(won), len(closed)),
        "avg_sales_cycle_days": float(statistics.fmean(cycles)) if cycles else None,
        "median_sales_cycle_days": float(statistics.median(cycles)) if cycles else None,
    }
    # S7: overall stage rows in stage order, then per-channel rows, then ALL
    overall = [r for r in rows if r["channel"] is None]
    per_ch = sorted((r for r in rows if r["channel"] is not None),
                    key=lambda r: (pos[r["stage"]], r["channel"]))
    return overall + per_ch + [all_row]


# --------------------------------------------------------------------------------------------
# retention_cohorts


def lir_count(ctx, accts, mi):
    """Customers of accts meeting the LIR in month mi; None when not measurable (R6)."""
    if not ctx.usage_present():
        return None
    first = ctx.usage_from()
    if first is None or month_from_index(mi) < first:
        return None  # R6: the usage data does not cover this month from its first day
    windows = ctx.lir_windows(mi, ctx.eval_day(mi))
    if not windows:
        return None
    return sum(1 for a in accts if ctx.meets_lir(a, windows))


def retention_cohorts(ctx):
    cohorts = defaultdict(list)
    for a, d in ctx.customers().items():
        cohorts[month_index(d)].append(a)
    rows = []
    for cm in sorted(cohorts):
        accts = sorted(cohorts[cm])
        n = len(accts)
        day0 = ctx.eval_day(cm)
        arr0 = {a: sum(c.get("Amount") or 0.0 for c in ctx.active_contracts(a, day0))
                for a in accts}
        seats0 = sum(c.get("Seats__c") or 0.0 for a in accts for c in ctx.active_contracts(a, day0))
        starting_arr = sum(arr0.values())
        kmax = min(int(ctx.v["retention_months"]), ctx.run_mi - cm)
        for k in range(0, kmax + 1):
            mi = cm + k
            day = ctx.eval_day(mi)  # R3
            eligible = retained = 0
            arr = seats = grr_num = 0.0
            for a in accts:
                act = ctx.active_contracts(a, day)
                arr_k = sum(c.get("Amount") or 0.0 for c in act)
                arr += arr_k
                seats += sum(c.get("Seats__c") or 0.0 for c in act)
                grr_num += min(arr_k, arr0[a])
                if any(c["Contract_End__c"] <= day for c in ctx.contracts().get(a, [])):  # R4
                    eligible += 1
                    if act:
                        retained += 1
            lc = lir_count(ctx, accts, mi)
            rows.append({
                "acquisition_month": month_from_index(cm),
                "months_since_acquisition": k,
                "cohort_customers": n,
                "eligible_customers": eligible,
                "retained_customers": retained,
                "logo_retention": div(retained, eligible),
                "starting_arr": float(starting_arr),
                "arr": float(arr),
                "net_revenue_retention": div(arr, starting_arr),  # R5
                "gross_revenue_retention": div(grr_num, starting_arr),
                "seat_retention": div(seats, seats0),
                "lir_customers": lc,
                "lir_rate": div(lc, n),
            })
    return rows


# --------------------------------------------------------------------------------------------
# unit_economics_monthly


def renewal_outcomes(ctx):
    """[(end month index, renewed)] for contracts that have ended as of run_date (U4)."""
    grace = int(ctx.v["renewal_grace_days"])
    out = []
    for acct, cs in ctx.contracts().items():
        for c in cs:
            end = c["Contract_End__c"]
            renewed = any(d["Id"] != c["Id"]
                          and 0 <= (d["Contract_Start__c"] - end).days <= grace for d in cs)
            if end <= ctx.R:
                out.append((month_index(end), renewed))
    return out


def ue_months(ctx):
    starts = [month_index(s["Month"]) for s in ctx.d["marketing_spend"]
              if s.get("Month") is not None and month_index(s["Month"]) <= ctx.run_mi]
    starts += [month_index(o["CloseDate"]) for o in ctx.d["opportunities"]
               if o.get("Type") == "New Business" and ctx.won(o)]
    if not starts:
        return []
    return list(range(min(starts), ctx.run_mi + 1))  # U1


def unit_economics_monthly(ctx):
    v = ctx.v
    gm = float(v["gross_margin"])
    spend = defaultdict(float)  # (mi, channel) -> spend ; (mi, None) -> ALL; no key = no row (U3)
    spend_channels = defaultdict(set)
    for s in ctx.d["marketing_spend"]:
        if s.get("Month") is None:
            continue
        mi = month_index(s["Month"])
        if mi > ctx.run_mi:
            continue
        amt = sum((s.get(k) or 0.0) for k in ("ProgramSpend", "Salaries", "Tools", "Other"))
        ch = s.get("Channel") or UNKNOWN_CHANNEL
        spend[(mi, ch)] += amt
        spend[(mi, None)] += amt
        spend_channels[mi].add(ch)
    nb = defaultdict(list)  # mi -> won NB opps closed in month
    magic_won = defaultdict(float)
    for o in ctx.d["opportunities"]:
        if not ctx.won(o):
            continue
        mi = month_index(o["CloseDate"])
        if o.get("Type") == "New Business":
            nb[mi].append(o)
        if o.get("Type") in ("New Business", "Expansion"):
            magic_won[mi] += o.get("Amount") or 0.0
    outcomes = renewal_outcomes(ctx)
    rows = []
    for mi in ue_months(ctx):
        window = [r for (em, r) in outcomes if mi - 11 <= em <= mi]
        rr = div(sum(1 for r in window if r), len(window))
        if rr is None:
            life = None  # U5
        elif rr >= 1:
            life = float(v["max_lifetime_years"])
        else:
            life = min(float(v["max_lifetime_years"]), 1.0 / (1.0 - rr))
        den = sum(spend.get((m, None), 0.0) for m in range(mi - 5, mi - 2))
        magic = div(sum(magic_won.get(m, 0.0) for m in range(mi - 2, mi + 1)), den)  # U6
        channels = sorted(spend_channels[mi] | {ctx.channel(o) for o in nb[mi]})
        for ch in [None] + channels:
            opps = nb[mi] if ch is None else [o for o in nb[mi] if ctx.channel(o) == ch]
            n = len({o["AccountId"] for o in opps})
            acv = float(sum(o.get("Amount") or 0.0 for o in opps))
            avg = div(acv, n)
            sp = spend.get((mi, ch))  # U3: NULL when the month and channel have no spend row
            cac = div(sp, n)
            ltv = None if avg is None or life is None else avg * gm * life
            payback = None if avg is None or cac is None else div(cac, avg / 12.0 * gm)
            ltv_cac = div(ltv, cac)
            mg = magic if ch is None else None
            rows.append({
                "month": month_from_index(mi),
                "channel": "ALL" if ch is None else ch,
                "new_customers": n,
                "new_acv": acv,
                "avg_acv": avg,
                "spend": None if sp is None else float(sp),
                "cac": cac,
                "gross_margin": gm,
                "renewal_rate_12m": rr,
                "expected_lifetime_years": life,
                "ltv": ltv,
                "ltv_to_cac": ltv_cac,
                "payback_months": payback,
                "magic_number": mg,
                "ltv_to_cac_ok": ge(ltv_cac, v["ltv_to_cac_target"]),
                "payback_ok": le(payback, v["payback_months_target"]),
                "magic_number_ok": ge(mg, v["magic_number_target"]),
            })
    rows.sort(key=lambda r: (r["month"], r["channel"]))
    return rows


# --------------------------------------------------------------------------------------------
# capacity_plan, capacity_balance


def trailing_units(ctx):
    tw = int(ctx.v["trailing_weeks"])
    start = ctx.R - timedelta(days=7 * tw)
    ts0 = datetime.combine(start, datetime.min.time())
    ts1 = datetime.combine(ctx.R, datetime.min.time())

    def in_win(ts):
        return ts is not None and ts0 <= ts < ts1  # K1

    leads = ctx.d["leads"]
    opps = ctx.d["opportunities"]
    u = {
        "mql": sum(1 for l in leads if in_win(l.get("MQL_Date__c"))) / tw,
        "sql": sum(1 for l in leads if in_win(l.get("SQL_Date__c"))) / tw,
    }
    created = [o for o in opps if in_win(o.get("CreatedDate"))]
    won = [o for o in opps if ctx.won(o) and start <= o["CloseDate"] < ctx.R]
    customers = ctx.customers()
    active = {a for a, cs in ctx.contracts().items() if a in customers
              and any(c["Contract_Start__c"] <= ctx.R <= c["Contract_End__c"] for c in cs)}

    def per_week(unit, product):
        if unit == "per_mql":
            return u["mql"]
        if unit == "per_sql":
            return u["sql"]
        if unit == "per_opportunity":
            return sum(1 for o in created if not product or o.get("Product_Type__c") == product) / tw
        if unit == "per_won_deal":
            return sum(1 for o in won if not product or o.get("Product_Type__c") == product) / tw
        if unit == "per_customer_month":
            return len(active) / float(ctx.v["weeks_per_month"])
        raise ValueError(f"unknown capacity unit {unit!r}")

    return per_week, len(created) / tw


def capacity_tables(ctx):
    weeks = float(ctx.v["capacity_weeks"])
    per_week, demand = trailing_units(ctx)
    avail_pw = defaultdict(float)
    roles = set()
    for r in ctx.d["capacity_roles"]:
        if not r.get("Role"):
            continue
        roles.add(r["Role"])
        avail_pw[r["Role"]] += (r.get("Headcount") or 0.0) * (r.get("HoursPerWeek") or 0.0) \
            * (r.get("Utilization") or 0.0)
    req_pw = defaultdict(float)
    for a in ctx.d["capacity_activities"]:
        if not a.get("Role"):
            continue
        roles.add(a["Role"])
        req_pw[a["Role"]] += per_week(a.get("Unit"), a.get("ProductType")) * (a.get("Hours") or 0.0)
    plan = []
    for role in sorted(roles):
        available = avail_pw[role] * weeks
        required = req_pw[role] * weeks
        util = div(required, available)
        if util is None:
            status = None
        elif util > 1:
            status = "over_capacity"
        elif util >= 0.7:
            status = "balanced"
        else:
            status = "under_used"
        plan.append({"role": role, "available_hours": available, "required_hours": required,
                     "utilization": util, "status": status})
    ae_hours_per_opp = sum(a.get("Hours") or 0.0 for a in ctx.d["capacity_activities"]
                           if a.get("Role") == "AE" and a.get("Unit") == "per_opportunity")
    capacity = div(avail_pw.get("AE", 0.0), ae_hours_per_opp)  # K3
    balance = [{
        "sales_capacity_opportunities_per_week": capacity,
        "demand_opportunities_per_week": float(demand),
        "balance_ratio": div(demand, capacity),
    }]
    return plan, balance


# --------------------------------------------------------------------------------------------
# scaling_readiness


def scaling_readiness(ctx, ue_rows):
    v = ctx.v
    all_rows = {r["month"]: r for r in ue_rows if r["channel"] == "ALL"}
    customers = ctx.customers()
    out = []
    for m in sorted(all_rows):
        r = all_rows[m]
        mi = month_index(m)
        lm = mi if last_day(mi) <= ctx.R else mi - 1  # Z2
        lir = None
        if ctx.usage_present():
            accts = [a for a, d in customers.items() if d <= last_day(lm)]
            lc = lir_count(ctx, accts, lm)
            lir = div(lc, len(accts))
        rr = r["renewal_rate_12m"]
        if lir is not None:  # Z3: the LIR target replaces the retention target when there is a LIR
            retention_ok = lir >= v["lir_target"]
        else:
            retention_ok = rr is not None and rr >= v["renewal_rate_target"]
        ue_ok = r["ltv_to_cac_ok"] is True and r["payback_ok"] is True \
            and r["magic_number_ok"] is True
        if not retention_ok:
            phase = "pursuing_product_market_fit"
        elif not ue_ok:
            phase = "pursuing_go_to_market_fit"
        else:
            phase = "growth_and_moat"
        out.append({
            "month": m, "renewal_rate_12m": rr, "lir_rate": lir,
            "ltv_to_cac": r["ltv_to_cac"], "payback_months": r["payback_months"],
            "magic_number": r["magic_number"], "phase": phase,
        })
    return out


# --------------------------------------------------------------------------------------------
# output

COLUMNS = {
    "campaign_cohorts_weekly": [
        "campaign_id", "campaign_name", "channel", "cohort_week", "members", "responders", "mqls",
        "sqls", "opportunities", "won", "won_acv", "mql_rate", "mql_to_sql_rate",
        "sql_to_opportunity_rate", "opportunity_win_rate", "cost", "cost_per_mql"],
    "funnel_cohorts_monthly": [
        "mql_cohort_month", "months_since_mql", "cohort_mqls", "cumulative_sqls",
        "cumulative_opportunities", "cumulative_won", "sql_rate", "opportunity_rate", "win_rate"],
    "funnel_stage_metrics": [
        "stage", "channel", "entered", "advanced", "conversion_rate", "avg_days_in_stage",
        "median_days_in_stage", "closed", "won", "win_rate", "avg_sales_cycle_days",
        "median_sales_cycle_days"],
    "retention_cohorts": [
        "acquisition_month", "months_since_acquisition", "cohort_customers", "eligible_customers",
        "retained_customers", "logo_retention", "starting_arr", "arr", "net_revenue_retention",
        "gross_revenue_retention", "seat_retention", "lir_customers", "lir_rate"],
    "unit_economics_monthly": [
        "month", "channel", "new_customers", "new_acv", "avg_acv", "spend", "cac", "gross_margin",
        "renewal_rate_12m", "expected_lifetime_years", "ltv", "ltv_to_cac", "payback_months",
        "magic_number", "ltv_to_cac_ok", "payback_ok", "magic_number_ok"],
    "capacity_plan": ["role", "available_hours", "required_hours", "utilization", "status"],
    "capacity_balance": [
        "sales_capacity_opportunities_per_week", "demand_opportunities_per_week", "balance_ratio"],
    "scaling_readiness": [
        "month", "renewal_rate_12m", "lir_rate", "ltv_to_cac", "payback_months", "magic_number",
        "phase"],
}


def fmt(x):
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            raise ValueError("NaN/inf must never be written")
        s = "%.6f" % x
        return "0.000000" if s == "-0.000000" else s
    if isinstance(x, (date, datetime)):
        return x.isoformat()
    return str(x)


def write_table(out_dir, name, rows):
    cols = COLUMNS[name]
    with open(os.path.join(out_dir, name + ".csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([fmt(r[c]) for c in cols])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True)
    ap.add_argument("--run-date", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vars")
    a = ap.parse_args(argv)
    v = dict(DEFAULT_VARS)
    if a.vars:
        with open(a.vars, encoding="utf-8") as f:
            v.update(json.load(f))
    ctx = Ctx(load(a.input), date.fromisoformat(a.run_date), v)
    warnings = []
    os.makedirs(a.out, exist_ok=True)
    ue = unit_economics_monthly(ctx)
    plan, balance = capacity_tables(ctx)
    tables = {
        "campaign_cohorts_weekly": campaign_cohorts_weekly(ctx),
        "funnel_cohorts_monthly": funnel_cohorts_monthly(ctx),
        "funnel_stage_metrics": funnel_stage_metrics(ctx, warnings),
        "retention_cohorts": retention_cohorts(ctx),
        "unit_economics_monthly": ue,
        "capacity_plan": plan,
        "capacity_balance": balance,
        "scaling_readiness": scaling_readiness(ctx, ue),
    }
    for name, rows in tables.items():
        write_table(a.out, name, rows)
    for w in warnings:
        print("warning:", w, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
