-- int_stage_outlook
-- Grain: one row per open stage of var stages (stage_order 1..n): what history says about an open
-- opportunity of the types in var hot_list_opportunity_types (default New Business) that is in this
-- stage today. Used by hot_list (hypothesis 2 of seeds/000).
--   closed / won:   opportunities of those types closed as of run_date that entered the stage at any
--                   time (int_opportunity_stage_entries: first entries as of run_date), and of those
--                   the won ones
--   win_rate:       won / closed: the stage-conditional win rate. A stage no closed opportunity ever
--                   entered falls back to the win rate of all closed opportunities of those types.
--   remaining_days: the sum of median_days_in_stage (funnel_stage_metrics, all channels) of this stage
--                   and every later open stage: the typical time to close from the start of this stage
--                   (stages without a median count 0)
--   remaining_share: the share of an opportunity's AE work still ahead in this stage, read as equal
--                   work per stage: (n - stage_order + 1) / n
WITH stage_spine AS (
    SELECT
        stage,
        CAST(array_position({{ var('stages') }}, stage) AS BIGINT) AS stage_order,
        CAST(array_length({{ var('stages') }}) AS BIGINT)          AS stage_count
    FROM (SELECT unnest({{ var('stages') }}) AS stage) AS stages
),

closed_opportunities AS (
    SELECT opportunity_id, is_won_as_of
    FROM int_opportunities
    WHERE is_closed_as_of
      AND opportunity_type IN ({{ var_list('hot_list_opportunity_types') }})
),

stage_history AS (
    SELECT
        entries.stage_name                                  AS stage,
        count(*)                                            AS closed,
        sum(CASE WHEN closed.is_won_as_of THEN 1 ELSE 0 END) AS won
    FROM int_opportunity_stage_entries AS entries
    JOIN closed_opportunities AS closed
        ON closed.opportunity_id = entries.opportunity_id
    GROUP BY entries.stage_name
),

overall AS (
    SELECT CAST(sum(CASE WHEN is_won_as_of THEN 1 ELSE 0 END) AS DOUBLE) / NULLIF(count(*), 0) AS win_rate
    FROM closed_opportunities
),

stage_medians AS (
    SELECT stage_spine.stage_order, coalesce(metrics.median_days_in_stage, 0) AS median_days
    FROM stage_spine
    LEFT JOIN funnel_stage_metrics AS metrics
        ON metrics.stage = stage_spine.stage
       AND metrics.channel IS NULL
),

remaining AS (
    SELECT
        stage_spine.stage,
        sum(stage_medians.median_days) AS remaining_days
    FROM stage_spine
    JOIN stage_medians
        ON stage_medians.stage_order >= stage_spine.stage_order
    GROUP BY stage_spine.stage
)

SELECT
    stage_spine.stage,
    stage_spine.stage_order,
    coalesce(stage_history.closed, 0)                                       AS closed,
    coalesce(stage_history.won, 0)                                          AS won,
    coalesce(CAST(stage_history.won AS DOUBLE) / NULLIF(stage_history.closed, 0), overall.win_rate)
                                                                            AS win_rate,
    remaining.remaining_days,
    CAST(stage_spine.stage_count - stage_spine.stage_order + 1 AS DOUBLE) / stage_spine.stage_count
                                                                            AS remaining_share
FROM stage_spine
CROSS JOIN overall
LEFT JOIN stage_history
    ON stage_history.stage = stage_spine.stage
LEFT JOIN remaining
    ON remaining.stage = stage_spine.stage
ORDER BY stage_spine.stage_order
