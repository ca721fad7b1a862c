-- funnel_stage_metrics
-- Grain: one row per stage of the order var stages, then var won_stage (all of them, even when nobody
-- entered), then one stage = 'ALL' row. channel is NULL on these rows. With var stage_metrics_by_channel
-- = true, the stage rows again per channel (the opportunity's LeadSource), with no per-channel ALL row.
-- Readings of METRICS.md (tests/fixtures/golden/INTERPRETATIONS.md S1-S7, stage entries as of run_date
-- from int_opportunity_stage_entries):
--   * entered: opportunities with a first entry of the stage
--   * advanced: of those, opportunities that entered any stage later in the order, at any time
--     (Closed Won never advances: conversion_rate 0 when entered > 0)
--   * days in stage: from the stage's first entry to the first entry of the next stage entered strictly
--     later in time, fractional days, only opportunities that have one. The next stage is any listed
--     stage or the lost stage (var lost_stage): a loss ends the time in the stage before it, so the
--     days a lost deal spent in Solution count for Solution. Closed Won has durations only for a deal
--     that entered a stage after it (a reopened one); stages outside the list are no end.
--   * ALL row, from opportunities (all Types): closed / won as of run_date, sales cycle of the won ones =
--     CloseDate - UTC date of CreatedDate in whole days
WITH stage_list AS (
    SELECT unnest(array_append({{ var('stages') }}, {{ var('won_stage') }})) AS stage
),

stage_spine AS (
    SELECT
        stage,
        CAST(array_position(array_append({{ var('stages') }}, {{ var('won_stage') }}), stage) AS BIGINT)
            AS stage_order
    FROM stage_list
),

stage_facts AS (
    SELECT
        entries.stage_name                                  AS stage,
        coalesce(opportunity.channel, 'Unknown')          AS channel,
        entries.opportunity_id,
        entries.max_stage_order > entries.stage_order       AS has_advanced,
        (date_part('epoch', entries.next_entered_at) - date_part('epoch', entries.first_entered_at))
            / 86400.0                                       AS days_in_stage
    FROM int_opportunity_stage_entries AS entries
    LEFT JOIN int_opportunities AS opportunity
        ON opportunity.opportunity_id = entries.opportunity_id
),

overall_stage_metrics AS (
    SELECT
        stage,
        count(*)                                        AS entered,
        sum(CASE WHEN has_advanced THEN 1 ELSE 0 END)   AS advanced,
        avg(days_in_stage)                              AS avg_days_in_stage,
        median(days_in_stage)                           AS median_days_in_stage
    FROM stage_facts
    GROUP BY stage
),

channel_stage_metrics AS (
    SELECT
        stage,
        channel,
        count(*)                                        AS entered,
        sum(CASE WHEN has_advanced THEN 1 ELSE 0 END)   AS advanced,
        avg(days_in_stage)                              AS avg_days_in_stage,
        median(days_in_stage)                           AS median_days_in_stage
    FROM stage_facts
    WHERE {{ var('stage_metrics_by_channel') }}
    GROUP BY stage, channel
),

stage_channels AS (
    SELECT DISTINCT channel FROM channel_stage_metrics
),

stage_rows AS (
    SELECT
        stage_spine.stage,
        stage_spine.stage_order,
        arrow_cast(NULL, 'Utf8')                        AS channel,
        coalesce(metrics.entered, 0)                    AS entered,
        coalesce(metrics.advanced, 0)                   AS advanced,
        metrics.avg_days_in_stage,
        metrics.median_days_in_stage
    FROM stage_spine
    LEFT JOIN overall_stage_metrics AS metrics
        ON metrics.stage = stage_spine.stage
    UNION ALL
    SELECT
        stage_spine.stage,
        stage_spine.stage_order,
        stage_channels.channel,
        coalesce(metrics.entered, 0)                    AS entered,
        coalesce(metrics.advanced, 0)                   AS advanced,
        metrics.avg_days_in_stage,
        metrics.median_days_in_stage
    FROM stage_spine
    CROSS JOIN stage_channels
    LEFT JOIN channel_stage_metrics AS metrics
        ON metrics.stage = stage_spine.stage
       AND metrics.channel = stage_channels.channel
),

closed_opportunities AS (
    SELECT
        is_closed_as_of,
        is_won_as_of,
        CASE WHEN is_won_as_of THEN CAST(close_date - CAST(created_at AS DATE) AS DOUBLE) END
            AS sales_cycle_days
    FROM int_opportunities
),

all_row AS (
    SELECT
        sum(CASE WHEN is_closed_as_of THEN 1 ELSE 0 END)    AS closed,
        sum(CASE WHEN is_won_as_of THEN 1 ELSE 0 END)       AS won,
        avg(sales_cycle_days)                               AS avg_sales_cycle_days,
        median(sales_cycle_days)                            AS median_sales_cycle_days
    FROM closed_opportunities
),

metric_rows AS (
    SELECT
        stage,
        stage_order,
        channel,
        entered,
        advanced,
        CAST(advanced AS DOUBLE) / NULLIF(entered, 0)   AS conversion_rate,
        avg_days_in_stage,
        median_days_in_stage,
        CAST(NULL AS BIGINT)                            AS closed,
        CAST(NULL AS BIGINT)                            AS won,
        CAST(NULL AS DOUBLE)                            AS win_rate,
        CAST(NULL AS DOUBLE)                            AS avg_sales_cycle_days,
        CAST(NULL AS DOUBLE)                            AS median_sales_cycle_days
    FROM stage_rows
    UNION ALL
    SELECT
        'ALL'                                           AS stage,
        CAST(NULL AS BIGINT)                            AS stage_order,
        arrow_cast(NULL, 'Utf8')                        AS channel,
        CAST(NULL AS BIGINT)                            AS entered,
        CAST(NULL AS BIGINT)                            AS advanced,
        CAST(NULL AS DOUBLE)                            AS conversion_rate,
        CAST(NULL AS DOUBLE)                            AS avg_days_in_stage,
        CAST(NULL AS DOUBLE)                            AS median_days_in_stage,
        coalesce(closed, 0)                             AS closed,
        coalesce(won, 0)                                AS won,
        CAST(won AS DOUBLE) / NULLIF(closed, 0)         AS win_rate,
        avg_sales_cycle_days,
        median_sales_cycle_days
    FROM all_row
)

SELECT
    stage,
    channel,
    entered,
    advanced,
    conversion_rate,
    avg_days_in_stage,
    median_days_in_stage,
    closed,
    won,
    win_rate,
    avg_sales_cycle_days,
    median_sales_cycle_days
FROM metric_rows
ORDER BY
    CASE WHEN stage_order IS NULL THEN 2 WHEN channel IS NULL THEN 0 ELSE 1 END,
    stage_order,
    channel
