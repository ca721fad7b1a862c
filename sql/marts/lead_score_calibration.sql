-- lead_score_calibration
-- Grain: one row per decile of predicted conversion probability on this run's time-based holdout
-- (int_lead_holdout_scores: the last var holdout_days days of outcome-complete history, scored by a
-- model trained only on the leads created before them). decile 1 = lowest predicted, 10 = highest.
-- METRICS.md lead_scores: calibrated means that in each decile the mean predicted probability is
-- within var calibration_tolerance (5 points) of the observed conversion rate.
--   calibration_error = |mean_predicted - observed_rate|; is_within_tolerance compares it to the var.
--   observed_rate_standard_error = sqrt(mean_predicted (1 - mean_predicted) / leads): how far the
--   observed rate of a decile this size moves by chance alone if the predictions are right.
-- Averages are rounded to 10 decimals, so that two runs on the same inputs publish the same bits.
WITH deciles AS (
    SELECT
        decile,
        count(*)                                    AS leads,
        sum(actual)                                 AS conversions,
        min(predicted)                              AS min_predicted,
        max(predicted)                              AS max_predicted,
        round(avg(predicted), 10)                   AS mean_predicted,
        round(avg(CAST(actual AS DOUBLE)), 10)      AS observed_rate
    FROM int_lead_holdout_scores
    GROUP BY decile
)

SELECT
    decile,
    leads,
    conversions,
    min_predicted,
    max_predicted,
    mean_predicted,
    observed_rate,
    abs(mean_predicted - observed_rate)                                     AS calibration_error,
    abs(mean_predicted - observed_rate) <= {{ var('calibration_tolerance') }} AS is_within_tolerance,
    sqrt(mean_predicted * (1.0 - mean_predicted) / leads)                   AS observed_rate_standard_error
FROM deciles
ORDER BY decile
