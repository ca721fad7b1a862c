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
)

SELECT
    lead_id,
    created_date,
    predicted,
    actual,
    ntile(10) OVER (ORDER BY predicted, lead_id)                        AS decile,
    ntile(10) OVER (ORDER BY predicted DESC, lead_id) = 1               AS is_top_decile,
    CAST(rank() OVER (ORDER BY predicted) AS DOUBLE)
        + (CAST(count(*) OVER (PARTITION BY predicted) AS DOUBLE) - 1) / 2.0  AS avg_rank
FROM scored
