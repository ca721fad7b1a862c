-- lead_score_evaluation
-- Grain: one row per run: how well lead scoring ranks and predicts on a time-based holdout
-- (METRICS.md lead_scores). Published with lead_scores so that a drop in quality is visible.
-- Readings:
--   * outcome-complete history = leads created on or before run_date - var outcome_window_days; the
--     holdout (test) = the last var holdout_days days of it (holdout_start_date .. holdout_end_date); the
--     'holdout' model is trained on the outcome-known leads created before (int_lead_features.sample,
--     int_lead_score_models). With var holdout_split = 'hash' (data without dates) the holdout is the
--     hash part of the key instead (var holdout_share) and the two dates are NULL.
--   * auc: Mann-Whitney, (sum of the positives' ranks - P(P + 1)/2) / (P x N), ranks ascending by
--     predicted probability with ties given their average rank; NULL without both classes
--   * top_decile_lift: conversion rate of the 10% of test leads with the highest predicted probability
--     (ntile 10, ties by lead_id) / the test conversion rate
--   * brier: mean of (predicted - actual)^2
--   * averages of floating-point values are rounded to 10 decimals (same inputs, same published bits)
--   * max_decile_calibration_error: the largest |mean predicted - observed rate| over the deciles of
--     lead_score_calibration; is_calibrated: it is within var calibration_tolerance.
--     max_decile_calibration_z: the same error in standard errors of a decile's observed rate
--     (sqrt(p(1 - p)/n)): on a small holdout (a few hundred leads, ~60 per decile) a decile's observed
--     rate alone moves by several points, so a miss of the bound with z below 2 is sampling noise
--   * calibration / holdout_calibration: the calibration map of each model (int_lead_score_models,
--     JSON: a, b, c, d of sigmoid(a + b ln p - c ln(1 - p) + d t), and the rows it was fitted on)
--   * model_version: the production model that scored lead_scores in this run (join key);
--     holdout_model_version: the model evaluated here
WITH holdout AS (
    SELECT * FROM int_lead_holdout_scores
),

totals AS (
    SELECT
        count(*)                                                AS test_rows,
        coalesce(sum(actual), 0)                                AS test_positives,
        avg(CAST(actual AS DOUBLE))                             AS test_rate,
        sum(CASE WHEN actual = 1 THEN avg_rank END)             AS positive_rank_sum,
        round(avg((predicted - actual) * (predicted - actual)), 10) AS brier,
        round(avg(predicted), 10)                               AS mean_predicted,
        min(created_date)                                       AS holdout_first_date,
        max(created_date)                                       AS holdout_last_date
    FROM holdout
),

top_decile AS (
    SELECT avg(CAST(actual AS DOUBLE)) AS top_decile_rate
    FROM holdout
    WHERE is_top_decile
),

calibration AS (
    SELECT
        max(abs(mean_predicted - observed_rate))    AS max_decile_calibration_error,
        max(abs(mean_predicted - observed_rate)
            / NULLIF(sqrt(mean_predicted * (1.0 - mean_predicted) / leads), 0))
                                                    AS max_decile_calibration_z
    FROM (
        SELECT
            decile,
            count(*)                        AS leads,
            round(avg(predicted), 10)                   AS mean_predicted,
            round(avg(CAST(actual AS DOUBLE)), 10)      AS observed_rate
        FROM holdout
        GROUP BY decile
    ) AS deciles
),

models AS (
    SELECT
        max(CASE WHEN model_scope = 'production' THEN model_version END)    AS model_version,
        max(CASE WHEN model_scope = 'holdout' THEN model_version END)       AS holdout_model_version,
        max(CASE WHEN model_scope = 'production' THEN train_rows END)       AS production_train_rows,
        max(CASE WHEN model_scope = 'holdout' THEN train_rows END)          AS train_rows,
        max(CASE WHEN model_scope = 'holdout' THEN train_positives END)     AS train_positives,
        max(CASE WHEN model_scope = 'holdout' THEN calibration END)         AS holdout_calibration,
        max(CASE WHEN model_scope = 'production' THEN calibration END)      AS calibration
    FROM int_lead_score_models
)

SELECT
    models.model_version,
    models.holdout_model_version,
    CASE WHEN {{ var('holdout_split') }} = 'time' THEN
        CAST({{ run_date }} - CAST(({{ var('outcome_window_days') }} + {{ var('holdout_days') }}) || ' days' AS INTERVAL) AS DATE)
        + INTERVAL '1 day' END                                      AS holdout_start_date,
    CASE WHEN {{ var('holdout_split') }} = 'time' THEN
        CAST({{ run_date }} - CAST({{ var('outcome_window_days') }} || ' days' AS INTERVAL) AS DATE) END
                                                                    AS holdout_end_date,
    {{ var('holdout_split') }}                                      AS holdout_split,
    models.train_rows,
    models.train_positives,
    totals.test_rows,
    totals.test_positives,
    models.production_train_rows,
    (totals.positive_rank_sum
        - CAST(totals.test_positives AS DOUBLE) * (totals.test_positives + 1) / 2.0)
        / NULLIF(CAST(totals.test_positives AS DOUBLE) * (totals.test_rows - totals.test_positives), 0)
                                                                    AS auc,
    top_decile.top_decile_rate / NULLIF(totals.test_rate, 0)        AS top_decile_lift,
    totals.brier,
    totals.test_rate                                                AS test_conversion_rate,
    totals.mean_predicted                                           AS test_mean_predicted,
    calibration.max_decile_calibration_error,
    calibration.max_decile_calibration_error <= {{ var('calibration_tolerance') }} AS is_calibrated,
    calibration.max_decile_calibration_z,
    models.calibration,
    models.holdout_calibration
FROM totals
CROSS JOIN top_decile
CROSS JOIN calibration
CROSS JOIN models
