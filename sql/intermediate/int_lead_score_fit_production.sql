-- int_lead_score_fit_production
-- Grain: one row, the 'production' lead-scoring model: logistic_fit on every lead whose outcome is
-- known (int_lead_features outcome_known); it scores lead_scores. int_lead_score_fits describes the
-- model (the fit, its options and what it is for) and adds its version.
-- A model of its own, apart from int_lead_score_fit_holdout: each fit holds one entry per distinct
-- feature set of its training rows (5.7M at 10M leads, about 1 GB), and two fits in one query
-- held both at once.
SELECT
    'production'                                            AS model_scope,
    logistic_fit(features, outcome, {{ var('score_l2') }})  AS model,
    count(*)                                                AS train_rows,
    coalesce(sum(CASE WHEN outcome THEN 1 ELSE 0 END), 0)   AS train_positives
FROM int_lead_features
WHERE outcome_known
