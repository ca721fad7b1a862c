-- funnel_cohorts_monthly
-- Grain: mql_cohort_month x months_since_mql. One row = the leads that became MQL in one calendar month
-- (UTC) and how far they had got in the funnel within months_since_mql months, as of run_date.
-- months_since_mql runs 0 .. min(var cohort_months, whole months from the cohort month to the run_date
-- month).
-- Readings of METRICS.md (tests/fixtures/golden/INTERPRETATIONS.md F1-F3):
--   * cohort_mqls counts distinct leads with MQL_Date__c in the cohort month (as of run_date). Only
--     months with at least one MQL have rows.
--   * a step counts at months_since_mql = k when (step month - cohort month) <= k. A step dated before
--     the MQL month (negative difference) counts from month 0.
--   * cumulative_sqls: cohort leads with SQL_Date__c as of run_date
--   * cumulative_opportunities: DISTINCT opportunities of the cohort's leads, by the month of the
--     opportunity's CreatedDate (created as of run_date). Two cohort leads converted into one
--     opportunity count once.
--   * cumulative_won: distinct opportunities of the cohort's leads won as of run_date, by CloseDate month
-- Built without a lead x month explosion: count steps per (cohort, months after MQL) once, then take
-- running totals over k.
WITH cohort_leads AS (
    SELECT
        lead_id,
        CAST(date_trunc('month', mql_at) AS DATE)   AS mql_cohort_month,
        CAST(date_trunc('month', sql_at) AS DATE)   AS sql_month,
        opportunity_id,
        opportunity_created_month,
        won_close_month
    FROM int_lead_funnel
    WHERE mql_at IS NOT NULL
),

cohort_opportunities AS (
    -- de-duplicate first: one row per cohort and opportunity
    SELECT DISTINCT
        mql_cohort_month,
        opportunity_id,
        opportunity_created_month,
        won_close_month
    FROM cohort_leads
    WHERE opportunity_id IS NOT NULL
),

cohort_sizes AS (
    SELECT
        mql_cohort_month,
        count(*) AS cohort_mqls,
        CAST(date_part('year', {{ run_date }}) * 12 + date_part('month', {{ run_date }})
             - (date_part('year', mql_cohort_month) * 12 + date_part('month', mql_cohort_month)) AS BIGINT)
            AS months_to_run_date
    FROM cohort_leads
    GROUP BY mql_cohort_month
),

step_events AS (
    -- months from the cohort month to the month of each step (year * 12 + month arithmetic)
    SELECT
        mql_cohort_month,
        CAST(date_part('year', sql_month) * 12 + date_part('month', sql_month)
             - (date_part('year', mql_cohort_month) * 12 + date_part('month', mql_cohort_month)) AS BIGINT)
            AS months_after,
        1 AS sqls,
        0 AS opportunities,
        0 AS won
    FROM cohort_leads
    WHERE sql_month IS NOT NULL
    UNION ALL
    SELECT
        mql_cohort_month,
        CAST(date_part('year', opportunity_created_month) * 12 + date_part('month', opportunity_created_month)
             - (date_part('year', mql_cohort_month) * 12 + date_part('month', mql_cohort_month)) AS BIGINT),
        0,
        1,
        0
    FROM cohort_opportunities
    WHERE opportunity_created_month IS NOT NULL
    UNION ALL
    SELECT
        mql_cohort_month,
        CAST(date_part('year', won_close_month) * 12 + date_part('month', won_close_month)
             - (date_part('year', mql_cohort_month) * 12 + date_part('month', mql_cohort_month)) AS BIGINT),
        0,
        0,
        1
    FROM cohort_opportunities
    WHERE won_close_month IS NOT NULL
),

steps_by_month AS (
    -- a step dated before the MQL month counts from month 0
    SELECT
        mql_cohort_month,
        greatest(months_after, 0)   AS months_since_mql,
        sum(sqls)                   AS sqls,
        sum(opportunities)          AS opportunities,
        sum(won)                    AS won
    FROM step_events
    GROUP BY mql_cohort_month, greatest(months_after, 0)
),

month_offsets AS (
    SELECT unnest(generate_series(0, {{ var('cohort_months') }})) AS months_since_mql
),

cohort_months AS (
    SELECT
        cohort_sizes.mql_cohort_month,
        cohort_sizes.cohort_mqls,
        month_offsets.months_since_mql
    FROM cohort_sizes
    JOIN month_offsets
        ON month_offsets.months_since_mql <= cohort_sizes.months_to_run_date
),

cumulative AS (
    -- running totals over the months since MQL
    SELECT
        cohort_months.mql_cohort_month,
        cohort_months.months_since_mql,
        cohort_months.cohort_mqls,
        sum(coalesce(steps_by_month.sqls, 0)) OVER cohort_to_date             AS cumulative_sqls,
        sum(coalesce(steps_by_month.opportunities, 0)) OVER cohort_to_date    AS cumulative_opportunities,
        sum(coalesce(steps_by_month.won, 0)) OVER cohort_to_date              AS cumulative_won
    FROM cohort_months
    LEFT JOIN steps_by_month
        ON steps_by_month.mql_cohort_month = cohort_months.mql_cohort_month
       AND steps_by_month.months_since_mql = cohort_months.months_since_mql
    WINDOW cohort_to_date AS (
        PARTITION BY cohort_months.mql_cohort_month
        ORDER BY cohort_months.months_since_mql
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    )
)

SELECT
    mql_cohort_month,
    months_since_mql,
    cohort_mqls,
    cumulative_sqls,
    cumulative_opportunities,
    cumulative_won,
    CAST(cumulative_sqls AS DOUBLE) / NULLIF(cohort_mqls, 0)            AS sql_rate,
    CAST(cumulative_opportunities AS DOUBLE) / NULLIF(cohort_mqls, 0)   AS opportunity_rate,
    CAST(cumulative_won AS DOUBLE) / NULLIF(cohort_mqls, 0)             AS win_rate
FROM cumulative
ORDER BY mql_cohort_month, months_since_mql
