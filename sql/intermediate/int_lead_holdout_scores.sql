-- int_lead_holdout_scores
-- Grain: one row per holdout lead (int_lead_features sample = 'holdout': outcome known, created in the
-- last var holdout_days days of outcome-complete history, or the hash part with var holdout_split =
-- 'hash'), scored by the 'holdout' model, which never saw these leads nor anything created after its
-- training window.
--   predicted   the holdout model's calibrated conversion probability (its calibration map applied,
--               int_lead_score_models)
--   actual      1 when the lead converted to a won opportunity within var outcome_window_days, else 0
--   decile      1 (lowest predicted) .. 10 (highest), equal-count groups by predicted probability,
--               ties broken by lead_id so that the split is reproducible
--   is_top_decile  among the 10% with the highest predicted probability (ntile 10 from the top, ties by
--               lead_id): the top decile of the lift, also with fewer than 10 holdout leads
--   avg_rank    rank of predicted among the holdout leads (1 = lowest), ties given their average rank
--               (for the Mann-Whitney AUC)
WITH holdout_model AS (
    SELECT model, calibration, trend_origin_years
    FROM int_lead_score_models
    WHERE model_scope = 'holdout'
),

scored AS (
    SELECT
        lead_id,
        created_date,
        calibrate(
            (SELECT calibration FROM holdout_model),
            logistic_score((SELECT model FROM holdout_model), features),
            coalesce((SELECT trend_origin_years FROM holdout_model) - years_before_run, 0.0)
        )                                                               AS predicted,
        CASE WHEN outcome THEN 1 ELSE 0 END                             AS actual
    FROM int_lead_features
    WHERE sample = 'holdout'
),

ranked AS (
    -- streaming windows only (row_number, rank and a running count over one sorted pass each): an
    -- ntile() or a count(*) OVER (PARTITION BY ...) gathers the whole holdout into one batch, which a
    -- sort then cannot spill (at 10M leads it asked a 2 GiB pool for 10.7 GB at once)
    SELECT
        lead_id,
        created_date,
        predicted,
        actual,
        row_number() OVER (ORDER BY predicted, lead_id) - 1             AS position,
        row_number() OVER (ORDER BY predicted DESC, lead_id)            AS position_from_top,
        rank() OVER (ORDER BY predicted)                                AS first_rank,
        count(*) OVER (ORDER BY predicted
                       RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS last_rank
    FROM scored
),

holdout_size AS (
    -- ntile(10) over n rows: the first n % 10 deciles hold n / 10 + 1 rows, the others n / 10
    SELECT
        count(*) / 10                   AS base,
        count(*) % 10                   AS remainder,
        (count(*) % 10) * (count(*) / 10 + 1) AS large_rows
    FROM int_lead_features
    WHERE sample = 'holdout'
)

SELECT
    lead_id,
    created_date,
    predicted,
    actual,
    arrow_cast(CASE
        WHEN position < holdout_size.large_rows THEN position / (holdout_size.base + 1) + 1
        ELSE holdout_size.remainder + (position - holdout_size.large_rows) / NULLIF(holdout_size.base, 0) + 1
    END, 'UInt64')                                                      AS decile,
    -- ntile(10) from the top = 1: the first decile's rows, n / 10 rounded up
    position_from_top <= holdout_size.base + CASE WHEN holdout_size.remainder > 0 THEN 1 ELSE 0 END
                                                                        AS is_top_decile,
    -- ties share the average of the ranks they span: (first + last) / 2
    (CAST(first_rank AS DOUBLE) + CAST(last_rank AS DOUBLE)) / 2.0      AS avg_rank
FROM ranked
CROSS JOIN holdout_size
