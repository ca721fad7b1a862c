-- int_lead_score_fits
-- Grain: one row per lead-scoring model fitted in this run (METRICS.md lead_scores; hypotheses 1 and 3
-- of seeds/000: rank leads from the history of what converted, relearned on every run):
--   model_scope = 'production': fitted on every lead whose outcome is known (int_lead_features
--                 outcome_known); it scores lead_scores
--   model_scope = 'holdout':    fitted on the outcome-known leads created before the holdout
--                 (sample = 'train'); it scores the holdout leads for lead_score_evaluation
-- model is logistic_fit's JSON: an L2-regularised logistic regression on the one-hot feature tokens
-- (ridge strength var score_l2 on the weights, intercept free; tokens seen in fewer than 5 labelled
-- rows get no weight), deterministic: the same rows give the same model. Each weight is the token's
-- exact contribution to a lead's log-odds, which is what makes the reasons text exact.
-- model_version is the model's "version" ('lr-' + a hash of the coefficients), read with a regular
-- expression (the engine has no JSON functions). Without labelled history both rows still exist (the
-- smoothed base rate, no weights). int_lead_score_models adds each model's calibration map.
WITH fits AS (
    -- each fitted by a model of its own (see int_lead_score_fit_production)
    SELECT model_scope, model, train_rows, train_positives FROM int_lead_score_fit_production
    UNION ALL
    SELECT model_scope, model, train_rows, train_positives FROM int_lead_score_fit_holdout
)

SELECT
    model_scope,
    model,
    regexp_match(model, '"version"\s*:\s*"([^"]+)"')[1]         AS model_version,
    train_rows,
    train_positives
FROM fits
