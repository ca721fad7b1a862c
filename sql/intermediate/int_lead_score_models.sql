-- int_lead_score_models
-- Grain: one row per lead-scoring model of this run (model_scope 'production' / 'holdout', see
-- int_lead_score_fits), with the base-rate correction that the scoring models apply.
-- Why: conversion rates drift (the funnel improves, the channel mix moves). The regression learns the
-- relative effects of the features from all labelled history, but its intercept is the average base
-- rate of that whole history, which under-predicts today's leads. So the base rate is re-anchored to
-- the most recent labelled leads: base_rate_offset is the log-odds shift that makes the model's mean
-- predicted probability equal the observed conversion rate of the leads created in the last
-- var score_recent_days days of the model's own training window (for 'production': of outcome-complete
-- history; for 'holdout': before the holdout, so the evaluation stays honest). Found by Newton's method
-- on that one parameter (four steps from 0, ample for a one-dimensional convex problem). 0 when the
-- recent window has no leads or only one class.
-- A lead's calibrated probability = sigmoid(logit(logistic_score(model, features)) + base_rate_offset).
-- Rankings and reasons do not change (the shift is the same for every lead).
WITH recent_scores AS (
    SELECT
        'production'                                                                    AS model_scope,
        logistic_score(
            (SELECT model FROM int_lead_score_fits WHERE model_scope = 'production'), features
        )                                                                               AS predicted,
        CASE WHEN outcome THEN 1.0 ELSE 0.0 END                                         AS actual
    FROM int_lead_features
    WHERE outcome_known
      AND created_date + CAST(({{ var('outcome_window_days') }} + {{ var('score_recent_days') }}) || ' days' AS INTERVAL)
          > {{ run_date }}
    UNION ALL
    SELECT
        'holdout'                                                                       AS model_scope,
        logistic_score(
            (SELECT model FROM int_lead_score_fits WHERE model_scope = 'holdout'), features
        )                                                                               AS predicted,
        CASE WHEN outcome THEN 1.0 ELSE 0.0 END                                         AS actual
    FROM int_lead_features
    WHERE sample = 'train'
      AND created_date + CAST(({{ var('outcome_window_days') }} + {{ var('holdout_days') }}
                               + {{ var('score_recent_days') }}) || ' days' AS INTERVAL)
          > {{ run_date }}
),

recent_logits AS (
    SELECT
        model_scope,
        ln(greatest(predicted, 1e-12)) - ln(greatest(1.0 - predicted, 1e-12))  AS logit,
        actual
    FROM recent_scores
),

-- Newton steps: offset += (observed - expected) / sum p(1 - p), p = sigmoid(logit + offset)
step_1 AS (
    SELECT
        model_scope,
        count(*)        AS recent_rows,
        sum(actual)     AS recent_positives,
        sum(actual - 1.0 / (1.0 + exp(-logit)))
            / sum((1.0 / (1.0 + exp(-logit))) * (1.0 - 1.0 / (1.0 + exp(-logit))))  AS offset_1
    FROM recent_logits
    GROUP BY model_scope
),

step_2 AS (
    SELECT
        step_1.model_scope,
        step_1.offset_1 + sum(l.actual - 1.0 / (1.0 + exp(-(l.logit + step_1.offset_1))))
            / sum((1.0 / (1.0 + exp(-(l.logit + step_1.offset_1))))
                  * (1.0 - 1.0 / (1.0 + exp(-(l.logit + step_1.offset_1)))))        AS offset_2
    FROM recent_logits AS l
    JOIN step_1
        ON step_1.model_scope = l.model_scope
    WHERE step_1.recent_positives > 0
      AND step_1.recent_positives < step_1.recent_rows
    GROUP BY step_1.model_scope, step_1.offset_1
),

step_3 AS (
    SELECT
        step_2.model_scope,
        step_2.offset_2 + sum(l.actual - 1.0 / (1.0 + exp(-(l.logit + step_2.offset_2))))
            / sum((1.0 / (1.0 + exp(-(l.logit + step_2.offset_2))))
                  * (1.0 - 1.0 / (1.0 + exp(-(l.logit + step_2.offset_2)))))        AS offset_3
    FROM recent_logits AS l
    JOIN step_2
        ON step_2.model_scope = l.model_scope
    GROUP BY step_2.model_scope, step_2.offset_2
),

step_4 AS (
    SELECT
        step_3.model_scope,
        step_3.offset_3 + sum(l.actual - 1.0 / (1.0 + exp(-(l.logit + step_3.offset_3))))
            / sum((1.0 / (1.0 + exp(-(l.logit + step_3.offset_3))))
                  * (1.0 - 1.0 / (1.0 + exp(-(l.logit + step_3.offset_3)))))        AS offset_4
    FROM recent_logits AS l
    JOIN step_3
        ON step_3.model_scope = l.model_scope
    GROUP BY step_3.model_scope, step_3.offset_3
)

SELECT
    fits.model_scope,
    fits.model,
    fits.model_version,
    fits.train_rows,
    fits.train_positives,
    coalesce(step_1.recent_rows, 0)         AS recent_rows,
    coalesce(step_1.recent_positives, 0)    AS recent_positives,
    -- rounded so that the last-bit noise of parallel sums cannot change a score between two runs
    round(coalesce(step_4.offset_4, 0.0), 9) AS base_rate_offset
FROM int_lead_score_fits AS fits
LEFT JOIN step_1
    ON step_1.model_scope = fits.model_scope
LEFT JOIN step_4
    ON step_4.model_scope = fits.model_scope
