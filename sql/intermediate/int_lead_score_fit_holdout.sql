-- int_lead_score_fit_holdout
-- Grain: one row, the 'holdout' lead-scoring model: logistic_fit on the outcome-known leads created
-- before the holdout (int_lead_features sample = 'train'); it scores the holdout leads for
-- lead_score_evaluation. int_lead_score_fits describes the model and adds its version; why this is
-- a model of its own: int_lead_score_fit_production.
SELECT
    'holdout'                                               AS model_scope,
    logistic_fit(features, outcome, {{ var('score_l2') }})  AS model,
    count(*)                                                AS train_rows,
    coalesce(sum(CASE WHEN outcome THEN 1 ELSE 0 END), 0)   AS train_positives
FROM int_lead_features
WHERE outcome_known AND sample = 'train'
