"""Polars peer of Beacon's cohort and funnel tables, translated by hand to the lazy API from
sql/staging (stg_leads, stg_opportunities, stg_campaigns, stg_campaign_members, only the columns
the marts use), sql/intermediate (int_opportunities, int_lead_funnel) and
sql/marts/{campaign_cohorts_weekly,funnel_cohorts_monthly}.sql, with the same readings (see the
comments of those files). Reads the same raw-zone Parquet Beacon reads.

    python polars_cohorts.py --pipeline pipelines/beacon.yaml --raw RAW_DIR --date YYYY-MM-DD --out DIR

Keep in step with the SQL: tests/bench/run.py compares this output with Beacon's published tables
(row counts and every value) and reports any difference.
Prints one JSON line: {"engine", "step", "seconds", "tables": {model: {"rows", "seconds"}}}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

import polars as pl

from common import Timer, emit, load_pipeline

MARTS = ["campaign_cohorts_weekly", "funnel_cohorts_monthly"]


def nullif_blank(col: str) -> pl.Expr:
    s = pl.col(col).str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


def month(expr: pl.Expr) -> pl.Expr:
    return expr.dt.truncate("1mo").cast(pl.Date)


def month_index(expr: pl.Expr) -> pl.Expr:
    """year * 12 + month, as the SQL's date_part arithmetic."""
    return expr.dt.year().cast(pl.Int64) * 12 + expr.dt.month().cast(pl.Int64)


def ratio(num: str, den: str) -> pl.Expr:
    """CAST(num AS DOUBLE) / NULLIF(den, 0)"""
    return pl.when(pl.col(den) == 0).then(None).otherwise(
        pl.col(num).cast(pl.Float64) / pl.col(den)
    )


def build(raw: Path, run_date: dt.date, cohort_months: int) -> dict[str, pl.LazyFrame]:
    def scan(name: str) -> pl.LazyFrame:
        return pl.scan_parquet(raw / name / f"run_date={run_date}" / "*.parquet", hive_partitioning=False)

    # "before run_date + 1 day" as a naive UTC timestamp
    cutoff = dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time())

    stg_leads = scan("leads").select(
        pl.col("Id").str.strip_chars().alias("lead_id"),
        pl.col("CreatedDate").alias("created_at"),
        pl.coalesce(nullif_blank("LeadSource"), pl.lit("Unknown")).alias("channel"),
        nullif_blank("ConvertedOpportunityId").alias("converted_opportunity_id"),
        pl.col("MQL_Date__c").alias("mql_at"),
        pl.col("SQL_Date__c").alias("sql_at"),
    )
    stg_opportunities = scan("opportunities").select(
        pl.col("Id").str.strip_chars().alias("opportunity_id"),
        pl.col("CreatedDate").alias("created_at"),
        pl.col("CloseDate").alias("close_date"),
        pl.col("Amount").alias("amount"),
        pl.col("IsWon").fill_null(False).alias("is_won"),
    )
    stg_campaigns = scan("campaigns").select(
        pl.col("Id").str.strip_chars().alias("campaign_id"),
        pl.col("Name").str.strip_chars().alias("campaign_name"),
        nullif_blank("Type").alias("channel"),
        pl.col("ActualCost").alias("actual_cost"),
    )
    stg_campaign_members = scan("campaign_members").select(
        pl.col("CampaignId").str.strip_chars().alias("campaign_id"),
        nullif_blank("LeadId").alias("lead_id"),
        pl.col("CreatedDate").alias("created_at"),
        pl.col("HasResponded").fill_null(False).alias("has_responded"),
    )

    # int_opportunities (the columns int_lead_funnel uses), created as of run_date only
    opportunities = stg_opportunities.select(
        "opportunity_id",
        "amount",
        month(pl.col("created_at")).alias("created_month"),
        month(pl.col("close_date")).alias("close_month"),
        (pl.col("is_won") & (pl.col("close_date") <= run_date)).fill_null(False).alias("is_won_as_of"),
        (pl.col("created_at") < cutoff).fill_null(False).alias("is_created_as_of"),
    ).filter(pl.col("is_created_as_of"))

    # int_lead_funnel
    lead_funnel = (
        stg_leads.group_by("lead_id")
        .agg(
            pl.col("created_at").min(),
            pl.col("channel").max(),
            pl.col("mql_at").min(),
            pl.col("sql_at").min(),
            pl.col("converted_opportunity_id").max(),
        )
        .join(opportunities, left_on="converted_opportunity_id", right_on="opportunity_id",
              how="left", coalesce=False)
        .select(
            "lead_id",
            "created_at",
            "channel",
            pl.when(pl.col("mql_at") < cutoff).then(pl.col("mql_at")).alias("mql_at"),
            pl.when(pl.col("sql_at") < cutoff).then(pl.col("sql_at")).alias("sql_at"),
            "opportunity_id",
            pl.col("amount").alias("opportunity_amount"),
            pl.col("created_month").alias("opportunity_created_month"),
            pl.col("is_won_as_of").fill_null(False).alias("is_won"),
            pl.when(pl.col("is_won_as_of")).then(pl.col("close_month")).alias("won_close_month"),
        )
    )

    # campaign_cohorts_weekly
    member_funnel = (
        stg_campaign_members.filter(
            pl.col("lead_id").is_not_null()
            & pl.col("campaign_id").is_not_null()
            & (pl.col("created_at") < cutoff)
        )
        .with_columns(pl.col("created_at").dt.truncate("1w").cast(pl.Date).alias("cohort_week"))
        .group_by("campaign_id", "cohort_week", "lead_id")
        .agg(pl.col("has_responded").any())
        .join(lead_funnel, on="lead_id", how="left")
    )
    member_counts = member_funnel.group_by("campaign_id", "cohort_week").agg(
        pl.len().cast(pl.Int64).alias("members"),
        pl.col("has_responded").cast(pl.Int64).sum().alias("responders"),
        pl.col("mql_at").is_not_null().cast(pl.Int64).sum().alias("mqls"),
        pl.col("sql_at").is_not_null().cast(pl.Int64).sum().alias("sqls"),
    )
    opportunity_counts = (
        member_funnel.filter(pl.col("opportunity_id").is_not_null())
        .select("campaign_id", "cohort_week", "opportunity_id", "is_won", "opportunity_amount")
        .unique()
        .group_by("campaign_id", "cohort_week")
        .agg(
            pl.len().cast(pl.Int64).alias("opportunities"),
            pl.col("is_won").cast(pl.Int64).sum().alias("won"),
            pl.when(pl.col("is_won")).then(pl.col("opportunity_amount")).otherwise(0.0)
            .sum().alias("won_acv"),
        )
    )
    members_total = member_counts.group_by("campaign_id").agg(
        pl.col("members").sum().alias("all_week_members")
    )
    campaign_cohorts_weekly = (
        member_counts.join(members_total, on="campaign_id", how="inner")
        .join(stg_campaigns, on="campaign_id", how="left")
        .join(opportunity_counts, on=["campaign_id", "cohort_week"], how="left")
        .with_columns(
            pl.col("opportunities").fill_null(0),
            pl.col("won").fill_null(0),
            pl.col("won_acv").fill_null(0.0),
            pl.when(pl.col("all_week_members") == 0).then(None).otherwise(
                pl.col("actual_cost") * pl.col("members") / pl.col("all_week_members")
            ).alias("cost"),
        )
        .select(
            "campaign_id", "campaign_name", "channel", "cohort_week", "members", "responders",
            "mqls", "sqls", "opportunities", "won", "won_acv",
            ratio("mqls", "members").alias("mql_rate"),
            ratio("sqls", "mqls").alias("mql_to_sql_rate"),
            ratio("opportunities", "sqls").alias("sql_to_opportunity_rate"),
            ratio("won", "opportunities").alias("opportunity_win_rate"),
            "cost",
            pl.when(pl.col("mqls") == 0).then(None).otherwise(pl.col("cost") / pl.col("mqls"))
            .alias("cost_per_mql"),
        )
        .sort("campaign_id", "cohort_week")
    )

    # funnel_cohorts_monthly
    cohort_leads = lead_funnel.filter(pl.col("mql_at").is_not_null()).select(
        "lead_id",
        month(pl.col("mql_at")).alias("mql_cohort_month"),
        month(pl.col("sql_at")).alias("sql_month"),
        "opportunity_id",
        "opportunity_created_month",
        "won_close_month",
    )
    cohort_opportunities = (
        cohort_leads.filter(pl.col("opportunity_id").is_not_null())
        .select("mql_cohort_month", "opportunity_id", "opportunity_created_month", "won_close_month")
        .unique()
    )
    run_month_index = run_date.year * 12 + run_date.month
    cohort_sizes = cohort_leads.group_by("mql_cohort_month").agg(
        pl.len().cast(pl.Int64).alias("cohort_mqls"),
    ).with_columns(
        (pl.lit(run_month_index, pl.Int64) - month_index(pl.col("mql_cohort_month")))
        .alias("months_to_run_date")
    )

    def steps(frame: pl.LazyFrame, month_col: str, kind: str) -> pl.LazyFrame:
        return frame.filter(pl.col(month_col).is_not_null()).select(
            "mql_cohort_month",
            (month_index(pl.col(month_col)) - month_index(pl.col("mql_cohort_month")))
            .alias("months_after"),
            *[pl.lit(1 if k == kind else 0, pl.Int64).alias(k) for k in ("sqls", "opportunities", "won")],
        )

    steps_by_month = (
        pl.concat([
            steps(cohort_leads, "sql_month", "sqls"),
            steps(cohort_opportunities, "opportunity_created_month", "opportunities"),
            steps(cohort_opportunities, "won_close_month", "won"),
        ])
        .with_columns(pl.max_horizontal(pl.col("months_after"), pl.lit(0, pl.Int64)).alias("months_since_mql"))
        .group_by("mql_cohort_month", "months_since_mql")
        .agg(pl.col("sqls").sum(), pl.col("opportunities").sum(), pl.col("won").sum())
    )
    month_offsets = pl.LazyFrame({"months_since_mql": list(range(cohort_months + 1))},
                                 schema={"months_since_mql": pl.Int64})
    funnel_cohorts_monthly = (
        cohort_sizes.join(month_offsets, how="cross")
        .filter(pl.col("months_since_mql") <= pl.col("months_to_run_date"))
        .join(steps_by_month, on=["mql_cohort_month", "months_since_mql"], how="left")
        .sort("mql_cohort_month", "months_since_mql")
        .with_columns(
            pl.col(k).fill_null(0).cum_sum().over("mql_cohort_month").alias(f"cumulative_{k}")
            for k in ("sqls", "opportunities", "won")
        )
        .select(
            "mql_cohort_month", "months_since_mql", "cohort_mqls", "cumulative_sqls",
            "cumulative_opportunities", "cumulative_won",
            ratio("cumulative_sqls", "cohort_mqls").alias("sql_rate"),
            ratio("cumulative_opportunities", "cohort_mqls").alias("opportunity_rate"),
            ratio("cumulative_won", "cohort_mqls").alias("win_rate"),
        )
        .sort("mql_cohort_month", "months_since_mql")
    )
    return {
        "campaign_cohorts_weekly": campaign_cohorts_weekly,
        "funnel_cohorts_monthly": funnel_cohorts_monthly,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    total = Timer()
    pipeline = load_pipeline(args.pipeline)
    run_date = dt.date.fromisoformat(args.date)
    marts = build(Path(args.raw), run_date, int(pipeline["vars"]["cohort_months"]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # Both marts in one go: Polars shares their common sub-plans (int_lead_funnel).
    t = Timer()
    frames = pl.collect_all([marts[m] for m in MARTS])
    tables = {}
    for name, frame in zip(MARTS, frames):
        frame.write_parquet(out / f"{name}.parquet", compression="zstd")
        tables[name] = {"rows": frame.height}
    for v in tables.values():
        v["seconds"] = t.seconds()  # computed together: one shared figure
    emit({"engine": "polars", "step": "cohorts", "seconds": total.seconds(), "tables": tables,
          "version": pl.__version__, "pid": os.getpid()})


if __name__ == "__main__":
    main()
