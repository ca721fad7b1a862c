-- int_lead_score_models
-- Grain: one row per lead-scoring model of this run (model_scope 'production' / 'holdout', see
-- int_lead_score_fits), with the calibration map that turns its probabilities into calibrated ones.
-- Why: the regression is calibrated on its training rows overall and per feature, but not per score
-- band on newer leads. Two things bend it there (measured on `beacon sample-data --leads 200000`):
--   * conversion is a funnel of several steps (MQL, SQL, opportunity, win), so the true log-odds are
--     steeper for weak leads than for strong ones; a linear score over-predicts the weakest and the very
--     strongest leads and under-predicts the upper middle (deciles 8-9 by 1-2 points);
--   * conversion rates drift (the funnel improves, the channel mix moves); the leads being scored are
--     newer than the history, so a model anchored on history under-predicts them.
-- So each model gets a calibration map (calibration_fit: beta calibration with a linear time trend,
--   calibrated = sigmoid(a + b ln p - c ln(1 - p) + d t), b, c >= 0 so rankings are kept, shrunk towards
--   the identity by var score_calibration_l2), fitted on the calibration window: the labelled leads of the
--   model's own training rows created in the last var score_recent_days days of its training window
--   ('production': of outcome-complete history; 'holdout': before the holdout, so the evaluation never
--   sees the holdout). p is the model's own probability (logistic_score) of those leads.
--   t = trend_origin_years - years_before_run: years after the end of the training window (negative
--   inside it). trend_origin_years is var outcome_window_days (+ var holdout_days for 'holdout') in
--   years. Undated leads have t = 0.
-- With var holdout_split = 'hash' (data without dates), the holdout is not later than the training
-- rows, so there is no trend to extrapolate: the window is all of the model's training rows, t = 0
-- (trend_origin_years NULL) and d = 0.
-- A lead's calibrated probability = calibrate(calibration, logistic_score(model, features),
--   coalesce(trend_origin_years - years_before_run, 0)).
WITH settings AS (
    SELECT
        'production'                                                        AS model_scope,
        CASE WHEN {{ var('holdout_split') }} = 'hash' THEN NULL
             ELSE CAST({{ var('outcome_window_days') }} AS DOUBLE) / 365.25 END  AS trend_origin_years
    UNION ALL
    SELECT
        'holdout'                                                           AS model_scope,
        CASE WHEN {{ var('holdout_split') }} = 'hash' THEN NULL
             ELSE CAST({{ var('outcome_window_days') }} + {{ var('holdout_days') }} AS DOUBLE) / 365.25
        END                                                                 AS trend_origin_years
),

window_scores AS (
    SELECT
        'production'                                                        AS model_scope,
        logistic_score(
            (SELECT model FROM int_lead_score_fits WHERE model_scope = 'production'), features
        )                                                                   AS predicted,
        outcome,
        years_before_run
    FROM int_lead_features
    WHERE outcome_known
      AND ({{ var('holdout_split') }} = 'hash'
           OR created_date IS NULL
           OR created_date + CAST(({{ var('outcome_window_days') }} + {{ var('score_recent_days') }}) || ' days' AS INTERVAL)
              > {{ run_date }})
    UNION ALL
    SELECT
        'holdout'                                                           AS model_scope,
        logistic_score(
            (SELECT model FROM int_lead_score_fits WHERE model_scope = 'holdout'), features
        )                                                                   AS predicted,
        outcome,
        years_before_run
    FROM int_lead_features
    WHERE sample = 'train'
      AND ({{ var('holdout_split') }} = 'hash'
           OR created_date IS NULL
           OR created_date + CAST(({{ var('outcome_window_days') }} + {{ var('holdout_days') }}
                                   + {{ var('score_recent_days') }}) || ' days' AS INTERVAL)
              > {{ run_date }})
),

calibrations AS (
    SELECT
        window_scores.model_scope,
        count(*)                                                            AS calibration_rows,
        coalesce(sum(CASE WHEN outcome THEN 1 ELSE 0 END), 0)              AS calibration_positives,
        calibration_fit(
            predicted,
            outcome,
            coalesce(settings.trend_origin_years - years_before_run, 0.0),
            {{ var('score_calibration_l2') }}
        )                                                                   AS calibration
    FROM window_scores
    JOIN settings
        ON settings.model_scope = window_scores.model_scope
    GROUP BY window_scores.model_scope
)

SELECT
    fits.model_scope,
    fits.model,
    fits.model_version,
    fits.train_rows,
    fits.train_positives,
    coalesce(calibrations.calibration_rows, 0)                  AS calibration_rows,
    coalesce(calibrations.calibration_positives, 0)             AS calibration_positives,
    -- no calibration window (no labelled leads yet): the identity map
    coalesce(calibrations.calibration, '{"a":0.0,"b":1.0,"c":1.0,"d":0.0}') AS calibration,
    settings.trend_origin_years
FROM int_lead_score_fits AS fits
JOIN settings
    ON settings.model_scope = fits.model_scope
LEFT JOIN calibrations
    ON calibrations.model_scope = fits.model_scope
